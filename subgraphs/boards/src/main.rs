//! The boards subgraph as its own process (for replicas behind NGINX).

use clap::Parser;
use kit::config::{self, ServiceConfig};

#[derive(Parser)]
#[command(about = "The boards subgraph")]
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

/// The shared service settings with boards' own default address (accounts has 4001).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct BoardsConfig(ServiceConfig);

impl Default for BoardsConfig {
    fn default() -> Self {
        Self(ServiceConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 4002)),
            ..ServiceConfig::default()
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let mut overrides = serde_json::Map::new();
    config::flag(&mut overrides, "listen", flags.listen);
    config::flag(&mut overrides, "data_dir", flags.data_dir);
    config::flag(&mut overrides, "log_format", flags.log_format);
    let BoardsConfig(config) = config::load(
        flags.config.as_deref(),
        "BOARDS_",
        ServiceConfig::ENV_ALIASES,
        &config::process_env(),
        overrides,
    )?;
    kit::telemetry::init(config.log_format, &config.log_level);
    let shutdown = kit::server::shutdown_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        "boards listening on http://{}/graphql",
        listener.local_addr()?
    );
    boards::serve(&config, listener, shutdown)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<ServiceConfig, config::ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::load::<BoardsConfig>(
            None,
            "BOARDS_",
            ServiceConfig::ENV_ALIASES,
            &env,
            Default::default(),
        )
        .map(|BoardsConfig(config)| config)
    }

    #[test]
    fn boards_listens_on_4002_by_default_and_reads_its_own_prefix() {
        assert_eq!(load(&[]).expect("defaults").listen.port(), 4002);
        let config = load(&[
            ("BOARDS_LISTEN", "127.0.0.1:5002"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
        ])
        .expect("env");
        assert_eq!(config.listen.port(), 5002);
        assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:1"));
        assert!(matches!(
            load(&[("BOARDS_LISTN", "x")]),
            Err(config::ConfigError::UnknownEnv(_))
        ));
    }
}
