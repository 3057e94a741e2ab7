//! The boards domain: who may do what, reads (through the board cache), and writes that
//! invalidate the cache and then tell subscribers and other subgraphs.

mod boards;
mod ordering;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use kit::cache::Cache;
use kit::store::{Collection, Filter, FindOptions, IndexSpec, Order};
use kit::{ApiError, ApiResult, Infra};

use crate::events::{channel, LiveMessage, Publisher, STREAM};
use crate::model::{BoardDoc, TaskDoc, TaskStatus, BOARDS, TASKS};
use crate::page::{self, Page};
use crate::validate;
use kit::outbox::{Outbox, RETIRED};

pub use tasks::{NewTask, TaskChanges};

/// How long a cached board or task list may live; writes invalidate it explicitly, so this
/// only bounds staleness when an invalidation is lost (Redis unreachable at that moment).
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Metric label and key of the cached board documents (membership checks hit it).
const BOARD_CACHE: &str = "board";
/// Metric label and key suffix of the cached task lists.
const TASKS_CACHE: &str = "board_tasks";

fn board_key(board_id: &str) -> String {
    format!("board:{board_id}")
}

fn tasks_key(board_id: &str) -> String {
    format!("board:{board_id}:tasks")
}

/// Boards, members and tasks over the kit's store, cache, pub/sub and event stream.
pub struct BoardsService {
    boards: Collection<BoardDoc>,
    tasks: Collection<TaskDoc>,
    cache: Cache,
    publish: Publisher,
}

impl BoardsService {
    /// Creates the indexes the queries below need (idempotent).
    pub async fn new(infra: &Infra) -> ApiResult<Self> {
        infra
            .store
            .ensure_indexes(&[
                IndexSpec::new(BOARDS, &["memberIds"]),
                IndexSpec::new(TASKS, &["boardId", "statusRank", "position"]),
                IndexSpec::new(TASKS, &["assigneeId"]),
            ])
            .await?;
        let outbox = Arc::new(
            Outbox::new(&infra.store, infra.events.clone(), STREAM, &[BOARDS, TASKS]).await?,
        );
        Ok(Self {
            boards: infra.store.collection(BOARDS),
            tasks: infra.store.collection(TASKS),
            cache: infra.cache.clone(),
            publish: Publisher {
                pubsub: infra.pubsub.clone(),
                outbox,
            },
        })
    }

