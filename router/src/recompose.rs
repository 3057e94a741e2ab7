//! `[[subgraphs]]` in the config: the router composes its own supergraph from a list of
//! subgraphs, at start and (with `poll_interval`) whenever a subgraph's SDL changes. A composition
//! error keeps the last good supergraph and is reported; it never stops the router.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::compose::{compose_text, fetch_sdl, SubgraphInput};
use crate::{AppState, Config, RouterState, ServeError};

/// One subgraph: its routing URL, and where its SDL comes from (the URL's `_service { sdl }`
/// unless `sdl_file` is given).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubgraphSource {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdl_file: Option<PathBuf>,
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

/// Composes at start (retrying while subgraphs come up, for up to `startup_wait`) and,
/// with a `poll_interval`, keeps recomposing on SDL changes until `shutdown` is cancelled.
pub async fn start(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<Arc<AppState>, ServeError> {
    let deadline = tokio::time::Instant::now() + config.startup_wait;
    let inputs = loop {
        match fetch_all(&config.subgraphs).await {
            Ok(inputs) => break inputs,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "waiting for subgraphs");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(ServeError::Compose(e)),
        }
    };
    let supergraph = compose_text(&inputs)
        .map_err(|e| ServeError::Compose(format!("composition failed:\n{e}")))?;
    let client = crate::client(config)?;
    let state = RouterState::new(&supergraph, client, config.execution())?;
    let state = crate::app_state(config, state, shutdown.clone())?;
    if !config.poll_interval.is_zero() {
        tokio::spawn(poll(config.clone(), inputs, state.clone(), shutdown));
    }
    Ok(state)
}

/// Recomposes when any subgraph's SDL changed; failures keep the running supergraph.
async fn poll(
    config: Config,
    mut last: Vec<SubgraphInput>,
    state: Arc<AppState>,
    shutdown: CancellationToken,
) {
    let execution = config.execution();
    let mut tick = tokio::time::interval(config.poll_interval);
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
                let warmed = state.install(next).await;
                tracing::info!(warmed, "subgraph SDL changed; supergraph recomposed");
            }
            Err(e) => {
                tracing::error!(error = %e, "recomposition failed; keeping the last good supergraph")
            }
        }
        // Remember what was seen either way, so a broken SDL is reported once, not every tick.
        last = inputs;
    }
}
