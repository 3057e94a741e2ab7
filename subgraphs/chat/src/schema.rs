//! The chat GraphQL API (`contract/chat.graphql`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Object, Schema, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use kit::federation::{authenticated, list_size};
use kit::{ApiError, ApiResult, Caller};

use crate::live;
use crate::model::{board_room_id, MessageDoc, RoomDoc};
use crate::service::{check_member, ChatService};
use crate::text;

/// The executable chat schema.
pub type ChatSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Builds the schema with its DataLoaders around `service`.
pub fn build_schema(service: Arc<ChatService>) -> ChatSchema {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(kit::server::ErrorCodes)
        // `_service { sdl }` links `@listSize` as `schema/*.graphql` does.
        .extension(kit::federation::ServiceSdl)
        .data(DataLoader::new(RoomLoader(service.clone()), tokio::spawn))
        .data(DataLoader::new(
            MessageLoader(service.clone()),
            tokio::spawn,
        ))
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a Arc<ChatService> {
    ctx.data_unchecked::<Arc<ChatService>>()
}

/// Batches room lookups: N ids in one request become one store query.
pub struct RoomLoader(Arc<ChatService>);

impl Loader<String> for RoomLoader {
    type Value = RoomDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, RoomDoc>, Self::Error> {
        let rooms = self.0.rooms_by_ids(keys).await.map_err(Arc::new)?;
        Ok(rooms.into_iter().map(|r| (r.id.clone(), r)).collect())
    }
}

/// Batches message lookups: N ids in one request become one store query.
pub struct MessageLoader(Arc<ChatService>);

impl Loader<String> for MessageLoader {
    type Value = MessageDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, MessageDoc>, Self::Error> {
        let messages = self.0.messages_by_ids(keys).await.map_err(Arc::new)?;
        Ok(messages.into_iter().map(|m| (m.id.clone(), m)).collect())
    }
}

async fn load_room(ctx: &Context<'_>, id: &str) -> ApiResult<Option<RoomDoc>> {
    let loader = ctx.data_unchecked::<DataLoader<RoomLoader>>();
    let room = loader
        .load_one(id.to_owned())
        .await
        .map_err(|e| ApiError::clone(&e))?;
    Ok(room.filter(|r| !r.deleted))
}

/// The room if it exists and the caller is a member (`None` when it does not exist).
async fn visible_room(ctx: &Context<'_>, id: &str) -> ApiResult<Option<ChatRoom>> {
    let caller = Caller::of(ctx);
    let user_id = caller.require_user()?;
    let Some(room) = load_room(ctx, id).await? else {
        return Ok(None);
    };
    check_member(&room, user_id)?;
    Ok(Some(ChatRoom(room)))
}

/// The message if it exists and the caller is a member of its room.
async fn visible_message(ctx: &Context<'_>, id: &str) -> ApiResult<Option<Message>> {
    let caller = Caller::of(ctx);
    caller.require_user()?;
    let loader = ctx.data_unchecked::<DataLoader<MessageLoader>>();
    let message = loader
        .load_one(id.to_owned())
        .await
        .map_err(|e| ApiError::clone(&e))?;
    let Some(message) = message.filter(|m| !m.deleted) else {
        return Ok(None);
    };
    match visible_room(ctx, &message.room_id).await? {
        Some(_) => Ok(Some(Message(message))),
        None => Ok(None),
    }
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A user, owned by the accounts subgraph; chat only refers to it.
#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
pub struct User {
    id: ID,
}

fn user(id: &str) -> User {
    User {
        id: ID(id.to_owned()),
    }
}

/// A board, owned by the boards subgraph; chat adds its room.
pub struct Board {
    id: String,
}

#[Object]
impl Board {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    /// The board's room: exists from the board's creation and holds exactly its members.
    async fn chat_room(&self, ctx: &Context<'_>) -> async_graphql::Result<ChatRoom> {
        let room = visible_room(ctx, &board_room_id(&self.id)).await?;
        Ok(room.ok_or_else(|| ApiError::not_found("this board's chat room"))?)
    }
}

/// A chat room; only its members ever get one.
pub struct ChatRoom(pub RoomDoc);

#[Object]
impl ChatRoom {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The board this room belongs to, when it is a board's room.
    async fn board(&self) -> Option<Board> {
        self.0.board_id.clone().map(|id| Board { id })
    }

    async fn members(&self) -> Vec<User> {
        self.0.member_ids.iter().map(|id| user(id)).collect()
    }

    /// Newest last. `before` is a cursor from an earlier page; `last` counts back from it.
    #[graphql(directive = list_size::apply(None, Some(vec!["last".into()]), Some(vec!["edges".into()]), Some(false)))]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<MessageConnection> {
        let page = service(ctx)
            .history(&self.0.id, last, before.as_deref())
            .await?;
        let edges: Vec<MessageEdge> = page
            .messages
            .into_iter()
            .map(|m| MessageEdge {
                cursor: text::cursor(m.seq),
                node: Message(m),
            })
            .collect();
        Ok(MessageConnection {
            page_info: MessagePageInfo {
                has_previous_page: page.has_previous,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }

    async fn created_at(&self) -> DateTime<Utc> {
        millis(self.0.created_at)
    }
}

/// A message of a room.
pub struct Message(pub MessageDoc);

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn room(&self, ctx: &Context<'_>) -> async_graphql::Result<ChatRoom> {
        let room = visible_room(ctx, &self.0.room_id).await?;
        Ok(room.ok_or_else(|| ApiError::not_found("chat room"))?)
    }

    async fn author(&self) -> User {
        user(&self.0.author_id)
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Users named in the body as @name (resolved by the chat subgraph at send time).
    async fn mentions(&self) -> Vec<User> {
        self.0.mention_ids.iter().map(|id| user(id)).collect()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        millis(self.0.created_at)
    }

    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at.map(millis)
    }

    /// Position in the room's history: increases by one per stored message.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
}

/// One page of a room's history, oldest first.
#[derive(SimpleObject)]
pub struct MessageConnection {
    edges: Vec<MessageEdge>,
    page_info: MessagePageInfo,
}

/// A message with its (stable) history cursor.
#[derive(SimpleObject)]
pub struct MessageEdge {
    cursor: String,
    node: Message,
}

/// Whether older messages exist before this page, and the cursor to fetch them.
#[derive(SimpleObject)]
pub struct MessagePageInfo {
    has_previous_page: bool,
    start_cursor: Option<String>,
}

/// Query root.
pub struct Query;

#[Object]
impl Query {
    /// A room the caller is a member of; null when it does not exist.
    #[graphql(directive = authenticated::apply())]
    async fn chat_room(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ChatRoom>> {
        Ok(visible_room(ctx, &id).await?)
    }

    /// Rooms the signed-in user is a member of.
    #[graphql(directive = authenticated::apply())]
    async fn my_chat_rooms(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChatRoom>> {
        let caller = Caller::of(ctx);
        let rooms = service(ctx).rooms_of(caller.require_user()?).await?;
        Ok(rooms.into_iter().map(ChatRoom).collect())
    }

    #[graphql(entity)]
    async fn find_chat_room_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ChatRoom>> {
        Ok(visible_room(ctx, &id).await?)
    }

    #[graphql(entity)]
    async fn find_message_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Message>> {
        Ok(visible_message(ctx, &id).await?)
    }

    #[graphql(entity)]
    async fn find_board_by_id(&self, id: ID) -> Board {
        Board { id: id.0 }
    }
}

/// Mutation root.
pub struct Mutation;

#[Object]
impl Mutation {
    /// A new room; the creator is always a member.
    #[graphql(requires_scopes = "chat:write")]
    async fn create_chat_room(
        &self,
        ctx: &Context<'_>,
        name: String,
        member_ids: Vec<ID>,
    ) -> async_graphql::Result<ChatRoom> {
        let caller = Caller::of(ctx);
        let ids: Vec<String> = member_ids.into_iter().map(|id| id.0).collect();
        let room = service(ctx)
            .create_room(caller.require_user()?, &name, &ids)
            .await?;
        Ok(ChatRoom(room))
    }

    /// Only room members may send; body is 1..4000 characters after trimming.
    #[graphql(requires_scopes = "chat:write")]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        body: String,
    ) -> async_graphql::Result<Message> {
        let caller = Caller::of(ctx);
        let message = service(ctx)
            .send(caller.require_user()?, &room_id, &body)
            .await?;
        Ok(Message(message))
    }

    /// Only the author edits; mentions are resolved again.
    #[graphql(requires_scopes = "chat:write")]
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
    ) -> async_graphql::Result<Message> {
        let caller = Caller::of(ctx);
        let message = service(ctx)
            .edit(caller.require_user()?, &id, &body)
            .await?;
        Ok(Message(message))
    }

    /// Only the author deletes; false when the message was already deleted.
    #[graphql(requires_scopes = "chat:write")]
    async fn delete_message(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let caller = Caller::of(ctx);
        Ok(service(ctx).delete(caller.require_user()?, &id).await?)
    }
}

/// Subscription root.
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// New messages in one room, for room members only, in the order they were stored.
    #[graphql(directive = authenticated::apply())]
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>>> {
        let caller = Caller::of(ctx);
        let user_id = caller.require_user()?;
        let stream = live::follow(service(ctx).clone(), user_id, &room_id).await?;
        Ok(stream.map(|item| item.map(Message).map_err(async_graphql::Error::from)))
    }
}
