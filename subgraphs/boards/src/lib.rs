//! The boards subgraph: boards, their members and tasks, visible to board members only.
//!
//! Start it with [`Boards::start`] (give it the token verifier: `config.remote_verifier()` in
//! production, a static one in tests), then run it with `kit::lifecycle::run`, or call
//! [`serve`] for both.

pub mod events;
pub mod model;
pub mod page;
pub mod position;
pub mod schema;
pub mod service;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use auth::TokenVerifier;
use axum::Router;
use kit::config::ServiceConfig;
use kit::infra::InfraError;
use kit::Infra;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use schema::{build_schema, BoardsSchema};
pub use service::BoardsService;

/// The service name: metrics label, embedded store file (`<data_dir>/boards.db`), cache prefix.
pub const SERVICE: &str = "boards";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] InfraError),
    /// Creating indexes failed (the context is kept: this is for logs, not clients).
    #[error("setting up the store: {0:?}")]
    Setup(kit::ApiError),
}

/// Everything the boards HTTP app is made of.
pub struct Boards {
    pub infra: Infra,
    pub service: Arc<BoardsService>,
    pub schema: BoardsSchema,
    verifier: TokenVerifier,
    sweep_every: Option<Duration>,
}

impl Boards {
    /// Connects the store, pub/sub, event stream and cache `config` names and builds the
    /// schema. `verifier` checks callers' access tokens.
    pub async fn start(
        config: &ServiceConfig,
        verifier: TokenVerifier,
    ) -> Result<Self, StartError> {
        let infra = Infra::connect_with_retry(config, SERVICE).await?;
        let service = Arc::new(
            BoardsService::new(&infra)
                .await
                .map_err(StartError::Setup)?,
        );
        let schema = build_schema(service.clone());
        Ok(Self {
            infra,
            service,
            schema,
            verifier,
            sweep_every: Some(kit::outbox::SWEEP_EVERY),
        })
    }

    /// How often the background outbox sweeper runs (default [`kit::outbox::SWEEP_EVERY`]);
    /// `None` starts none (tests that count store calls, or a deployment sweeping elsewhere).
    pub fn with_outbox_sweep(mut self, every: Option<Duration>) -> Self {
        self.sweep_every = every;
        self
    }
}

impl kit::lifecycle::Subgraph for Boards {
    /// The kit's `/graphql` (POST, GET, WebSocket), `/health`, `/ready`, `/metrics`.
    fn app(&self, shutdown: CancellationToken) -> Router {
        let ctx = self.infra.server_context(self.verifier.clone(), shutdown);
        kit::server::app(self.schema.clone(), ctx, Router::new())
    }

    /// The domain-event outbox sweeper and the trimmer of the `boards` stream.
    fn start_background(&self, tasks: &mut kit::lifecycle::Background) {
        if let Some(every) = self.sweep_every {
            let outbox = self.service.outbox().clone();
            tasks.keep(outbox.spawn_sweeper(every, tasks.shutdown()));
        }
        tasks.keep(self.infra.spawn_trimmer(events::STREAM, tasks.shutdown()));
    }
}

/// Serves the boards subgraph and its background work on `listener` until `shutdown` is
/// cancelled, verifying tokens against `config.jwks_url`.
pub async fn serve(
    config: &ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let boards = Boards::start(config, config.remote_verifier()).await?;
    kit::lifecycle::run(boards, listener, shutdown).await?;
    Ok(())
}

/// The federation SDL this subgraph serves (`schema/boards.graphql`).
pub fn federation_sdl(schema: &BoardsSchema) -> String {
    kit::federation::sdl(schema)
}
