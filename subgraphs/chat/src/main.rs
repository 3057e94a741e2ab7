//! The chat subgraph as its own process (for replicas behind NGINX).

use clap::Parser;
use kit::config::{self, ServiceConfig};

#[derive(Parser)]
#[command(about = "The chat subgraph")]
struct Flags {
    /// TOML config file.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    #[arg(long)]
    log_format: Option<config::LogFormat>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let mut overrides = serde_json::Map::new();
    config::flag(&mut overrides, "listen", flags.listen);
    config::flag(&mut overrides, "data_dir", flags.data_dir);
    config::flag(&mut overrides, "log_format", flags.log_format);
    let defaults = ServiceConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 4003)),
        ..ServiceConfig::default()
    };
    let config: ServiceConfig = config::load_from(
        defaults,
        flags.config.as_deref(),
        "CHAT_",
        ServiceConfig::ENV_ALIASES,
        &config::process_env(),
        overrides,
    )?;
    kit::telemetry::init(config.log_format, &config.log_level);
    let shutdown = kit::server::shutdown_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        "chat listening on http://{}/graphql",
        listener.local_addr()?
    );
    chat::serve(&config, listener, shutdown)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
