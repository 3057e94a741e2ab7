//! The accounts subgraph: sign-up, sign-in, JWT access tokens and rotating refresh tokens,
//! profiles. It signs tokens with an Ed25519 key and publishes the public key as JWKS.

pub mod model;
pub mod schema;
pub mod service;
pub mod validate;

use std::sync::Arc;

use auth::{TokenSigner, TokenVerifier};
use axum::routing::get;
use axum::{Json, Router};
use kit::config::ServiceConfig;
use kit::Infra;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use schema::{build_schema, AccountsSchema};
pub use service::AccountsService;

pub const SERVICE: &str = "accounts";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] kit::infra::InfraError),
    #[error("signing key: {0}")]
    Key(#[from] auth::signer::SignerError),
    #[error("setting up the store: {}", .0.message())]
    Setup(kit::ApiError),
}

/// Everything the accounts HTTP app is made of.
pub struct Accounts {
    pub infra: Infra,
    pub service: Arc<AccountsService>,
    pub schema: AccountsSchema,
    sweep_every: Option<std::time::Duration>,
}

impl Accounts {
    pub async fn start(config: &ServiceConfig) -> Result<Self, StartError> {
        let infra = Infra::connect_with_retry(config, SERVICE).await?;
        let signer = TokenSigner::load_or_generate(
            &config.jwt_key_path(),
            &config.jwt_issuer,
            &config.jwt_audience,
        )?
        .also_publishing(&config.jwt_verify_key_files)?;
        let signer = Arc::new(signer);
        let service = Arc::new(
            AccountsService::new(
                &infra.store,
                infra.events.clone(),
                signer,
                chrono::Duration::seconds(config.access_token_ttl_secs as i64),
                chrono::Duration::days(config.refresh_token_ttl_days as i64),
            )
            .await
            .map_err(StartError::Setup)?,
        );
        let schema = build_schema(service.clone());
        Ok(Self {
            infra,
            service,
            schema,
            sweep_every: Some(kit::outbox::SWEEP_EVERY),
        })
    }

    /// How often the background outbox sweeper runs (default
    /// [`kit::outbox::SWEEP_EVERY`]); `None` starts none.
    pub fn with_outbox_sweep(mut self, every: Option<std::time::Duration>) -> Self {
        self.sweep_every = every;
        self
    }
}

impl kit::lifecycle::Subgraph for Accounts {
    /// The kit's GraphQL endpoints plus `/.well-known/jwks.json`.
    fn app(&self, shutdown: CancellationToken) -> Router {
        let signer = self.service.signer();
        let jwks = signer.jwks();
        let verifier = TokenVerifier::from_jwks(&jwks, signer.issuer(), signer.audience());
        let ctx = self.infra.server_context(verifier, shutdown);
        let extra = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let jwks = jwks.clone();
                async move { Json(jwks) }
            }),
        );
        kit::server::app(self.schema.clone(), ctx, extra)
    }

    /// The outbox sweeper and the trimmer of the `accounts` stream.
    fn start_background(&self, tasks: &mut kit::lifecycle::Background) {
        tasks.keep(
            self.infra
                .spawn_trimmer(service::EVENTS_STREAM, tasks.shutdown()),
        );
        if let Some(every) = self.sweep_every {
            let outbox = self.service.outbox().clone();
            tasks.keep(outbox.spawn_sweeper(every, tasks.shutdown()));
        }
    }
}

/// Serves the accounts subgraph and its background work on `listener` until `shutdown` is
/// cancelled.
pub async fn serve(
    config: &ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let accounts = Accounts::start(config).await?;
    kit::lifecycle::run(accounts, listener, shutdown).await?;
    Ok(())
}

/// The federation SDL this subgraph serves (`schema/accounts.graphql`).
pub fn federation_sdl(schema: &AccountsSchema) -> String {
    kit::federation::sdl(schema)
}
