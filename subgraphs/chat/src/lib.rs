//! The chat subgraph: rooms, persistent message history and live messages.
//!
//! - **Board rooms** (`Board.chatRoom`, id `board-<boardId>`) are created and kept in sync by
//!   consuming the boards subgraph's domain events (stream `boards`, group `chat`); see [`sync`].
//!   Other rooms come from `createChatRoom`, whose creator is always a member.
//! - **Ordering.** Each message gets a per-room sequence number from one atomic `$inc` on the
//!   room (which also checks membership), is stored under a unique `(roomId, seq)` index, and
//!   only then announced on pub/sub. History pages by `seq`; `messageAdded` reads messages from
//!   the store by `seq` and waits out gaps, so every subscriber on every replica sees the
//!   history order; see [`live`].
//! - **Mentions.** Chat does not own users, and asking the accounts subgraph at send time
//!   would couple the two behind the router's back (and fail sends while accounts is down).
//!   Instead chat keeps a name directory from the accounts subgraph's durable
//!   `UserRegistered`/`UserRenamed` events (stream `accounts`, payload {userId, name}), so
//!   resolution is a local lookup. `@handle` matches, case-insensitively and against the
//!   room's members only, a member's user id or a member's display name compared without
//!   spaces and punctuation (`@AdaLovelace`, `@ada_lovelace` or `@ada.lovelace` for
//!   "Ada Lovelace"). Anything else after `@` is plain text. Mentions are resolved once, at
//!   send (and edit) time; a later rename does not rewrite them.
//! - Every stored message appends `MessagePosted` {roomId, roomName, messageId, authorId,
//!   mentionedUserIds, boardId?} to the durable stream `chat`; its event id is the message id.
//!   The event is stored in the message document by the same insert (`kit::outbox`), so an
//!   append that failed, or a replica that died before appending, is re-sent by the sweeper.

pub mod live;
pub mod model;
pub mod schema;
pub mod service;
pub mod sync;
pub mod text;

use std::sync::Arc;

use auth::TokenVerifier;
use axum::Router;
use kit::config::ServiceConfig;
use kit::events::{spawn_consumer, ConsumerConfig, EventHandler};
use kit::Infra;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use schema::{build_schema, ChatSchema};
pub use service::ChatService;

/// The service name (metrics label, embedded store file `chat.db`).
pub const SERVICE: &str = "chat";

/// Why the chat subgraph could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] kit::infra::InfraError),
    #[error("setting up the store: {}", .0.message())]
    Setup(kit::ApiError),
}

/// Everything the chat HTTP app is made of.
pub struct Chat {
    pub infra: Infra,
    pub service: Arc<ChatService>,
    pub schema: ChatSchema,
    verifier: TokenVerifier,
    consumer_name: String,
    reclaim_idle: std::time::Duration,
}

impl Chat {
    /// Connects the store and events. Tokens are checked with `verifier`, normally
    /// `config.remote_verifier()`.
    pub async fn start(
        config: &ServiceConfig,
        verifier: TokenVerifier,
    ) -> Result<Self, StartError> {
        let infra = Infra::connect_with_retry(config, SERVICE).await?;
        let service = Arc::new(
            ChatService::new(&infra.store, infra.pubsub.clone(), infra.events.clone())
                .await
                .map_err(StartError::Setup)?,
        );
        let schema = build_schema(service.clone());
        Ok(Self {
            infra,
            service,
            schema,
            verifier,
            consumer_name: format!("{SERVICE}-{}", config.instance_id()),
            reclaim_idle: std::time::Duration::from_secs(config.event_reclaim_idle_secs),
        })
    }
}

impl kit::lifecycle::Subgraph for Chat {
    /// The kit's GraphQL endpoints.
    fn app(&self, shutdown: CancellationToken) -> Router {
        let ctx = self.infra.server_context(self.verifier.clone(), shutdown);
        kit::server::app(self.schema.clone(), ctx, Router::new())
    }

    /// The consumers of board and account events (board rooms and the name directory stay in
    /// sync), the `MessagePosted` outbox sweeper and the trimmer of the `chat` stream.
    fn start_background(&self, tasks: &mut kit::lifecycle::Background) {
        let handlers: [(&str, Arc<dyn EventHandler>); 2] = [
            (
                sync::BOARDS_STREAM,
                Arc::new(sync::BoardEvents(self.service.clone())),
            ),
            (
                sync::ACCOUNTS_STREAM,
                Arc::new(sync::AccountEvents(self.service.clone())),
            ),
        ];
        for (stream, handler) in handlers {
            let mut config = ConsumerConfig::new(stream, sync::CONSUMER_GROUP, &self.consumer_name);
            config.reclaim_idle = self.reclaim_idle;
            tasks.keep(spawn_consumer(
                self.infra.events.clone(),
                config,
                handler,
                self.infra.metrics.clone(),
                tasks.shutdown(),
            ));
        }
        tasks.keep(
            self.infra
                .spawn_trimmer(service::CHAT_STREAM, tasks.shutdown()),
        );
        let outbox = self.service.outbox().clone();
        tasks.keep(outbox.spawn_sweeper(kit::outbox::SWEEP_EVERY, tasks.shutdown()));
    }
}

/// Serves the chat subgraph and its background work on `listener` until `shutdown` is
/// cancelled, verifying tokens against the accounts JWKS named in `config`.
pub async fn serve(
    config: &ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let chat = Chat::start(config, config.remote_verifier()).await?;
    kit::lifecycle::run(chat, listener, shutdown).await?;
    Ok(())
}

/// The federation SDL this subgraph serves (`schema/chat.graphql`).
pub fn federation_sdl(schema: &ChatSchema) -> String {
    kit::federation::sdl(schema)
}
