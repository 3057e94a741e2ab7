//! Stored documents of the notifications subgraph.

use serde::{Deserialize, Serialize};

pub const NOTIFICATIONS: &str = "notifications";
/// Display names of users and boards, learned from domain events, for notification texts.
pub const NAMES: &str = "names";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    TaskAssigned,
    BoardMemberAdded,
    Mentioned,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDoc {
    /// uuid v7: sorts by creation time, so it doubles as the pagination key.
    pub id: String,
    /// `<event id>:<recipient>`, unique: a redelivered event cannot create a second copy.
    pub dedup_key: String,
    pub recipient_id: String,
    pub actor_id: String,
    pub kind: NotificationKind,
    pub text: String,
    pub read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub created_at: i64,
}

/// A display name; `id` is `user:<id>` or `board:<id>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NameDoc {
    pub id: String,
    pub name: String,
    /// Time of the event that set it, so a redelivered older event cannot roll it back.
    pub as_of: i64,
}
