//! Chat follows other subgraphs' domain events (group `chat`): board rooms follow the boards
//! subgraph's (stream `boards`: creation, renames, members, deletion), the mention directory
//! follows the accounts subgraph's
//! `UserRegistered`/`UserRenamed` (stream `accounts`).
//!
//! Delivery is at-least-once and, with several replicas consuming, not strictly ordered, so
//! every change is idempotent and commutative per user: the room keeps, for each user, the id
//! (uuid v7, time-ordered) of the last membership event applied, and an event no newer than
//! that is ignored. A redelivered `BoardMemberAdded` arriving after the removal that followed
//! it therefore changes nothing. `BoardDeleted` is terminal. Writes are compare-and-set on the
//! room's `rev`, so two replicas applying different events to one room never lose an update.

use std::sync::Arc;

use async_trait::async_trait;
use kit::events::{DomainEvent, EventHandler, HandlerError};
use kit::store::{Filter, Update};
use serde_json::json;

use crate::model::{board_room_id, pairs, NameDoc, RoomDoc};
use crate::service::ChatService;

/// The stream the boards subgraph appends its domain events to.
pub const BOARDS_STREAM: &str = "boards";
/// The stream the accounts subgraph appends `UserRegistered`/`UserRenamed` to.
pub const ACCOUNTS_STREAM: &str = "accounts";
/// This subgraph's consumer group on those streams.
pub const CONSUMER_GROUP: &str = "chat";

/// Compare-and-set attempts before a handler gives up (and the event is retried later).
const MAX_ATTEMPTS: usize = 20;

/// The consumer of board events.
pub struct BoardEvents(pub Arc<ChatService>);

#[async_trait]
impl EventHandler for BoardEvents {
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        self.0.apply_board_event(event).await.map(|_| ())
    }
}

/// The consumer of account events (display names for mentions).
pub struct AccountEvents(pub Arc<ChatService>);

#[async_trait]
impl EventHandler for AccountEvents {
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        self.0.apply_account_event(event).await.map(|_| ())
    }
}

fn text<'a>(event: &'a DomainEvent, key: &str) -> Result<&'a str, HandlerError> {
    event.payload[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{} without {key}", event.kind).into())
}

impl ChatService {
    /// Applies one board event; true when the room changed. Unrelated kinds are ignored.
    pub async fn apply_board_event(&self, event: &DomainEvent) -> Result<bool, HandlerError> {
        let changed = match event.kind.as_str() {
            "BoardCreated" => self.board_created(event).await?,
            "BoardMemberAdded" | "BoardMemberRemoved" => {
                let board_id = text(event, "boardId")?;
                let user_id = text(event, "userId")?;
                let add = event.kind == "BoardMemberAdded";
                self.modify(&board_room_id(board_id), |room| {
                    set_member(room, user_id, add, &event.id)
                })
                .await?
            }
            "BoardUpdated" => {
                let board_id = text(event, "boardId")?;
                let name = text(event, "name")?.trim();
                self.modify(&board_room_id(board_id), |room| {
                    // An older rename delivered late (or a redelivery) changes nothing.
                    if room.name_version.as_str() >= event.id.as_str() || name.is_empty() {
                        return false;
                    }
                    room.name = name.to_owned();
                    room.name_version = event.id.clone();
                    true
                })
                .await?
            }
            "BoardDeleted" => {
                let board_id = text(event, "boardId")?;
                self.modify(&board_room_id(board_id), |room| {
                    room.member_ids.clear();
                    room.deleted = true;
                    true
                })
                .await?
            }
            _ => return Ok(false),
        };
        Ok(changed)
    }

