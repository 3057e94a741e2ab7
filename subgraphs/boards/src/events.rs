//! What the subgraph tells others: live task events on a board's pub/sub channel (for
//! `taskChanged`) and durable domain events on the stream [`STREAM`] (see `EVENTS.md`).

use async_graphql::Enum;
use std::sync::Arc;

use kit::events::{DomainEvent, SharedPubSub};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{BoardDoc, BoardRole, TaskDoc};
use kit::outbox::Outbox;

/// The durable stream other subgraphs consume.
pub const STREAM: &str = "boards";

pub const BOARD_CREATED: &str = "BoardCreated";
pub const BOARD_UPDATED: &str = "BoardUpdated";
pub const BOARD_DELETED: &str = "BoardDeleted";
pub const BOARD_MEMBER_ADDED: &str = "BoardMemberAdded";
pub const BOARD_MEMBER_REMOVED: &str = "BoardMemberRemoved";
pub const TASK_ASSIGNED: &str = "TaskAssigned";

/// The live channel of one board.
pub fn channel(board_id: &str) -> String {
    format!("boards:tasks:{board_id}")
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskEventKind {
    Created,
    Updated,
    Moved,
    Assigned,
    Deleted,
}

/// A message on a board's live channel. Besides task events it carries the membership
/// changes that must end open subscriptions (a removed member, a deleted board), so a
/// subscriber needs no store read per event to stay authorized.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LiveMessage {
    #[serde(rename_all = "camelCase")]
    Task {
        kind: TaskEventKind,
        board_id: String,
        task_id: String,
        /// The task after the change; `None` for `Deleted`.
        task: Option<Box<TaskDoc>>,
        actor_id: String,
        at: i64,
    },
    #[serde(rename_all = "camelCase")]
    MemberRemoved { board_id: String, user_id: String },
    #[serde(rename_all = "camelCase")]
    BoardDeleted { board_id: String },
}

/// Publishes live messages; domain events go with their writes through `outbox`. Failures are
/// logged, never returned: they happen after the write is stored, and failing the mutation then
/// would tell the client its change did not happen.
#[derive(Clone)]
pub struct Publisher {
    pub pubsub: SharedPubSub,
    pub outbox: Arc<Outbox>,
}

impl Publisher {
    pub async fn live(&self, board_id: &str, message: &LiveMessage) {
        let payload = match serde_json::to_string(message) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "live message not serializable");
                return;
            }
        };
        if let Err(error) = self.pubsub.publish(&channel(board_id), &payload).await {
            tracing::error!(board_id, code = error.code(), %error, "live task event lost");
        }
    }

    /// A task event, stamped now, on the task's board channel.
    pub async fn task(
        &self,
        kind: TaskEventKind,
        task_id: &str,
        task: Option<&TaskDoc>,
        board_id: &str,
        actor: &str,
    ) {
        let message = LiveMessage::Task {
            kind,
            board_id: board_id.to_owned(),
            task_id: task_id.to_owned(),
            task: task.cloned().map(Box::new),
            actor_id: actor.to_owned(),
            at: kit::store::now_millis(),
        };
        self.live(board_id, &message).await;
    }
}

/// The domain events, built before the write that stores them (see `kit::outbox`).
pub mod domain {
    use super::*;

    pub fn board_created(board: &BoardDoc, actor: &str) -> DomainEvent {
        let payload = json!({"boardId": board.id, "name": board.name, "ownerId": board.owner_id});
        DomainEvent::new(BOARD_CREATED, actor, payload)
    }

    /// `name` is the board's name after the update.
    pub fn board_updated(board_id: &str, name: &str, actor: &str) -> DomainEvent {
        let payload = json!({"boardId": board_id, "name": name});
        DomainEvent::new(BOARD_UPDATED, actor, payload)
    }

    pub fn board_deleted(board: &BoardDoc, actor: &str) -> DomainEvent {
        let payload = json!({"boardId": board.id, "memberIds": board.member_ids});
        DomainEvent::new(BOARD_DELETED, actor, payload)
    }

    pub fn member_added(
        board_id: &str,
        user_id: &str,
        role: BoardRole,
        actor: &str,
    ) -> DomainEvent {
        let payload = json!({"boardId": board_id, "userId": user_id, "role": role.as_str()});
        DomainEvent::new(BOARD_MEMBER_ADDED, actor, payload)
    }

    pub fn member_removed(board_id: &str, user_id: &str, actor: &str) -> DomainEvent {
        let payload = json!({"boardId": board_id, "userId": user_id});
        DomainEvent::new(BOARD_MEMBER_REMOVED, actor, payload)
    }

    /// `task` as it is after the assignment.
    pub fn task_assigned(task: &TaskDoc, assignee_id: &str, actor: &str) -> DomainEvent {
        let payload = json!({
            "boardId": task.board_id,
            "taskId": task.id,
            "taskTitle": task.title,
            "assigneeId": assignee_id,
        });
        DomainEvent::new(TASK_ASSIGNED, actor, payload)
    }
}
