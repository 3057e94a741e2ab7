//! Stored documents of the chat subgraph.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Collection of rooms.
pub const ROOMS: &str = "rooms";
/// Collection of messages.
pub const MESSAGES: &str = "messages";
/// Collection of user display names (the mention directory).
pub const NAMES: &str = "names";

/// A chat room: a board's room (id `board-<boardId>`) or one made with `createChatRoom`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoomDoc {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_id: Option<String>,
    pub member_ids: Vec<String>,
    /// Board rooms: per user, the id of the last membership event applied, so an older or
    /// redelivered event never overrides a newer one.
    #[serde(default)]
    pub member_versions: BTreeMap<String, String>,
    /// The highest message sequence number allocated in this room (0 = none yet).
    #[serde(default)]
    pub last_seq: i64,
    /// Optimistic-concurrency revision of the membership fields.
    #[serde(default)]
    pub rev: i64,
    /// A deleted board's room: nobody can use it any more.
    #[serde(default)]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: i64,
}

impl RoomDoc {
    /// Whether `user_id` may read and write this room.
    pub fn has_member(&self, user_id: &str) -> bool {
        !self.deleted && self.member_ids.iter().any(|m| m == user_id)
    }
}

/// The id of a board's room: derived, so every replica and every redelivery agrees on it.
pub fn board_room_id(board_id: &str) -> String {
    format!("board-{board_id}")
}

/// A message. `seq` orders the room's messages (unique per room, allocated atomically).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MessageDoc {
    pub id: String,
    pub room_id: String,
    pub seq: i64,
    pub author_id: String,
    pub body: String,
    pub mention_ids: Vec<String>,
    /// Deleted messages (and placeholders for sequence numbers whose send failed) keep their
    /// `seq`, so live subscribers can tell a deleted message from one not yet stored.
    pub deleted: bool,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
}

/// A user's display name, learned from the accounts subgraph's events; `@handle` mentions
/// match it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NameDoc {
    /// The user id.
    pub id: String,
    pub name: String,
    /// `name` squashed (see [`crate::text::squash`]): what a mention is compared with.
    pub handle: String,
    /// Id of the account event that set this name; older or repeated events are ignored.
    pub version: String,
}
