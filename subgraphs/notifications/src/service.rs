//! The inbox: notifications stored once per (event, recipient), streamed live after they are
//! stored, read and marked only by their recipient.

use base64::Engine;
use kit::events::SharedPubSub;
use kit::store::{
    new_id, now_millis, Collection, Filter, FindOptions, IndexSpec, Order, Store, Update,
};
use kit::{ApiError, ApiResult};

use crate::model::{NameDoc, NotificationDoc, NotificationKind, NAMES, NOTIFICATIONS};

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

/// What an event asks to create, before it has an id and a text.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub event_id: String,
    pub recipient_id: String,
    pub actor_id: String,
    pub kind: NotificationKind,
    pub text: String,
    pub task_id: Option<String>,
    pub board_id: Option<String>,
    pub message_id: Option<String>,
}

/// One page of a recipient's notifications, newest first.
pub struct Page {
    pub items: Vec<NotificationDoc>,
    pub has_next_page: bool,
}

pub struct NotificationsService {
    notifications: Collection<NotificationDoc>,
    names: Collection<NameDoc>,
    pubsub: SharedPubSub,
}

/// Live channel of one recipient's new notifications.
pub fn channel(recipient_id: &str) -> String {
    format!("notifications:user:{recipient_id}")
}

impl NotificationsService {
    pub async fn new(store: &Store, pubsub: SharedPubSub) -> ApiResult<Self> {
        store
            .ensure_indexes(&[
                IndexSpec::new(NOTIFICATIONS, &["dedupKey"]).unique(),
                IndexSpec::new(NOTIFICATIONS, &["recipientId", "read"]),
            ])
            .await?;
        Ok(Self {
            notifications: store.collection(NOTIFICATIONS),
            names: store.collection(NAMES),
            pubsub,
        })
    }

    /// Stores a notification unless this event already produced it, then streams it.
    /// Returns whether it was new.
    /// Tells the router's entity cache that `recipient`'s notifications changed: their
    /// `User` entity here, and the root answers (`notifications`, cached per caller). Lost
    /// with Redis down: the entries' 30 s max-age bounds what that leaves stale.
    async fn evict_cached(&self, recipient: &str) {
        let items = serde_json::json!([
            { "kind": "entity", "subgraph": crate::SERVICE, "type": "User", "key": { "id": recipient } },
            { "kind": "type", "subgraph": crate::SERVICE, "type": "Query" },
        ]);
        let channel = kit::events::CACHE_INVALIDATION_CHANNEL;
        if let Err(e) = self.pubsub.publish(channel, &items.to_string()).await {
            tracing::warn!(error = %e, "announcing a cache invalidation failed");
        }
    }

    pub async fn create(&self, new: NewNotification) -> ApiResult<bool> {
        let doc = NotificationDoc {
            id: new_id(),
            dedup_key: format!("{}:{}", new.event_id, new.recipient_id),
            recipient_id: new.recipient_id,
            actor_id: new.actor_id,
            kind: new.kind,
            text: new.text,
            read: false,
            task_id: new.task_id,
            board_id: new.board_id,
            message_id: new.message_id,
            created_at: now_millis(),
        };
        match self.notifications.insert(&doc).await {
            Ok(()) => {}
            // Redelivery of an event already handled: nothing to do, and nothing to stream twice.
            Err(e) if e.is_duplicate() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let payload = serde_json::to_string(&doc).map_err(ApiError::internal)?;
        if let Err(e) = self
            .pubsub
            .publish(&channel(&doc.recipient_id), &payload)
            .await
        {
            // Stored is what matters: the inbox query shows it even if the live push is lost.
            tracing::warn!(error = %e, id = %doc.id, "streaming a notification failed");
        }
        self.evict_cached(&doc.recipient_id).await;
        Ok(true)
    }

    pub async fn page(
        &self,
        recipient_id: &str,
        unread_only: bool,
        first: Option<i32>,
        after: Option<&str>,
    ) -> ApiResult<Page> {
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(ApiError::bad_input(
                "first",
                format!("must be between 0 and {MAX_PAGE}"),
            ));
        }
        let mut filter = Filter::eq("recipientId", recipient_id);
        if unread_only {
            filter = filter.and(Filter::eq("read", false));
        }
        if let Some(cursor) = after {
            filter = filter.and(Filter::lt("id", decode_cursor(cursor)?));
        }
        let options = FindOptions::default()
            .sort("id", Order::Desc)
            .limit(first as u64 + 1);
        let mut items = self.notifications.find(&filter, &options).await?;
        let has_next_page = items.len() > first as usize;
        items.truncate(first as usize);
        Ok(Page {
            items,
            has_next_page,
        })
    }

    /// Counted, not maintained: always right under concurrent marks and inserts.
    pub async fn unread_count(&self, recipient_id: &str) -> ApiResult<u64> {
        Ok(self
            .notifications
            .count(&Filter::eq("recipientId", recipient_id).and(Filter::eq("read", false)))
            .await?)
    }

    pub async fn mark_read(&self, caller: &str, id: &str) -> ApiResult<NotificationDoc> {
        let existing = self
            .notifications
            .get(id)
            .await?
            .ok_or_else(|| ApiError::not_found("notification"))?;
        if existing.recipient_id != caller {
            return Err(ApiError::forbidden("this notification is not yours"));
        }
        self.notifications
            .update_one(
                &Filter::eq("id", id).and(Filter::eq("recipientId", caller)),
                &Update::new().set("read", true),
            )
            .await?
            .ok_or_else(|| ApiError::not_found("notification"))
    }

    pub async fn mark_all_read(&self, caller: &str) -> ApiResult<u64> {
        Ok(self
            .notifications
            .update_many(
                &Filter::eq("recipientId", caller).and(Filter::eq("read", false)),
                &Update::new().set("read", true),
            )
            .await?)
    }

    pub async fn by_ids(&self, ids: &[String]) -> ApiResult<Vec<NotificationDoc>> {
        Ok(self.notifications.get_many(ids).await?)
    }

    /// Records a display name unless a newer one is already known.
    pub async fn remember_name(&self, key: &str, name: &str, as_of: i64) -> ApiResult<()> {
        let doc = NameDoc {
            id: key.to_owned(),
            name: name.to_owned(),
            as_of,
        };
        match self.names.insert(&doc).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_duplicate() => {
                self.names
                    .update_one(
                        &Filter::eq("id", key).and(Filter::lt("asOf", as_of)),
                        &Update::new().set("name", name).set("asOf", as_of),
                    )
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn name(&self, key: &str) -> ApiResult<Option<String>> {
        Ok(self.names.get(key).await?.map(|doc| doc.name))
    }
}

pub fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("n:{id}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<String> {
    let invalid = || ApiError::bad_input("after", "is not a cursor from this connection");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("n:")
        .map(str::to_owned)
        .ok_or_else(invalid)
}
