//! `router serve`: the configuration from file, environment and flags, and a shutdown on
//! SIGTERM or ctrl-c.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct ServeFlags {
    /// TOML config file.
    #[arg(long, env = "ROUTER_CONFIG")]
    config: Option<PathBuf>,
    /// The supergraph file (reloaded when it changes); instead of `[[subgraphs]]`.
    #[arg(long)]
    supergraph: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:4000).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Request headers forwarded to every subgraph besides Authorization (repeatable).
    #[arg(long = "forward-header")]
    forward_headers: Vec<String>,
    /// Subgraph timeout: `<duration>` for every subgraph or `<subgraph>=<duration>` for
    /// one (`500ms`, `2s`, `1m`; repeatable).
    #[arg(long = "subgraph-timeout", value_parser = crate::flags::parse_subgraph_timeout)]
    subgraph_timeouts: Vec<crate::flags::SubgraphTimeout>,
    /// Progressive @override label enabled for every request, e.g. a feature flag
    /// (repeatable). `percent(N)` labels are rolled per request either way.
    #[arg(long = "override-label")]
    override_labels: Vec<String>,
    /// JWKS URL of the token issuer: `Authorization` (HTTP header or WebSocket
    /// `connection_init`) is verified at the router; without it, only subgraphs check it.
    #[arg(long, requires_all = ["jwt_issuer", "jwt_audience"])]
    jwks_url: Option<String>,
    #[arg(long)]
    jwt_issuer: Option<String>,
    #[arg(long)]
    jwt_audience: Option<String>,
}

impl ServeFlags {
    /// The flags that were given, as config keys.
    fn overrides(self) -> serde_json::Map<String, serde_json::Value> {
        let mut flags = serde_json::Map::new();
        if let Some(path) = self.supergraph {
            flags.insert("supergraph".into(), path.display().to_string().into());
        }
        if let Some(listen) = self.listen {
            flags.insert("listen".into(), listen.to_string().into());
        }
        if !self.forward_headers.is_empty() {
            flags.insert("headers.forward".into(), self.forward_headers.into());
        }
        crate::flags::timeout_flags(&mut flags, &self.subgraph_timeouts);
        if !self.override_labels.is_empty() {
            flags.insert("override_labels".into(), self.override_labels.into());
        }
        if let (Some(url), Some(issuer), Some(audience)) =
            (self.jwks_url, self.jwt_issuer, self.jwt_audience)
        {
            let jwt =
                serde_json::json!({ "jwks_url": url, "issuer": issuer, "audience": audience });
            flags.insert("jwt".into(), jwt);
        }
        flags
    }
}

/// A token cancelled on ctrl-c or SIGTERM (what `docker stop` and Kubernetes send), so
/// in-flight requests drain and WebSocket sessions and streams end cleanly.
fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

pub async fn serve(flags: ServeFlags) -> anyhow::Result<()> {
    let env = std::env::vars().collect();
    let file = flags.config.clone();
    let config = crate::config::load(file.as_deref(), &env, flags.overrides())?;
    let telemetry = telemetry::init("router", config.telemetry.log_format, "info");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(listen = %config.listen, "router listening");
    let served = crate::serve(config, listener, shutdown_on_signals()).await;
    telemetry.shutdown().await;
    Ok(served?)
}
