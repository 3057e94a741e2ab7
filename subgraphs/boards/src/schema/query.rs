//! Queries and the federation entity resolvers.

use async_graphql::{Context, Object, ID};
use kit::federation::authenticated;
use kit::{ApiError, Caller};

use super::objects::{Board, Task, User};
use super::{board_loader, service, task_loader};
use crate::model::BoardDoc;
use crate::service::authorize_member;
use crate::validate;

pub struct Query;

/// Whether `user` may see an entity of `board`. If not, the entity resolves to null and the
/// `FORBIDDEN` error is added on the side: returning it would null every entity of the batch.
fn visible(ctx: &Context<'_>, board: &BoardDoc, user: &str) -> bool {
    match authorize_member(board, user) {
        Ok(()) => true,
        Err(error) => {
            ctx.add_error(async_graphql::Error::from(error).into_server_error(ctx.item.pos));
            false
        }
    }
}

#[Object]
impl Query {
    /// A board the caller is a member of; null with `FORBIDDEN` for non-members and
    /// `NOT_FOUND` for unknown ids.
    #[graphql(directive = authenticated::apply())]
    async fn board(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Board>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let board = service(ctx).member_board(user, &id).await?;
        Ok(Some(Board(board)))
    }

    /// Boards the signed-in user is a member of.
    #[graphql(directive = authenticated::apply())]
    async fn my_boards(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Board>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let boards = service(ctx).boards_of_member(user).await?;
        Ok(boards.into_iter().map(Board).collect())
    }

    /// A task of a board the caller is a member of (null with the error otherwise).
    #[graphql(directive = authenticated::apply())]
    async fn task(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Task>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let (task, board) = service(ctx).member_task(user, &id).await?;
        Ok(Some(Task::new(task, Some(&board))))
    }

    #[graphql(entity)]
    async fn find_board_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Board>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let Ok(id) = validate::id(&id, "board") else {
            return Ok(None);
        };
        let board = board_loader(ctx)
            .load_one(id)
            .await
            .map_err(|e| ApiError::clone(&e))?;
        let Some(board) = board else {
            return Ok(None);
        };
        Ok(visible(ctx, &board, user).then_some(Board(board)))
    }

    /// Resolving a task needs its board for the membership check: one batched query for the
    /// tasks, one for their boards.
    #[graphql(entity)]
    async fn find_task_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Task>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let Ok(id) = validate::id(&id, "task") else {
            return Ok(None);
        };
        let task = task_loader(ctx)
            .load_one(id)
            .await
            .map_err(|e| ApiError::clone(&e))?;
        let Some(task) = task else {
            return Ok(None);
        };
        let board = board_loader(ctx)
            .load_one(task.board_id.clone())
            .await
            .map_err(|e| ApiError::clone(&e))?;
        let Some(board) = board else {
            return Ok(None);
        };
        Ok(visible(ctx, &board, user).then(|| Task::new(task, Some(&board))))
    }

    /// Users are owned by accounts: a representation is all this subgraph needs.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> User {
        User { id }
    }
}
