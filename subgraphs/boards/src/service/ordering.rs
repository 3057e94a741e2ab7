//! Positions in a status column: neighbour lookups in the store and the rare rebalance.

use kit::store::{Filter, FindOptions, Order, Update};
use kit::{ApiError, ApiResult};

use super::BoardsService;
use crate::model::{TaskDoc, TaskStatus};
use crate::position::{self, Slot};

/// A rebalance makes room for any move, so a second one only happens when concurrent moves
/// keep filling the same gap; after that many tries the move fails instead of looping.
const PLACE_ATTEMPTS: usize = 3;

/// The tasks of one column, without the task being placed.
fn column(board_id: &str, status: TaskStatus, moving_id: &str) -> Filter {
    Filter::eq("boardId", board_id)
        .and(Filter::eq("statusRank", status.rank()))
        .and(Filter::ne("id", moving_id))
}

/// Tasks strictly before `task` in board order.
fn before(task: &TaskDoc) -> Filter {
    Filter::Or(vec![
        Filter::lt("position", task.position),
        Filter::eq("position", task.position).and(Filter::lt("id", task.id.as_str())),
    ])
}

fn last_first() -> FindOptions {
    FindOptions::default()
        .sort("position", Order::Desc)
        .sort("id", Order::Desc)
        .limit(1)
}

impl BoardsService {
    /// The position for the task `moving_id` in `status`, right before `before` or last.
    pub(super) async fn place(
        &self,
        board_id: &str,
        status: TaskStatus,
        before_task: Option<&TaskDoc>,
        moving_id: &str,
    ) -> ApiResult<f64> {
        for _ in 0..PLACE_ATTEMPTS {
            let slot = self.slot(board_id, status, before_task, moving_id).await?;
            if let Some(position) = position::between(slot) {
                return Ok(position);
            }
            self.rebalance(board_id, status, moving_id).await?;
        }
        Err(ApiError::internal(format!(
            "board {board_id}: no room in column {status:?} after rebalancing"
        )))
    }

    async fn slot(
        &self,
        board_id: &str,
        status: TaskStatus,
        before_task: Option<&TaskDoc>,
        moving_id: &str,
    ) -> ApiResult<Slot> {
        let column = column(board_id, status, moving_id);
        Ok(match before_task {
            None => {
                let last = self.tasks.find(&column, &last_first()).await?;
                Slot::Last {
                    prev: last.first().map(|t| t.position),
                }
            }
            Some(next) => {
                // Re-read: a rebalance may have moved `next` since the caller loaded it.
                let next = self
                    .tasks
                    .get(&next.id)
                    .await?
                    .filter(|t| t.board_id == board_id && t.status == status)
                    .ok_or_else(|| ApiError::not_found("task"))?;
                let prev = self
                    .tasks
                    .find(&column.and(before(&next)), &last_first())
                    .await?;
                Slot::Before {
                    prev: prev.first().map(|t| t.position),
                    next: next.position,
                }
            }
        })
    }

    /// Renumbers a column evenly, keeping its order; only documents whose position changes are
    /// written.
    async fn rebalance(
        &self,
        board_id: &str,
        status: TaskStatus,
        moving_id: &str,
    ) -> ApiResult<()> {
        let opts = FindOptions::default()
            .sort("position", Order::Asc)
            .sort("id", Order::Asc);
        let tasks = self
            .tasks
            .find(&column(board_id, status, moving_id), &opts)
            .await?;
        tracing::info!(
            board_id,
            ?status,
            tasks = tasks.len(),
            "rebalancing a column"
        );
        for (task, target) in tasks.iter().zip(position::rebalanced(tasks.len())) {
            if task.position != target {
                let update = Update::new().set("position", target);
                self.tasks
                    .update_one(&Filter::eq("id", task.id.as_str()), &update)
                    .await?;
            }
        }
        self.invalidate_tasks(board_id).await;
        Ok(())
    }
}
