//! Mutations: the signed-in caller acts; the service authorizes and validates.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};
use chrono::{DateTime, Utc};
use kit::Caller;

use super::objects::{Board, Task};
use super::service;
use crate::model::{TaskPriority, TaskStatus};
use crate::service::{NewTask, TaskChanges};

#[derive(InputObject)]
pub struct CreateBoardInput {
    /// 1 to 100 characters after trimming.
    name: String,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateBoardInput {
    name: Option<String>,
    /// Null or blank clears it; absent keeps it.
    description: MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    board_id: ID,
    /// 1 to 200 characters after trimming.
    title: String,
    /// At most 10,000 characters.
    description: Option<String>,
    #[graphql(default_with = "Some(TaskStatus::Todo)")]
    status: Option<TaskStatus>,
    #[graphql(default_with = "Some(TaskPriority::Medium)")]
    priority: Option<TaskPriority>,
    /// Must be a member of the board.
    assignee_id: Option<ID>,
    /// At most 20 labels of 1 to 40 characters; duplicates are dropped.
    labels: Option<Vec<String>>,
    due_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct UpdateTaskInput {
    title: Option<String>,
    /// Null or blank clears it; absent keeps it.
    description: MaybeUndefined<String>,
    priority: Option<TaskPriority>,
    labels: Option<Vec<String>>,
    /// Null clears it; absent keeps it.
    due_at: MaybeUndefined<DateTime<Utc>>,
}

/// Absent = keep (`None`), null = clear (`Some(None)`).
fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    #[graphql(requires_scopes = "boards:write")]
    async fn create_board(
        &self,
        ctx: &Context<'_>,
        input: CreateBoardInput,
    ) -> async_graphql::Result<Board> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let board = service(ctx)
            .create_board(actor, &input.name, input.description.as_deref())
            .await?;
        Ok(Board(board))
    }

    #[graphql(requires_scopes = "boards:write")]
    async fn update_board(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateBoardInput,
    ) -> async_graphql::Result<Board> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let description = change(input.description);
        let description = description.as_ref().map(|d| d.as_deref());
        let board = service(ctx)
            .update_board(actor, &id, input.name.as_deref(), description)
            .await?;
        Ok(Board(board))
    }

    /// Deletes the board and all its tasks (owner only).
    #[graphql(requires_scopes = "boards:write")]
    async fn delete_board(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        Ok(service(ctx).delete_board(actor, &id).await?)
    }

    #[graphql(requires_scopes = "boards:write")]
    async fn add_board_member(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Board> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let board = service(ctx).add_member(actor, &board_id, &user_id).await?;
        Ok(Board(board))
    }

    /// Removes a member (not the owner) and unassigns their tasks on this board.
    #[graphql(requires_scopes = "boards:write")]
    async fn remove_board_member(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Board> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let board = service(ctx)
            .remove_member(actor, &board_id, &user_id)
            .await?;
        Ok(Board(board))
    }

    #[graphql(requires_scopes = "boards:write")]
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> async_graphql::Result<Task> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let input = NewTask {
            board_id: input.board_id.0,
            title: input.title,
            description: input.description,
            status: input.status.unwrap_or(TaskStatus::Todo),
            priority: input.priority.unwrap_or(TaskPriority::Medium),
            assignee_id: input.assignee_id.map(|id| id.0),
            labels: input.labels.unwrap_or_default(),
            due_at: input.due_at.map(|at| at.timestamp_millis()),
        };
        Ok(Task::new(
            service(ctx).create_task(actor, input).await?,
            None,
        ))
    }

    #[graphql(requires_scopes = "boards:write")]
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
    ) -> async_graphql::Result<Task> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let changes = TaskChanges {
            title: input.title,
            description: change(input.description),
            priority: input.priority,
            labels: input.labels,
            due_at: change(input.due_at).map(|d| d.map(|at| at.timestamp_millis())),
        };
        Ok(Task::new(
            service(ctx).update_task(actor, &id, changes).await?,
            None,
        ))
    }

    /// Moves a task to a status column, before the task `beforeTaskId` (or last when null).
    #[graphql(requires_scopes = "boards:write")]
    async fn move_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: TaskStatus,
        before_task_id: Option<ID>,
    ) -> async_graphql::Result<Task> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let before = before_task_id.as_ref().map(|id| id.as_str());
        Ok(Task::new(
            service(ctx).move_task(actor, &id, status, before).await?,
            None,
        ))
    }

    /// Null userId unassigns.
    #[graphql(requires_scopes = "boards:write")]
    async fn assign_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        user_id: Option<ID>,
    ) -> async_graphql::Result<Task> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        let user = user_id.as_ref().map(|id| id.as_str());
        Ok(Task::new(
            service(ctx).assign_task(actor, &id, user).await?,
            None,
        ))
    }

    #[graphql(requires_scopes = "boards:write")]
    async fn delete_task(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let caller = Caller::of(ctx);
        let actor = caller.require_user()?;
        Ok(service(ctx).delete_task(actor, &id).await?)
    }
}
