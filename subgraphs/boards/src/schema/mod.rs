//! The boards GraphQL API (`contract/boards.graphql`): schema roots, DataLoaders and
//! the helpers resolvers share.

mod mutation;
mod objects;
mod query;
mod subscription;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Schema};
use chrono::{DateTime, Utc};
use kit::ApiError;

use crate::model::{BoardDoc, TaskDoc};
use crate::service::BoardsService;

pub use mutation::Mutation;
pub use objects::{Board, BoardMember, PageInfo, Task, TaskConnection, TaskEdge, TaskEvent, User};
pub use query::Query;
pub use subscription::Subscription;

pub type BoardsSchema = Schema<Query, Mutation, Subscription>;

/// Deepest selection accepted; the UI's deepest query nests about eight levels.
pub const MAX_DEPTH: usize = 16;

/// The schema with its DataLoaders. The loaders do not cache across requests (async-graphql's
/// default `NoCache`); they only batch, so authorization always sees current data.
pub fn build_schema(service: Arc<BoardsService>) -> BoardsSchema {
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        // The contract has `taskChanged`; the router composes subscriptions from this SDL.
        .enable_subscription_in_federation()
        .extension(kit::server::ErrorCodes)
        // `_service { sdl }` links `@listSize` as `schema/*.graphql` does.
        .extension(kit::federation::ServiceSdl)
        // Boards and tasks nest into each other (task.board.tasks...): bound the nesting.
        .limit_depth(MAX_DEPTH)
        .data(DataLoader::new(BoardLoader(service.clone()), tokio::spawn))
        .data(DataLoader::new(TaskLoader(service.clone()), tokio::spawn))
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a Arc<BoardsService> {
    ctx.data_unchecked::<Arc<BoardsService>>()
}

fn board_loader<'a>(ctx: &Context<'a>) -> &'a DataLoader<BoardLoader> {
    ctx.data_unchecked::<DataLoader<BoardLoader>>()
}

fn task_loader<'a>(ctx: &Context<'a>) -> &'a DataLoader<TaskLoader> {
    ctx.data_unchecked::<DataLoader<TaskLoader>>()
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Batches board lookups: N ids in one request become one store query.
pub struct BoardLoader(Arc<BoardsService>);

impl Loader<String> for BoardLoader {
    type Value = BoardDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, BoardDoc>, Self::Error> {
        let boards = self.0.boards_by_ids(keys).await.map_err(Arc::new)?;
        Ok(boards.into_iter().map(|b| (b.id.clone(), b)).collect())
    }
}

/// Batches task lookups: N ids in one request become one store query.
pub struct TaskLoader(Arc<BoardsService>);

impl Loader<String> for TaskLoader {
    type Value = TaskDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, TaskDoc>, Self::Error> {
        let tasks = self.0.tasks_by_ids(keys).await.map_err(Arc::new)?;
        Ok(tasks.into_iter().map(|t| (t.id.clone(), t)).collect())
    }
}