    /// Records a user's display name from `UserRegistered`/`UserRenamed`; true when it
    /// changed. A name event older than (or the same as) the one applied is ignored.
    pub async fn apply_account_event(&self, event: &DomainEvent) -> Result<bool, HandlerError> {
        if !matches!(event.kind.as_str(), "UserRegistered" | "UserRenamed") {
            return Ok(false);
        }
        let user_id = text(event, "userId")?;
        let name = text(event, "name")?;
        let update = Update::new()
            .set("name", name)
            .set("handle", crate::text::squash(name))
            .set("version", event.id.as_str());
        let newer = Filter::eq("id", user_id).and(Filter::lt("version", event.id.as_str()));
        if self.names.update_one(&newer, &update).await?.is_some() {
            return Ok(true);
        }
        let doc = NameDoc {
            id: user_id.to_owned(),
            name: name.to_owned(),
            handle: crate::text::squash(name),
            version: event.id.clone(),
        };
        match self.names.insert(&doc).await {
            Ok(()) => Ok(true),
            // Known already, with this event or a newer one applied (or one applied just now
            // by another replica, which the conditional update settles).
            Err(e) if e.is_duplicate() => {
                Ok(self.names.update_one(&newer, &update).await?.is_some())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn board_created(&self, event: &DomainEvent) -> Result<bool, HandlerError> {
        let board_id = text(event, "boardId")?;
        let owner_id = text(event, "ownerId")?;
        let name = event.payload["name"].as_str().unwrap_or("").trim();
        let room = RoomDoc {
            id: board_room_id(board_id),
            name: if name.is_empty() { "Board chat" } else { name }.to_owned(),
            board_id: Some(board_id.to_owned()),
            member_ids: vec![owner_id.to_owned()],
            member_versions: [(owner_id.to_owned(), event.id.clone())].into(),
            last_seq: 0,
            rev: 0,
            deleted: false,
            name_version: event.id.clone(),
            created_by: Some(owner_id.to_owned()),
            created_at: event.at.timestamp_millis(),
        };
        match self.rooms.insert(&room).await {
            Ok(()) => Ok(true),
            // Redelivered (or the room already exists): only the owner's membership may apply.
            Err(e) if e.is_duplicate() => Ok(self
                .modify(&room.id, |r| set_member(r, owner_id, true, &event.id))
                .await?),
            Err(e) => Err(e.into()),
        }
    }

    /// Read, change with `f`, write back if `rev` is unchanged; retried on conflicts. Members'
    /// live subscriptions are told to check their membership again after a change.
    async fn modify(
        &self,
        room_id: &str,
        mut f: impl FnMut(&mut RoomDoc) -> bool,
    ) -> Result<bool, HandlerError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut room) = self.rooms.get(room_id).await? else {
                // Its BoardCreated has not been applied yet (another replica may hold it):
                // fail so the event stays pending and is retried.
                return Err(format!("room {room_id} does not exist yet").into());
            };
            if room.deleted || !f(&mut room) {
                return Ok(false);
            }
            let update = Update::new()
                .set("memberIds", json!(room.member_ids))
                .set("memberVersions", pairs::to_json(&room.member_versions))
                .set("deleted", room.deleted)
                .set("name", room.name.as_str())
                .set("nameVersion", room.name_version.as_str())
                .inc("rev", 1);
            let expected = Filter::eq("id", room_id).and(Filter::eq("rev", room.rev));
            if self.rooms.update_one(&expected, &update).await?.is_some() {
                self.notify(room_id, json!({ "members": true })).await;
                return Ok(true);
            }
        }
        Err(format!("room {room_id} kept changing; retrying later").into())
    }
}

/// Applies an add or remove unless a newer (or the same) event already decided for this user.
fn set_member(room: &mut RoomDoc, user_id: &str, add: bool, event_id: &str) -> bool {
    if room
        .member_versions
        .get(user_id)
        .is_some_and(|seen| seen.as_str() >= event_id)
    {
        return false;
    }
    room.member_versions
        .insert(user_id.to_owned(), event_id.to_owned());
    room.member_ids.retain(|m| m != user_id);
    if add {
        room.member_ids.push(user_id.to_owned());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomDoc {
        RoomDoc {
            id: "board-b".into(),
            name: "B".into(),
            board_id: Some("b".into()),
            member_ids: vec!["owner".into()],
            member_versions: [("owner".to_owned(), "0001".to_owned())].into(),
            last_seq: 0,
            rev: 0,
            deleted: false,
            name_version: String::new(),
            created_by: None,
            created_at: 0,
        }
    }

    #[test]
    fn older_or_repeated_events_do_not_override_newer_ones() {
        let mut r = room();
        assert!(set_member(&mut r, "u", true, "0002"));
        assert!(set_member(&mut r, "u", false, "0003"));
        assert!(!set_member(&mut r, "u", true, "0002"), "redelivered add");
        assert!(
            !set_member(&mut r, "u", false, "0003"),
            "redelivered remove"
        );
        assert_eq!(r.member_ids, ["owner"]);
        assert!(set_member(&mut r, "u", true, "0004"));
        assert_eq!(r.member_ids, ["owner", "u"]);
        assert!(!set_member(&mut r, "owner", true, "0001"));
    }
}
