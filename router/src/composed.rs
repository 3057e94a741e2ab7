//! `router serve --config <file>`: the router composes its own supergraph from a list of
//! subgraphs, at start and (with polling on) whenever a subgraph's SDL changes. A composition
//! error keeps the last good supergraph and is reported; it never stops the router.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::compose::{compose_text, fetch_sdl, SubgraphInput};
use crate::execute::fetch::SubgraphClient;
use crate::{app, AppState, ExecutionSettings, RouterState};

/// The `--config` file (TOML). Unknown keys are rejected.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Seconds between SDL polls; 0 turns polling off.
    #[serde(default)]
    pub poll_interval_secs: u64,
    /// Request headers forwarded to subgraphs besides `Authorization`.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Progressive `@override` labels enabled for every request.
    #[serde(default)]
    pub override_labels: Vec<String>,
    /// Default subgraph timeout (`"30s"`, `"500ms"`).
    #[serde(default, deserialize_with = "crate::flags::de_duration")]
    pub subgraph_timeout: Option<Duration>,
    /// Per-subgraph timeouts: `[subgraph_timeouts]` with `inventory = "500ms"`.
    #[serde(default, deserialize_with = "crate::flags::de_durations")]
    pub subgraph_timeouts: HashMap<String, Duration>,
    /// `[jwt]` with `jwks_url`, `issuer`, `audience`: verify tokens at the router.
    #[serde(default)]
    pub jwt: Option<crate::JwtConfig>,
    pub subgraphs: Vec<SubgraphSource>,
}

/// One subgraph: its routing URL, and where its SDL comes from (the URL's `_service { sdl }`
/// unless `sdl_file` is given).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubgraphSource {
    pub name: String,
    pub url: String,
    pub sdl_file: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

impl ServeConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: ServeConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if config.subgraphs.is_empty() {
            return Err(format!("{}: no subgraphs listed", path.display()));
        }
        Ok(config)
    }

    /// The execution settings the file asks for, over the defaults.
    pub fn execution(&self) -> ExecutionSettings {
        let defaults = ExecutionSettings::default();
        ExecutionSettings {
            subgraph_timeout: self.subgraph_timeout.unwrap_or(defaults.subgraph_timeout),
            subgraph_timeouts: self.subgraph_timeouts.clone(),
            override_labels: self.override_labels.clone(),
            ..defaults
        }
    }
}

/// Reads every subgraph's SDL now.
pub async fn fetch_all(sources: &[SubgraphSource]) -> Result<Vec<SubgraphInput>, String> {
    let mut inputs = Vec::with_capacity(sources.len());
    for source in sources {
        let sdl = match &source.sdl_file {
            Some(file) => {
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
            }
            None => fetch_sdl(&source.url)
                .await
                .map_err(|e| format!("subgraph {}: {e}", source.name))?,
        };
        inputs.push(SubgraphInput {
            name: source.name.clone(),
            url: source.url.clone(),
            sdl,
        });
    }
    Ok(inputs)
}

/// Composes at start (retrying while subgraphs come up, for up to `startup_wait`), serves, and
/// recomposes on SDL changes until `shutdown` is cancelled.
pub async fn serve_composed(
    config: ServeConfig,
    execution: ExecutionSettings,
    listener: TcpListener,
    shutdown: CancellationToken,
    startup_wait: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + startup_wait;
    let inputs = loop {
        match fetch_all(&config.subgraphs).await {
            Ok(inputs) => break inputs,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "waiting for subgraphs");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let supergraph = compose_text(&inputs).map_err(|e| format!("composition failed:\n{e}"))?;
    let client = Arc::new(SubgraphClient::new());
    let state =
        RouterState::new(&supergraph, client, execution.clone()).map_err(|e| e.to_string())?;
    let state = Arc::new(
        AppState::new(state, config.forward_headers.clone())
            .with_verifier(config.jwt.as_ref().map(crate::JwtConfig::verifier))
            .with_shutdown(shutdown.clone()),
    );
    if config.poll_interval_secs > 0 {
        tokio::spawn(poll(
            config.clone(),
            inputs,
            state.clone(),
            execution,
            shutdown.clone(),
        ));
    }
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| e.to_string())
}

/// Recomposes when any subgraph's SDL changed; failures keep the running supergraph.
async fn poll(
    config: ServeConfig,
    mut last: Vec<SubgraphInput>,
    state: Arc<AppState>,
    execution: ExecutionSettings,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(config.poll_interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let inputs = match fetch_all(&config.subgraphs).await {
            Ok(inputs) => inputs,
            Err(e) => {
                tracing::warn!(error = %e, "polling subgraph SDL failed; keeping the current supergraph");
                continue;
            }
        };
        if inputs.iter().zip(&last).all(|(a, b)| a.sdl == b.sdl) {
            continue;
        }
        let client = state.current.load().client.clone();
        let next = compose_text(&inputs).and_then(|sdl| {
            RouterState::new(&sdl, client, execution.clone()).map_err(|e| e.to_string())
        });
        match next {
            Ok(next) => {
                state.current.store(Arc::new(next));
                tracing::info!("subgraph SDL changed; supergraph recomposed");
            }
            Err(e) => {
                tracing::error!(error = %e, "recomposition failed; keeping the last good supergraph")
            }
        }
        // Remember what was seen either way, so a broken SDL is reported once, not every tick.
        last = inputs;
    }
}
