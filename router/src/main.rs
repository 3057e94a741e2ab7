//! `router serve` and `router plan`.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

// The executor allocates many small, short-lived buffers per request; mimalloc's
// thread-local free lists serve those far faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "router", about = "Apollo Federation v2 router")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compose subgraph SDLs into a supergraph.
    Compose(router::cli::ComposeArgs),
    /// Report what proposed subgraph schemas break for clients (exit status 1 when breaking).
    Check(router::cli::CheckArgs),
    /// Serve GraphQL over HTTP. The configuration is `--config`'s TOML file (every key is
    /// documented in router.example.toml), then `ROUTER_*` environment variables (tables
    /// joined by `__`: `ROUTER_LIMITS__MAX_DEPTH=20`), then these flags.
    Serve(ServeFlags),
    /// Print the query plan of an operation.
    Plan {
        #[arg(long)]
        supergraph: PathBuf,
        /// A file containing the operation, or the operation text itself.
        #[arg(long)]
        query: String,
        #[arg(long)]
        operation_name: Option<String>,
        /// Variables as a JSON object (they decide @skip/@include).
        #[arg(long)]
        variables: Option<String>,
        /// Progressive @override labels to plan as enabled (repeatable).
        #[arg(long = "enable-label")]
        enabled_labels: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ServeFlags {
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
    #[arg(long = "subgraph-timeout", value_parser = router::flags::parse_subgraph_timeout)]
    subgraph_timeouts: Vec<router::flags::SubgraphTimeout>,
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
        router::flags::timeout_flags(&mut flags, &self.subgraph_timeouts);
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(flags) => serve(flags).await,
        Command::Compose(args) => {
            let _logs = tool_logs();
            std::process::exit(router::cli::compose_command(args).await.into())
        }
        Command::Check(args) => {
            let _logs = tool_logs();
            std::process::exit(router::cli::check_command(args).await.into())
        }
        Command::Plan {
            supergraph,
            query,
            operation_name,
            variables,
            enabled_labels,
        } => {
            let _logs = tool_logs();
            plan(supergraph, query, operation_name, variables, enabled_labels)
        }
    }
}

/// Logs of the one-shot commands: human-readable, no trace export.
fn tool_logs() -> telemetry::Telemetry {
    let export = telemetry::ExportSettings::default();
    telemetry::init_with("router", telemetry::LogFormat::Human, "info", &export)
}

async fn serve(flags: ServeFlags) -> anyhow::Result<()> {
    let env = std::env::vars().collect();
    let file = flags.config.clone();
    let config = router::config::load(file.as_deref(), &env, flags.overrides())?;
    let telemetry = telemetry::init("router", config.telemetry.log_format, "info");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(listen = %config.listen, "router listening");
    let served = router::serve(config, listener, shutdown_on_signals()).await;
    telemetry.shutdown().await;
    Ok(served?)
}

fn plan(
    supergraph: std::path::PathBuf,
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    enabled_labels: Vec<String>,
) -> anyhow::Result<()> {
    let sdl = std::fs::read_to_string(&supergraph)
        .with_context(|| format!("reading {}", supergraph.display()))?;
    let sg = router::supergraph::Supergraph::parse(&sdl)?;
    let query = match std::fs::read_to_string(&query) {
        Ok(text) => text,
        Err(_) => query,
    };
    let variables = match variables {
        Some(text) => serde_json::from_str(&text).context("--variables must be a JSON object")?,
        None => serde_json::Map::new(),
    };
    let plan = router::pipeline::plan_only(
        &sg,
        &query,
        operation_name.as_deref(),
        variables,
        &enabled_labels,
    )?;
    println!("{plan}");
    Ok(())
}
