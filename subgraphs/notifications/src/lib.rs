//! The notifications subgraph: notifications created only from domain events (task assigned,
//! added to a board, mentioned in chat), stored once, streamed live, read by their recipient.

pub mod events;
pub mod model;
pub mod schema;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use auth::TokenVerifier;
use axum::Router;
use kit::config::ServiceConfig;
use kit::Infra;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use schema::{build_schema, NotificationsSchema};
pub use service::NotificationsService;

pub const SERVICE: &str = "notifications";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] kit::infra::InfraError),
    #[error("setting up the store: {}", .0.message())]
    Setup(kit::ApiError),
}

/// Everything the notifications service is made of.
pub struct Notifications {
    pub infra: Infra,
    pub service: Arc<NotificationsService>,
    pub schema: NotificationsSchema,
    verifier: TokenVerifier,
    instance: String,
    reclaim_idle: Duration,
}

impl Notifications {
    /// Connects the backing services; `verifier` checks callers' tokens (normally
    /// `TokenVerifier::remote(jwks_url, ..)`).
    pub async fn start(
        config: &ServiceConfig,
        verifier: TokenVerifier,
    ) -> Result<Self, StartError> {
        let infra = Infra::connect_with_retry(config, SERVICE).await?;
        let service = Arc::new(
            NotificationsService::new(&infra.store, infra.pubsub.clone())
                .await
                .map_err(StartError::Setup)?,
        );
        let schema = build_schema(service.clone(), infra.pubsub.clone());
        Ok(Self {
            infra,
            service,
            schema,
            verifier,
            instance: config.instance_id(),
            reclaim_idle: Duration::from_secs(config.event_reclaim_idle_secs),
        })
    }

    /// How long an event may stay unacknowledged before this instance's consumers take it
    /// over (default `event_reclaim_idle_secs` of the configuration).
    pub fn with_reclaim_idle(mut self, reclaim_idle: Duration) -> Self {
        self.reclaim_idle = reclaim_idle;
        self
    }
}

impl kit::lifecycle::Subgraph for Notifications {
    /// The kit's GraphQL endpoints.
    fn app(&self, shutdown: CancellationToken) -> Router {
        let ctx = self.infra.server_context(self.verifier.clone(), shutdown);
        kit::server::app(self.schema.clone(), ctx, Router::new())
    }

    /// One consumer per domain event stream in the group `notifications`, named after this
    /// instance; entries a dead replica left unacknowledged for the reclaim time are taken over.
    fn start_background(&self, tasks: &mut kit::lifecycle::Background) {
        for consumer in events::spawn_consumers(
            self.infra.events.clone(),
            self.service.clone(),
            self.infra.metrics.clone(),
            &format!("{SERVICE}-{}", self.instance),
            self.reclaim_idle,
            tasks.shutdown(),
        ) {
            tasks.keep(consumer);
        }
    }
}

/// Serves the subgraph and runs its consumers until `shutdown` is cancelled.
pub async fn serve(
    config: &ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let notifications = Notifications::start(config, config.remote_verifier()).await?;
    kit::lifecycle::run(notifications, listener, shutdown).await?;
    Ok(())
}

/// The federation SDL this subgraph serves (`schema/notifications.graphql`).
pub fn federation_sdl(schema: &NotificationsSchema) -> String {
    kit::federation::sdl(schema)
}
