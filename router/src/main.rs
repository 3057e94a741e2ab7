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
    /// Serve GraphQL over HTTP for a supergraph, reloading it when the file changes; or, with
    /// `--config`, compose the supergraph from the subgraphs listed there.
    Serve {
        #[arg(long, env = "ROUTER_SUPERGRAPH", required_unless_present = "config")]
        supergraph: Option<PathBuf>,
        /// TOML file listing subgraphs (name, url); the router composes at start and, with
        /// `poll_interval_secs`, recomposes when a subgraph's SDL changes.
        #[arg(long, env = "ROUTER_CONFIG", conflicts_with = "supergraph")]
        config: Option<PathBuf>,
        /// Listen address (default 127.0.0.1:4000; with `--config`, overrides the file's).
        #[arg(long, env = "ROUTER_LISTEN")]
        listen: Option<SocketAddr>,
        /// Request headers forwarded to subgraphs besides Authorization (repeatable;
        /// comma-separated in the environment variable).
        #[arg(
            long = "forward-header",
            env = "ROUTER_FORWARD_HEADERS",
            value_delimiter = ','
        )]
        forward_headers: Vec<String>,
        /// Default subgraph timeout in milliseconds (30 000 unless set; a
        /// `--subgraph-timeout <duration>` wins).
        #[arg(long, env = "ROUTER_SUBGRAPH_TIMEOUT_MS")]
        subgraph_timeout_ms: Option<u64>,
        /// Subgraph timeout: `<duration>` for every subgraph or `<subgraph>=<duration>` for
        /// one (`500ms`, `2s`, `1m`; repeatable; comma-separated in the environment variable).
        #[arg(
            long = "subgraph-timeout",
            env = "ROUTER_SUBGRAPH_TIMEOUTS",
            value_delimiter = ',',
            value_parser = router::flags::parse_subgraph_timeout
        )]
        subgraph_timeouts: Vec<router::flags::SubgraphTimeout>,
        /// Progressive @override label enabled for every request, e.g. a feature flag
        /// (repeatable; comma-separated in the environment variable). `percent(N)` labels
        /// are rolled per request either way.
        #[arg(
            long = "override-label",
            env = "ROUTER_OVERRIDE_LABELS",
            value_delimiter = ','
        )]
        override_labels: Vec<String>,
        /// JWKS URL of the token issuer: `Authorization` (HTTP header or WebSocket
        /// `connection_init`) is verified at the router; without it, only subgraphs check it.
        #[arg(long, env = "ROUTER_JWKS_URL", requires_all = ["jwt_issuer", "jwt_audience"])]
        jwks_url: Option<String>,
        #[arg(long, env = "ROUTER_JWT_ISSUER")]
        jwt_issuer: Option<String>,
        #[arg(long, env = "ROUTER_JWT_AUDIENCE")]
        jwt_audience: Option<String>,
    },
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

/// Flags over `base` (defaults, or the `--config` file's settings).
fn execution_settings(
    mut base: router::ExecutionSettings,
    timeout_ms: Option<u64>,
    timeouts: &[router::flags::SubgraphTimeout],
    override_labels: Vec<String>,
) -> router::ExecutionSettings {
    if let Some(ms) = timeout_ms {
        base.subgraph_timeout = std::time::Duration::from_millis(ms);
    }
    router::flags::apply_timeouts(&mut base, timeouts);
    for label in override_labels {
        if !base.override_labels.contains(&label) {
            base.override_labels.push(label);
        }
    }
    base
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

/// The three JWT flags (clap requires issuer and audience with the URL).
fn jwt_config(
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
) -> Option<router::JwtConfig> {
    Some(router::JwtConfig {
        jwks_url: jwks_url?,
        issuer: issuer?,
        audience: audience?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Compose(args) => {
            std::process::exit(router::cli::compose_command(args).await.into())
        }
        Command::Check(args) => std::process::exit(router::cli::check_command(args).await.into()),
        Command::Serve {
            config: Some(file),
            listen,
            forward_headers,
            subgraph_timeout_ms,
            subgraph_timeouts,
            override_labels,
            jwks_url,
            jwt_issuer,
            jwt_audience,
            ..
        } => {
            let mut config =
                router::composed::ServeConfig::load(&file).map_err(anyhow::Error::msg)?;
            // Flags add to or override the file.
            if let Some(jwt) = jwt_config(jwks_url, jwt_issuer, jwt_audience) {
                config.jwt = Some(jwt);
            }
            if let Some(listen) = listen {
                config.listen = listen;
            }
            for header in forward_headers {
                if !config.forward_headers.contains(&header) {
                    config.forward_headers.push(header);
                }
            }
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            tracing::info!(listen = %config.listen, "router listening (composing from subgraphs)");
            let shutdown = shutdown_on_signals();
            let execution = execution_settings(
                config.execution(),
                subgraph_timeout_ms,
                &subgraph_timeouts,
                override_labels,
            );
            let wait = std::time::Duration::from_secs(30);
            router::composed::serve_composed(config, execution, listener, shutdown, wait)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        Command::Serve {
            supergraph,
            listen,
            forward_headers,
            subgraph_timeout_ms,
            subgraph_timeouts,
            override_labels,
            jwks_url,
            jwt_issuer,
            jwt_audience,
            ..
        } => {
            let supergraph = supergraph.context("--supergraph or --config is required")?;
            let mut config = router::Config::new(supergraph);
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let listen = config.listen;
            config.forward_headers = forward_headers;
            config.jwt = jwt_config(jwks_url, jwt_issuer, jwt_audience);
            config.execution = execution_settings(
                config.execution,
                subgraph_timeout_ms,
                &subgraph_timeouts,
                override_labels,
            );
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(%listen, "router listening");
            let shutdown = shutdown_on_signals();
            router::serve(config, listener, shutdown).await?;
        }
        Command::Plan {
            supergraph,
            query,
            operation_name,
            variables,
            enabled_labels,
        } => {
            let sdl = std::fs::read_to_string(&supergraph)
                .with_context(|| format!("reading {}", supergraph.display()))?;
            let sg = router::supergraph::Supergraph::parse(&sdl)?;
            let query = match std::fs::read_to_string(&query) {
                Ok(text) => text,
                Err(_) => query,
            };
            let variables = match variables {
                Some(text) => {
                    serde_json::from_str(&text).context("--variables must be a JSON object")?
                }
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
        }
    }
    Ok(())
}
