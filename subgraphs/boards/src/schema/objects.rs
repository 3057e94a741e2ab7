//! The output types of the API. Boards and tasks are only ever built after the caller was
//! authorized as a member of their board.

use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use kit::federation::list_size;
use kit::{ApiError, Caller};

use super::{board_loader, millis, service};
use crate::events::TaskEventKind;
use crate::model::{BoardDoc, BoardRole, MemberDoc, TaskDoc, TaskPriority, TaskStatus};
use crate::page::{self, Page};

/// A board. Entity owned by this subgraph.
pub struct Board(pub BoardDoc);

// Member-scoped: cached by the router for the asking caller only.
#[Object(cache_control(max_age = 60, private))]
impl Board {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    async fn owner(&self) -> User {
        User::stub(&self.0.owner_id)
    }

    /// In joining order; the owner first.
    async fn members(&self) -> Vec<BoardMember> {
        self.0.members.iter().cloned().map(BoardMember).collect()
    }

    /// Tasks ordered by `position` within each status (columns in `TaskStatus` order);
    /// paginated Relay-style. `first` is capped at 100.
    #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), Some(vec!["edges".into()]), Some(false)))]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        status: Option<TaskStatus>,
        assignee_id: Option<ID>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<TaskConnection> {
        let size = page::page_size(first)?;
        let after = after.as_deref().map(page::decode_board).transpose()?;
        let tasks = service(ctx).board_tasks(&self.0.id).await?;
        let assignee = assignee_id.as_ref().map(|id| id.trim());
        let matching: Vec<TaskDoc> = tasks
            .into_iter()
            .filter(|t| status.is_none_or(|s| t.status == s))
            .filter(|t| assignee.is_none_or(|a| t.assignee_id.as_deref() == Some(a)))
            .collect();
        let page = page::board_page(matching, after.as_ref(), size);
        Ok(TaskConnection::new(page, Some(&self.0)))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        millis(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        millis(self.0.updated_at)
    }
}

pub struct BoardMember(pub MemberDoc);

// Member-scoped: cached by the router for the asking caller only.
#[Object(cache_control(max_age = 60, private))]
impl BoardMember {
    async fn user(&self) -> User {
        User::stub(&self.0.user_id)
    }

    async fn role(&self) -> BoardRole {
        self.0.role
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        millis(self.0.joined_at)
    }
}

/// A task. Entity owned by this subgraph. Carries its board when the caller was authorized
/// against it, so `Task.board` costs no second lookup.
pub struct Task(pub TaskDoc, pub Option<BoardDoc>);

impl Task {
    pub fn new(task: TaskDoc, board: Option<&BoardDoc>) -> Self {
        let board = board.filter(|b| b.id == task.board_id).cloned();
        Self(task, board)
    }
}

// Member-scoped: cached by the router for the asking caller only.
#[Object(cache_control(max_age = 60, private))]
impl Task {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn board(&self, ctx: &Context<'_>) -> async_graphql::Result<Board> {
        if let Some(board) = &self.1 {
            return Ok(Board(board.clone()));
        }
        let board = board_loader(ctx)
            .load_one(self.0.board_id.clone())
            .await
            .map_err(|e| ApiError::clone(&e))?
            .ok_or_else(|| ApiError::not_found("board"))?;
        Ok(Board(board))
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    async fn status(&self) -> TaskStatus {
        self.0.status
    }

    async fn priority(&self) -> TaskPriority {
        self.0.priority
    }

    /// Order within its status column; smaller first.
    async fn position(&self) -> f64 {
        self.0.position
    }

    async fn assignee(&self) -> Option<User> {
        self.0.assignee_id.as_deref().map(User::stub)
    }

    async fn creator(&self) -> User {
        User::stub(&self.0.creator_id)
    }

    #[graphql(directive = list_size::apply(Some(crate::validate::MAX_LABELS as i32), None, None, None))]
    async fn labels(&self) -> &[String] {
        &self.0.labels
    }

    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at.map(millis)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        millis(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        millis(self.0.updated_at)
    }
}

#[derive(SimpleObject)]
pub struct TaskConnection {
    pub edges: Vec<TaskEdge>,
    pub page_info: PageInfo,
    /// Tasks matching the filters, on every page.
    pub total_count: i32,
}

#[derive(SimpleObject)]
pub struct TaskEdge {
    pub cursor: String,
    pub node: Task,
}

#[derive(SimpleObject)]
#[graphql(shareable)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

impl TaskConnection {
    /// The connection of a page whose tasks are all on `board`, when known.
    pub fn new(page: Page, board: Option<&BoardDoc>) -> Self {
        let end_cursor = page.edges.last().map(|(cursor, _)| cursor.clone());
        Self {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, task)| TaskEdge {
                    cursor,
                    node: Task::new(task, board),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor,
            },
            total_count: i32::try_from(page.total_count).unwrap_or(i32::MAX),
        }
    }
}

/// A user: entity owned by the accounts subgraph. This subgraph returns references (just the
/// id) and contributes `boards` and `assignedTasks`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    pub id: ID,
}

impl User {
    pub fn stub(id: &str) -> Self {
        Self {
            id: ID(id.to_owned()),
        }
    }
}

#[ComplexObject]
impl User {
    /// Boards this user is a member of (visible to the user themself only; empty for others).
    async fn boards(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Board>> {
        let caller = Caller::of(ctx);
        if caller.user_id() != Some(self.id.as_str()) {
            return Ok(Vec::new());
        }
        let boards = service(ctx).boards_of_member(&self.id).await?;
        Ok(boards.into_iter().map(Board).collect())
    }

    /// Tasks assigned to this user on boards the caller is a member of, oldest first; empty
    /// for anonymous callers.
    #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), Some(vec!["edges".into()]), Some(false)))]
    async fn assigned_tasks(
        &self,
        ctx: &Context<'_>,
        status: Option<TaskStatus>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<TaskConnection> {
        let size = page::page_size(first)?;
        let caller = Caller::of(ctx);
        let Some(viewer) = caller.user_id() else {
            return Ok(TaskConnection::new(Page::empty(), None));
        };
        let page = service(ctx)
            .assigned_tasks(viewer, &self.id, status, size, after.as_deref())
            .await?;
        Ok(TaskConnection::new(page, None))
    }
}

/// A change to a task of a board, as streamed by `taskChanged`.
#[derive(SimpleObject)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub board_id: ID,
    pub task_id: ID,
    /// Null only for DELETED.
    pub task: Option<Task>,
    pub actor: User,
    pub at: DateTime<Utc>,
}
