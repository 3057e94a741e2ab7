//! Apollo Federation v2 router: supergraph → plan → execute → respond.
//!
//! Embedding: build a [`Config`] (or [`config::load`] one from a file, the environment and
//! flags), bind a listener, and call [`serve`] with a cancellation token; or build an
//! [`AppState`] with [`load_state`] and mount [`app`] yourself.

pub mod check;
pub mod cli;
pub mod compose;
pub mod config;
pub mod diagnostics;
pub mod edge;
pub mod entity_cache;
pub mod execute;
pub mod flags;
pub mod http;
pub mod kv;
pub mod metrics;
pub mod observe;
pub mod operation;
pub mod pipeline;
pub mod plan;
pub mod plan_store;
pub mod recompose;
pub mod response;
pub mod service;
pub mod state;
pub mod subscription;
pub mod supergraph;

pub use config::Config;
pub use http::{app, AppState};
pub use state::{ExecutionSettings, RouterState};

use execute::fetch::SubgraphClient;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Where the router gets the keys that sign access tokens, and what they must claim.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
}

impl JwtConfig {
    pub fn verifier(&self) -> Arc<auth::TokenVerifier> {
        Arc::new(auth::TokenVerifier::remote(
            &self.jwks_url,
            &self.issuer,
            &self.audience,
        ))
    }
}

/// Errors starting the router.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read supergraph {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Supergraph(#[from] supergraph::SupergraphError),
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Edge(String),
    #[error("{0}")]
    Compose(String),
}

impl ServeError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Read { .. } => "SUPERGRAPH_UNREADABLE",
            ServeError::Supergraph(e) => e.code(),
            ServeError::Server(_) => "SERVER_ERROR",
            ServeError::Config(_) => "CONFIG_INVALID",
            ServeError::Edge(_) => "CONFIG_INVALID",
            ServeError::Compose(_) => "COMPOSITION_FAILED",
        }
    }
}

/// Reads the supergraph file and builds the shared HTTP state; `shutdown` ends its
/// WebSocket sessions and streamed responses.
pub fn load_state(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<Arc<AppState>, ServeError> {
    let config::Source::File(path) = config.source()? else {
        return Err(ServeError::Compose(
            "load_state reads a supergraph file; `subgraphs` are composed by `serve`".into(),
        ));
    };
    let sdl = read(path)?;
    let state = RouterState::new(&sdl, client(config)?, config.execution())?;
    app_state(config, state, shutdown)
}

/// The subgraph client of a router instance, counting in metrics and caching responses as
/// `config` says.
pub fn client(config: &Config) -> Result<Arc<SubgraphClient>, ServeError> {
    let metrics = metrics::Metrics::new(&config.telemetry.metrics);
    let cache = entity_cache::EntityCache::new(&config.entity_cache)
        .map_err(|e| ServeError::Edge(format!("entity_cache.redis_url: {e}")))?;
    let mut client = SubgraphClient::with_metrics(metrics);
    client.cache = cache.map(Arc::new);
    Ok(Arc::new(client))
}

/// The shared HTTP state around a first router state.
pub fn app_state(
    config: &Config,
    state: RouterState,
    shutdown: CancellationToken,
) -> Result<Arc<AppState>, ServeError> {
    let edge = http::Edge::new(config).map_err(ServeError::Edge)?;
    Ok(Arc::new(
        AppState::with_edge(state, edge)
            .with_verifier(config.jwt.as_ref().map(JwtConfig::verifier))
            .with_shutdown(shutdown),
    ))
}

/// Serves the router on `listener` until `shutdown` is cancelled: from the supergraph file
/// (reloaded when it changes) or composed from `subgraphs` (recomposed when their SDL
/// changes, with `poll_interval`). In-flight requests keep the state they started with.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    serve_with(config, listener, shutdown, axum::Router::new()).await
}

/// [`serve`] with `extra` routes next to the router's own (the platform's live UI); the
/// router's routes win where both match.
pub async fn serve_with(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    extra: axum::Router,
) -> Result<(), ServeError> {
    let state = match config.source()? {
        config::Source::File(_) => {
            let state = load_state(&config, shutdown.clone())?;
            tokio::spawn(watch_supergraph(
                config.clone(),
                state.clone(),
                shutdown.clone(),
            ));
            state
        }
        config::Source::Compose(_) => recompose::start(&config, shutdown.clone()).await?,
    };
    tokio::spawn(edge::documents::watch(
        state.edge.documents.clone(),
        shutdown.clone(),
    ));
    let cache = &config.entity_cache;
    let client = state.current.load().client.clone();
    if let (Some(entities), Some(url), Some(channel)) = (
        client.cache.clone(),
        cache.redis_url.clone(),
        cache.invalidation_channel.clone(),
    ) {
        let metrics = client.metrics.clone();
        entity_cache::listen::spawn(entities, url, channel, metrics, shutdown.clone());
    }
    if let Some(gate) = &state.edge.gate {
        tracing::info!(backend = gate.limiter().backend_name(), "rate limiting on");
    }
    if let Some(address) = config.telemetry.metrics.listen {
        let listener = TcpListener::bind(address).await?;
        tracing::info!(listen = %address, "metrics listening");
        let metrics = axum::Router::new()
            .route("/metrics", axum::routing::get(http::metrics))
            .with_state(state.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let serving = axum::serve(listener, metrics)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            if let Err(error) = serving {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let metrics = state.current.load().client.metrics.clone();
    let listener = metrics::process::CountingListener::new(listener, metrics);
    // Responses and WebSocket frames are written whole: Nagle's algorithm would only hold
    // the last segment of one back waiting for an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(error) = stream.io.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a client connection");
        }
    });
    let service = extra
        .merge(app(state))
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

fn read(path: &Path) -> Result<String, ServeError> {
    std::fs::read_to_string(path).map_err(|source| ServeError::Read {
        path: path.to_owned(),
        source,
    })
}

fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Polls the supergraph file; a new valid supergraph replaces the state atomically, an
/// invalid one is logged and the previous state stays.
async fn watch_supergraph(config: Config, state: Arc<AppState>, shutdown: CancellationToken) {
    let Some(path) = config.supergraph.clone() else {
        return;
    };
    let mut last = modified(&path);
    let mut tick = tokio::time::interval(config.reload_interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = modified(&path);
        if now == last {
            continue;
        }
        last = now;
        let client = state.current.load().client.clone();
        let next =
            read(&path).and_then(|sdl| Ok(RouterState::new(&sdl, client, config.execution())?));
        match next {
            Ok(next) => {
                let warmed = state.install(next).await;
                tracing::info!(path = %path.display(), warmed, "supergraph reloaded");
            }
            Err(error) => {
                tracing::error!(%error, code = error.code(), "supergraph reload failed; keeping the previous one")
            }
        }
    }
}
