//! Chat operations: rooms, messages, history, display names. Resolvers call these; every
//! store error becomes an `ApiError` here, so internals are masked before reaching a client.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kit::events::{DomainEvent, SharedEventStream, SharedPubSub};
use kit::outbox::Outbox;
use kit::store::{
    new_id, now_millis, Collection, Filter, FindOptions, IndexSpec, Order, Store, Update,
};
use kit::{ApiError, ApiResult};
use serde_json::json;

use crate::model::{MessageDoc, NameDoc, RoomDoc, MESSAGES, NAMES, ROOMS};
use crate::text;

/// The durable stream `MessagePosted` events go to.
pub const CHAT_STREAM: &str = "chat";
/// Most members a `createChatRoom` room may start with.
pub const MAX_MEMBERS: usize = 500;
/// Sequence numbers a send tries before giving up (each retry follows a tombstoned number).
const MAX_SEQ_ATTEMPTS: usize = 5;
/// Largest history page.
pub const MAX_PAGE: i32 = 200;

/// The pub/sub channel of one room's live notifications (new messages, membership changes).
pub fn room_channel(room_id: &str) -> String {
    format!("chat:room:{room_id}")
}

/// One page of history, oldest first.
pub struct HistoryPage {
    pub messages: Vec<MessageDoc>,
    pub has_previous: bool,
}

/// Rooms, messages and names of the chat subgraph, on one store.
pub struct ChatService {
    pub(crate) rooms: Collection<RoomDoc>,
    pub(crate) messages: Collection<MessageDoc>,
    pub(crate) names: Collection<NameDoc>,
    pub(crate) pubsub: SharedPubSub,
    /// `MessagePosted` events ride in the message documents until sent.
    outbox: Arc<Outbox>,
    /// Live `messageAdded` subscriptions per room on this replica.
    pub(crate) followers: Arc<Mutex<HashMap<String, usize>>>,
}

impl ChatService {
    /// Creates the indexes (idempotent) and returns the service.
    pub async fn new(
        store: &Store,
        pubsub: SharedPubSub,
        events: SharedEventStream,
    ) -> ApiResult<Self> {
        store
            .ensure_indexes(&[
                // Uniqueness makes a sequence number name exactly one message, across replicas.
                IndexSpec::new(MESSAGES, &["roomId", "seq"]).unique(),
                IndexSpec::new(ROOMS, &["memberIds"]),
            ])
            .await?;
        let outbox = Outbox::new(store, events, CHAT_STREAM, &[MESSAGES]).await?;
        Ok(Self {
            rooms: store.collection(ROOMS),
            messages: store.collection(MESSAGES),
            names: store.collection(NAMES),
            pubsub,
            outbox: Arc::new(outbox),
            followers: Arc::default(),
        })
    }

    /// The outbox of `MessagePosted` (its sweeper runs beside the server).
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// How many `messageAdded` subscriptions to `room_id` this replica is serving.
    pub fn live_subscriptions(&self, room_id: &str) -> usize {
        let followers = self.followers.lock().unwrap_or_else(|e| e.into_inner());
        followers.get(room_id).copied().unwrap_or(0)
    }

    pub async fn rooms_by_ids(&self, ids: &[String]) -> ApiResult<Vec<RoomDoc>> {
        Ok(self.rooms.get_many(ids).await?)
    }

    pub async fn messages_by_ids(&self, ids: &[String]) -> ApiResult<Vec<MessageDoc>> {
        Ok(self.messages.get_many(ids).await?)
    }

    pub async fn room(&self, id: &str) -> ApiResult<Option<RoomDoc>> {
        Ok(self.rooms.get(id).await?)
    }