    /// The outbox of this service's domain events, which ride in the board and task
    /// documents their writes change.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.publish.outbox
    }

    /// A board (through the cache), or `NOT_FOUND`.
    pub async fn board(&self, board_id: &str) -> ApiResult<BoardDoc> {
        let id = validate::id(board_id, "board")?;
        let load = || async {
            self.boards
                .get(&id)
                .await?
                .filter(|board| !board.retired)
                .ok_or_else(|| ApiError::not_found("board"))
        };
        self.cache
            .get_or_load(BOARD_CACHE, &board_key(&id), CACHE_TTL, load)
            .await
    }

    /// The board if `user_id` is a member: `NOT_FOUND` or `FORBIDDEN` otherwise.
    pub async fn member_board(&self, user_id: &str, board_id: &str) -> ApiResult<BoardDoc> {
        let board = self.board(board_id).await?;
        authorize_member(&board, user_id)?;
        Ok(board)
    }

    /// Boards by id in one store query (DataLoader batches); missing ids are absent.
    pub async fn boards_by_ids(&self, ids: &[String]) -> ApiResult<Vec<BoardDoc>> {
        let mut boards = self.boards.get_many(ids).await?;
        boards.retain(|board| !board.retired);
        Ok(boards)
    }

    /// Tasks by id in one store query (DataLoader batches); missing ids are absent.
    pub async fn tasks_by_ids(&self, ids: &[String]) -> ApiResult<Vec<TaskDoc>> {
        Ok(self.tasks.get_many(ids).await?)
    }

    /// The boards `user_id` is a member of, oldest first.
    pub async fn boards_of_member(&self, user_id: &str) -> ApiResult<Vec<BoardDoc>> {
        let filter = Filter::contains("memberIds", user_id).and(Filter::ne(RETIRED, true));
        let opts = FindOptions::default()
            .sort("createdAt", Order::Asc)
            .sort("id", Order::Asc);
        Ok(self.boards.find(&filter, &opts).await?)
    }

    /// Every task of a board in board order (column, position, id), through the cache: the
    /// heavy read of a board page.
    pub async fn board_tasks(&self, board_id: &str) -> ApiResult<Vec<TaskDoc>> {
        let load = || async {
            let mut tasks = self
                .tasks
                .find(&Filter::eq("boardId", board_id), &FindOptions::default())
                .await?;
            page::sort_board_order(&mut tasks);
            Ok::<_, ApiError>(tasks)
        };
        self.cache
            .get_or_load(TASKS_CACHE, &tasks_key(board_id), CACHE_TTL, load)
            .await
    }

    /// A task and its board if `user_id` is a member of that board.
    pub async fn member_task(
        &self,
        user_id: &str,
        task_id: &str,
    ) -> ApiResult<(TaskDoc, BoardDoc)> {
        let id = validate::id(task_id, "task")?;
        let task = self
            .tasks
            .get(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("task"))?;
        let board = self.member_board(user_id, &task.board_id).await?;
        Ok((task, board))
    }

    /// Tasks assigned to `assignee_id` on boards `viewer_id` is a member of, in creation
    /// order, one keyset page.
    pub async fn assigned_tasks(
        &self,
        viewer_id: &str,
        assignee_id: &str,
        status: Option<TaskStatus>,
        size: usize,
        after: Option<&str>,
    ) -> ApiResult<Page> {
        let after = after.map(page::decode_id).transpose()?;
        let visible: Vec<String> = self
            .boards_of_member(viewer_id)
            .await?
            .into_iter()
            .map(|b| b.id)
            .collect();
        let mut filter =
            Filter::eq("assigneeId", assignee_id).and(Filter::is_in("boardId", visible));
        if let Some(status) = status {
            filter = filter.and(Filter::eq("status", status.as_str()));
        }
        let total_count = self.tasks.count(&filter).await? as usize;
        if let Some(after) = after {
            filter = filter.and(Filter::gt("id", after));
        }
        let opts = FindOptions::default()
            .sort("id", Order::Asc)
            .limit(size as u64 + 1);
        let mut tasks = self.tasks.find(&filter, &opts).await?;
        let has_next_page = tasks.len() > size;
        tasks.truncate(size);
        let edges = tasks
            .into_iter()
            .map(|t| (page::encode_id(&t), t))
            .collect();
        Ok(Page {
            edges,
            has_next_page,
            total_count,
        })
    }

    /// Live messages of one board, as published after this call returns.
    pub async fn subscribe(&self, board_id: &str) -> ApiResult<BoxStream<'static, LiveMessage>> {
        let payloads = self
            .publish
            .pubsub
            .subscribe(&channel(board_id))
            .await
            .map_err(|e| ApiError::internal(format!("subscribing to board {board_id}: {e}")))?;
        let messages = payloads.filter_map(|payload| async move {
            match serde_json::from_str::<LiveMessage>(&payload) {
                Ok(message) => Some(message),
                Err(error) => {
                    tracing::warn!(%error, "undecodable live message skipped");
                    None
                }
            }
        });
        Ok(messages.boxed())
    }

    async fn invalidate_board(&self, board_id: &str) {
        self.cache.invalidate(&[board_key(board_id)]).await;
    }

    async fn invalidate_tasks(&self, board_id: &str) {
        self.cache.invalidate(&[tasks_key(board_id)]).await;
    }
}

/// Members read a board and work on its tasks.
pub fn authorize_member(board: &BoardDoc, user_id: &str) -> ApiResult<()> {
    if board.is_member(user_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only members of this board can do this",
        ))
    }
}

/// Only the owner changes the board itself and its members.
pub fn authorize_owner(board: &BoardDoc, user_id: &str) -> ApiResult<()> {
    authorize_member(board, user_id)?;
    if board.is_owner(user_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the board's owner can do this"))
    }
}
