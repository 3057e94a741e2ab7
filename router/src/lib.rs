//! Apollo Federation v2 router: supergraph → plan → execute → respond.
//!
//! Embedding: build a [`Config`], bind a listener, and call [`serve`] with a cancellation
//! token; or build an [`AppState`] with [`load_state`] and mount [`app`] yourself.

pub mod check;
pub mod cli;
pub mod compose;
pub mod composed;
pub mod execute;
pub mod flags;
pub mod http;
pub mod operation;
pub mod pipeline;
pub mod plan;
pub mod response;
pub mod service;
pub mod subscription;
pub mod supergraph;

pub use http::{app, AppState};
pub use service::{ExecutionSettings, RouterState};

use execute::fetch::SubgraphClient;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Router configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The supergraph SDL file; watched and reloaded when it changes.
    pub supergraph: PathBuf,
    /// Where `router serve` listens when it binds the socket itself.
    pub listen: SocketAddr,
    /// Request headers forwarded to subgraphs in addition to `Authorization`.
    pub forward_headers: Vec<String>,
    pub execution: ExecutionSettings,
    /// How often the supergraph file's modification time is checked.
    pub reload_interval: Duration,
    /// Verification of `Authorization` at the edge; `None` leaves tokens to the subgraphs.
    pub jwt: Option<JwtConfig>,
}

/// Where the router gets the keys that sign access tokens, and what they must claim.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
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

impl Config {
    /// Defaults for everything but the supergraph path.
    pub fn new(supergraph: impl Into<PathBuf>) -> Config {
        Config {
            supergraph: supergraph.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            forward_headers: Vec::new(),
            execution: ExecutionSettings::default(),
            reload_interval: Duration::from_secs(1),
            jwt: None,
        }
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
}

impl ServeError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Read { .. } => "SUPERGRAPH_UNREADABLE",
            ServeError::Supergraph(e) => e.code(),
            ServeError::Server(_) => "SERVER_ERROR",
        }
    }
}

/// Reads the supergraph file and builds the shared HTTP state; `shutdown` ends its
/// WebSocket sessions and streamed responses.
pub fn load_state(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<Arc<AppState>, ServeError> {
    let sdl = read(&config.supergraph)?;
    let state = RouterState::new(
        &sdl,
        Arc::new(SubgraphClient::new()),
        config.execution.clone(),
    )?;
    Ok(Arc::new(
        AppState::new(state, config.forward_headers.clone())
            .with_verifier(config.jwt.as_ref().map(JwtConfig::verifier))
            .with_shutdown(shutdown),
    ))
}

/// Serves the router on `listener` until `shutdown` is cancelled, reloading the supergraph
/// when its file changes. In-flight requests keep the state they started with.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let state = load_state(&config, shutdown.clone())?;
    tokio::spawn(watch_supergraph(
        config.clone(),
        state.clone(),
        shutdown.clone(),
    ));
    // Responses and WebSocket frames are written whole: Nagle's algorithm would only hold
    // the last segment of one back waiting for an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a client connection");
        }
    });
    axum::serve(listener, app(state))
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
    let mut last = modified(&config.supergraph);
    let mut tick = tokio::time::interval(config.reload_interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = modified(&config.supergraph);
        if now == last {
            continue;
        }
        last = now;
        let client = state.current.load().client.clone();
        let next = read(&config.supergraph)
            .and_then(|sdl| Ok(RouterState::new(&sdl, client, config.execution.clone())?));
        match next {
            Ok(next) => {
                state.current.store(Arc::new(next));
                tracing::info!(path = %config.supergraph.display(), "supergraph reloaded");
            }
            Err(error) => {
                tracing::error!(%error, code = error.code(), "supergraph reload failed; keeping the previous one")
            }
        }
    }
}