    /// The room if `user_id` is a member; `NOT_FOUND` or `FORBIDDEN` otherwise.
    pub async fn room_for_member(&self, user_id: &str, room_id: &str) -> ApiResult<RoomDoc> {
        let room = self
            .room(room_id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(|| ApiError::not_found("chat room"))?;
        check_member(&room, user_id)?;
        Ok(room)
    }

    /// A new room; the creator is always a member, duplicate ids count once.
    pub async fn create_room(
        &self,
        creator: &str,
        name: &str,
        member_ids: &[String],
    ) -> ApiResult<RoomDoc> {
        let name = text::name("name", name)?;
        let mut members = vec![creator.to_owned()];
        for id in member_ids.iter().map(|id| id.trim()) {
            if id.is_empty() {
                return Err(ApiError::bad_input("memberIds", "ids must not be empty"));
            }
            if !members.iter().any(|m| m == id) {
                members.push(id.to_owned());
            }
        }
        if members.len() > MAX_MEMBERS {
            return Err(ApiError::bad_input(
                "memberIds",
                format!("a room has at most {MAX_MEMBERS} members"),
            ));
        }
        let room = RoomDoc {
            id: new_id(),
            name,
            board_id: None,
            member_ids: members,
            member_versions: BTreeMap::new(),
            last_seq: 0,
            rev: 0,
            deleted: false,
            name_version: String::new(),
            created_by: Some(creator.to_owned()),
            created_at: now_millis(),
        };
        self.rooms.insert(&room).await?;
        Ok(room)
    }

    /// Rooms `user_id` is a member of, oldest first.
    pub async fn rooms_of(&self, user_id: &str) -> ApiResult<Vec<RoomDoc>> {
        let filter = Filter::contains("memberIds", user_id).and(Filter::eq("deleted", false));
        let options = FindOptions::default()
            .sort("createdAt", Order::Asc)
            .sort("id", Order::Asc);
        Ok(self.rooms.find(&filter, &options).await?)
    }

    /// Stores a message, then notifies live subscribers, then posts `MessagePosted`.
    ///
    /// The sequence number is allocated by one atomic `$inc` on the room that also checks
    /// membership, so replicas sending concurrently never share or reorder numbers. The unique
    /// `(roomId, seq)` index arbitrates with subscribers: one that waited too long for this
    /// number may have stored a tombstone under it (see [`crate::live`]); the insert then
    /// fails as a duplicate and the message takes a new number, so it is never stored
    /// behind what subscribers were already given.
    pub async fn send(&self, author: &str, room_id: &str, body: &str) -> ApiResult<MessageDoc> {
        let body = text::body(body)?;
        let mut room = self.allocate(author, room_id).await?;
        let mut message = MessageDoc {
            id: new_id(),
            room_id: room.id.clone(),
            seq: room.last_seq,
            author_id: author.to_owned(),
            mention_ids: self.resolve_mentions(&room, &body).await?,
            body,
            deleted: false,
            created_at: now_millis(),
            edited_at: None,
        };
        let mut attempts = 1;
        loop {
            let event = message_posted(&room, &message);
            match self.outbox.insert(&self.messages, &message, event).await {
                Ok(()) => break,
                Err(e) if e.is_duplicate() && attempts < MAX_SEQ_ATTEMPTS => {
                    attempts += 1;
                    room = self.allocate(author, room_id).await?;
                    message.seq = room.last_seq;
                }
                Err(error) => {
                    self.tombstone(&room.id, message.seq).await?;
                    return Err(error.into());
                }
            }
        }
        self.notify(&room.id, json!({ "seq": message.seq })).await;
        Ok(message)
    }

    /// The room with the next sequence number allocated to a message of `author`.
    async fn allocate(&self, author: &str, room_id: &str) -> ApiResult<RoomDoc> {
        let member = Filter::eq("id", room_id)
            .and(Filter::contains("memberIds", author))
            .and(Filter::eq("deleted", false));
        let next = Update::new().inc("lastSeq", 1);
        match self.rooms.update_one(&member, &next).await? {
            Some(room) => Ok(room),
            None => {
                // Why it failed decides the code; the room is not changed either way.
                self.room_for_member(author, room_id).await?;
                Err(ApiError::forbidden("you are not a member of this room"))
            }
        }
    }

    /// Claims `seq` in `room_id` for nothing: a deleted placeholder that subscribers skip.
    /// True when stored; false when a message already holds the number.
    pub(crate) async fn tombstone(&self, room_id: &str, seq: i64) -> ApiResult<bool> {
        let placeholder = MessageDoc {
            id: new_id(),
            room_id: room_id.to_owned(),
            seq,
            author_id: String::new(),
            body: String::new(),
            mention_ids: Vec::new(),
            deleted: true,
            created_at: now_millis(),
            edited_at: None,
        };
        match self.messages.insert(&placeholder).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_duplicate() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes a live notification; losing one only delays subscribers until their next poll.
    pub(crate) async fn notify(&self, room_id: &str, payload: serde_json::Value) {
        let channel = room_channel(room_id);
        if let Err(error) = self.pubsub.publish(&channel, &payload.to_string()).await {
            tracing::warn!(%channel, %error, "live notification not published");
        }
    }

    /// A message the caller may change (it exists, they are its author and still a member of
    /// its room), with its room.
    async fn own_message(
        &self,
        user_id: &str,
        message_id: &str,
    ) -> ApiResult<(MessageDoc, RoomDoc)> {
        let message = self
            .messages
            .get(message_id)
            .await?
            .filter(|m| !m.deleted)
            .ok_or_else(|| ApiError::not_found("message"))?;
        let room = self.room_for_member(user_id, &message.room_id).await?;
        if message.author_id != user_id {
            return Err(ApiError::forbidden("only the author may change a message"));
        }
        Ok((message, room))
    }

    /// Replaces the body (mentions are resolved again) and stamps `editedAt`.
    pub async fn edit(&self, user_id: &str, message_id: &str, body: &str) -> ApiResult<MessageDoc> {
        let body = text::body(body)?;
        let (_, room) = self.own_message(user_id, message_id).await?;
        let mentions = self.resolve_mentions(&room, &body).await?;
        let update = Update::new()
            .set("body", body)
            .set("mentionIds", json!(mentions))
            .set("editedAt", now_millis());
        self.messages
            .update_one(
                &Filter::eq("id", message_id).and(Filter::eq("deleted", false)),
                &update,
            )
            .await?
            .ok_or_else(|| ApiError::not_found("message"))
    }

    /// Deletes a message (its sequence number stays taken); false when it was already gone.
    pub async fn delete(&self, user_id: &str, message_id: &str) -> ApiResult<bool> {
        self.own_message(user_id, message_id).await?;
        let update = Update::new()
            .set("deleted", true)
            .set("body", "")
            .set("mentionIds", json!([]))
            // Gone before anyone was told: nothing left to announce.
            .set(kit::outbox::PENDING, json!([]));
        let deleted = self
            .messages
            .update_one(
                &Filter::eq("id", message_id).and(Filter::eq("deleted", false)),
                &update,
            )
            .await?;
        Ok(deleted.is_some())
    }

    /// Up to `last` messages before the cursor `before` (or the newest), oldest first.
    pub async fn history(
        &self,
        room_id: &str,
        last: Option<i32>,
        before: Option<&str>,
    ) -> ApiResult<HistoryPage> {
        let last = last.unwrap_or(50);
        if !(0..=MAX_PAGE).contains(&last) {
            return Err(ApiError::bad_input(
                "last",
                format!("must be between 0 and {MAX_PAGE}"),
            ));
        }
        let mut filter = Filter::eq("roomId", room_id).and(Filter::eq("deleted", false));
        if let Some(before) = before {
            filter = filter.and(Filter::lt("seq", text::parse_cursor(before)?));
        }
        let options = FindOptions::default()
            .sort("seq", Order::Desc)
            .limit(last as u64 + 1);
        let mut messages = self.messages.find(&filter, &options).await?;
        let has_previous = messages.len() > last as usize;
        messages.truncate(last as usize);
        messages.reverse();
        Ok(HistoryPage {
            messages,
            has_previous,
        })
    }

    /// Member ids named in `body`, matched case-insensitively against each member's id and
    /// display name (compared without spaces and punctuation). Unknown handles are plain text.
    pub async fn resolve_mentions(&self, room: &RoomDoc, body: &str) -> ApiResult<Vec<String>> {
        let handles = text::mention_handles(body);
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let names = self.names.get_many(&room.member_ids).await?;
        let mut mentioned: Vec<String> = Vec::new();
        for handle in &handles {
            let by_id = room
                .member_ids
                .iter()
                .find(|id| id.to_lowercase() == *handle);
            let squashed = text::squash(handle);
            let by_name = names
                .iter()
                .find(|n| !squashed.is_empty() && n.handle == squashed)
                .map(|n| &n.id);
            if let Some(id) = by_id.or(by_name) {
                if !mentioned.contains(id) {
                    mentioned.push(id.clone());
                }
            }
        }
        Ok(mentioned)
    }
}

/// `FORBIDDEN` unless `user_id` is a member of `room`.
pub fn check_member(room: &RoomDoc, user_id: &str) -> ApiResult<()> {
    if room.has_member(user_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden("you are not a member of this room"))
    }
}

/// `MessagePosted` for `message` in `room`. Its id is the message id, so consumers that
/// deduplicate by event id also see a message once when its event is sent twice (the sweeper
/// racing a slow sender).
fn message_posted(room: &RoomDoc, message: &MessageDoc) -> DomainEvent {
    let mut payload = json!({
        "roomId": room.id,
        "roomName": room.name,
        "messageId": message.id,
        "authorId": message.author_id,
        "mentionedUserIds": message.mention_ids,
    });
    if let Some(board_id) = &room.board_id {
        payload["boardId"] = json!(board_id);
    }
    let mut event = DomainEvent::new("MessagePosted", &message.author_id, payload);
    event.id = message.id.clone();
    event
}
