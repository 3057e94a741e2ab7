//! From domain events to notifications. Consumed with the group `notifications` on the streams
//! of accounts (display names), boards and chat; every replica is one consumer of the group, so
//! replicas share the work and each event is handled by one of them (at least once; storing is
//! idempotent by event id and recipient).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kit::events::{
    spawn_consumer, ConsumerConfig, DomainEvent, EventHandler, HandlerError, SharedEventStream,
};
use kit::metrics::Metrics;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::NotificationKind;
use crate::service::{NewNotification, NotificationsService};

pub const GROUP: &str = "notifications";
pub const STREAMS: [&str; 3] = ["accounts", "boards", "chat"];

/// Starts one consumer per stream; they stop when `shutdown` is cancelled. Entries another
/// consumer left pending for `reclaim_idle` (it died mid-batch) are taken over.
pub fn spawn_consumers(
    events: SharedEventStream,
    service: Arc<NotificationsService>,
    metrics: Arc<Metrics>,
    consumer: &str,
    reclaim_idle: Duration,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let handler: Arc<dyn EventHandler> = Arc::new(Handler { service });
    STREAMS
        .iter()
        .map(|stream| {
            let mut config = ConsumerConfig::new(*stream, GROUP, consumer);
            config.reclaim_idle = reclaim_idle;
            spawn_consumer(
                events.clone(),
                config,
                handler.clone(),
                metrics.clone(),
                shutdown.clone(),
            )
        })
        .collect()
}

pub struct Handler {
    pub service: Arc<NotificationsService>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        let p = &event.payload;
        let at = event.at.timestamp_millis();
        match event.kind.as_str() {
            "UserRegistered" | "UserRenamed" => {
                if let (Some(user), Some(name)) = (text(p, "userId"), text(p, "name")) {
                    self.remember(&format!("user:{user}"), name, at).await?;
                }
            }
            "BoardCreated" | "BoardUpdated" => {
                if let (Some(board), Some(name)) = (text(p, "boardId"), text(p, "name")) {
                    self.remember(&format!("board:{board}"), name, at).await?;
                }
            }
            "TaskAssigned" => self.task_assigned(event).await?,
            "BoardMemberAdded" => self.member_added(event).await?,
            "MessagePosted" => self.message_posted(event).await?,
            // Other kinds on these streams are not notification-worthy.
            _ => {}
        }
        Ok(())
    }
}

impl Handler {
    async fn remember(&self, key: &str, name: &str, at: i64) -> Result<(), HandlerError> {
        self.service
            .remember_name(key, name, at)
            .await
            .map_err(|e| e.message().into())
    }

    async fn create(&self, new: NewNotification) -> Result<(), HandlerError> {
        self.service
            .create(new)
            .await
            .map(|_| ())
            .map_err(|e| format!("storing notification: {}", e.message()).into())
    }

    /// The actor's name as accounts last announced it (events carry ids, not names).
    async fn actor_name(&self, event: &DomainEvent) -> String {
        self.service
            .name(&format!("user:{}", event.actor))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "Someone".to_owned())
    }

    async fn task_assigned(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        let p = &event.payload;
        let Some(assignee) = text(p, "assigneeId") else {
            return Ok(()); // unassigned
        };
        if assignee == event.actor {
            return Ok(()); // assigning yourself is not news
        }
        let title = text(p, "taskTitle").unwrap_or("a task");
        let actor = self.actor_name(event).await;
        self.create(NewNotification {
            event_id: event.id.clone(),
            recipient_id: assignee.to_owned(),
            actor_id: event.actor.clone(),
            kind: NotificationKind::TaskAssigned,
            text: format!("{actor} assigned you “{title}”"),
            task_id: text(p, "taskId").map(str::to_owned),
            board_id: text(p, "boardId").map(str::to_owned),
            message_id: None,
        })
        .await
    }

    async fn member_added(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        let p = &event.payload;
        let Some(user) = text(p, "userId") else {
            return Ok(());
        };
        if user == event.actor {
            return Ok(()); // the owner joining their own new board
        }
        let board_id = text(p, "boardId");
        // The name boards last announced for it (`BoardMemberAdded` carries only ids).
        let board = match board_id {
            Some(id) => self
                .service
                .name(&format!("board:{id}"))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let subject = board.map_or_else(|| "a board".to_owned(), |name| format!("“{name}”"));
        let actor = self.actor_name(event).await;
        self.create(NewNotification {
            event_id: event.id.clone(),
            recipient_id: user.to_owned(),
            actor_id: event.actor.clone(),
            kind: NotificationKind::BoardMemberAdded,
            text: format!("{actor} added you to {subject}"),
            task_id: None,
            board_id: board_id.map(str::to_owned),
            message_id: None,
        })
        .await
    }

    async fn message_posted(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        let p = &event.payload;
        let author = text(p, "authorId").unwrap_or(&event.actor).to_owned();
        let mentioned: Vec<&str> = p["mentionedUserIds"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if mentioned.iter().all(|id| *id == author) {
            return Ok(());
        }
        let actor = self.actor_name(event).await;
        let place =
            text(p, "roomName").map_or_else(|| "chat".to_owned(), |room| format!("“{room}”"));
        for recipient in mentioned.into_iter().filter(|id| *id != author) {
            self.create(NewNotification {
                event_id: event.id.clone(),
                recipient_id: recipient.to_owned(),
                actor_id: author.clone(),
                kind: NotificationKind::Mentioned,
                text: format!("{actor} mentioned you in {place}"),
                task_id: None,
                board_id: text(p, "boardId").map(str::to_owned),
                message_id: text(p, "messageId").map(str::to_owned),
            })
            .await?;
        }
        Ok(())
    }
}

fn text<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}
