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
    /// redelivered event never overrides a newer one. Stored as `[userId, eventId]` pairs:
    /// user ids as field names would be unsafe on MongoDB (`.` and `$` are special there).
    #[serde(default, with = "pairs")]
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
    /// Board rooms: the id of the board event that set `name` (`BoardCreated`, then
    /// `BoardUpdated`), so an older rename delivered late never wins.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_version: String,
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

impl kit::outbox::HasId for MessageDoc {
    fn id(&self) -> &str {
        &self.id
    }
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

/// A string map stored as a list of `[key, value]` pairs.
pub mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the map as `[[key, value], ...]`.
    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter().map(|(k, v)| [k, v]))
    }

    /// Reads `[[key, value], ...]` back into a map.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let pairs: Vec<(String, String)> = Vec::deserialize(deserializer)?;
        Ok(pairs.into_iter().collect())
    }

    /// The stored form, for a `$set` of the whole field.
    pub fn to_json(map: &BTreeMap<String, String>) -> serde_json::Value {
        map.iter().map(|(k, v)| serde_json::json!([k, v])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_versions_are_stored_as_pairs_and_read_back() {
        let room = RoomDoc {
            id: "board-b".into(),
            name: "B".into(),
            board_id: Some("b".into()),
            member_ids: vec!["u.1".into()],
            member_versions: [("u.1".to_owned(), "e1".to_owned())].into(),
            last_seq: 3,
            rev: 1,
            deleted: false,
            name_version: String::new(),
            created_by: None,
            created_at: 0,
        };
        let stored = serde_json::to_value(&room).expect("serialize");
        assert_eq!(stored["memberVersions"], serde_json::json!([["u.1", "e1"]]));
        assert_eq!(
            stored["memberVersions"],
            pairs::to_json(&room.member_versions)
        );
        let back: RoomDoc = serde_json::from_value(stored).expect("deserialize");
        assert_eq!(back, room);
    }
}
