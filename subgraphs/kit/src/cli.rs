//! The command line every subgraph binary shares: flags, layered config, telemetry, signals.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigError, LogFormat, ServiceConfig};
use crate::events::{dead_letters, EventStream};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Flags of a subgraph binary; everything else comes from the file or the environment.
#[derive(clap::Parser, Debug, Default)]
pub struct ServiceFlags {
    /// TOML config file (keys as in the README's configuration table).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub log_format: Option<LogFormat>,
    /// Instead of serving: an operator's command against this subgraph's backends.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator commands of every subgraph binary.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Events whose handler failed on every delivery (see kit's `events::dead_letters`).
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum DeadLetterCommand {
    /// Lists the dead letters of one consumer group, oldest first.
    List {
        /// The stream the group consumes, e.g. `boards`.
        #[arg(long)]
        stream: String,
        /// The consumer group, e.g. `notifications`.
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Appends their events to the stream again and removes them: the entry ids given, or all.
    Replay {
        #[arg(long)]
        stream: String,
        #[arg(long)]
        group: String,
        ids: Vec<String>,
    },
}

/// Runs an operator command against `events`; returns what to print.
pub async fn run_command(events: &dyn EventStream, command: Command) -> Result<String, BoxError> {
    let Command::DeadLetters(command) = command;
    match command {
        DeadLetterCommand::List {
            stream,
            group,
            limit,
        } => {
            let letters = dead_letters::list(events, &stream, &group, limit).await?;
            let lines: Vec<String> = letters
                .iter()
                .map(|(id, l)| {
                    format!(
                        "{id}\t{} {}\tattempts={}\terror={}",
                        l.event.kind, l.event.id, l.attempts, l.error
                    )
                })
                .collect();
            let mut out = format!("{} dead letter(s) of {group} on {stream}", lines.len());
            for line in lines {
                out.push('\n');
                out.push_str(&line);
            }
            Ok(out)
        }
        DeadLetterCommand::Replay { stream, group, ids } => {
            let replayed = dead_letters::replay(events, &stream, &group, &ids).await?;
            Ok(format!(
                "replayed {replayed} dead letter(s) of {group} on {stream}"
            ))
        }
    }
}

/// A subgraph binary: its name, environment prefix and default port.
pub struct Binary {
    pub name: &'static str,
    pub env_prefix: &'static str,
    pub default_port: u16,
}

impl Binary {
    /// Defaults (with this binary's port), then `--config`, then `<PREFIX>*` and the shared
    /// variables, then flags.
    pub fn config(
        &self,
        flags: ServiceFlags,
        env: &BTreeMap<String, String>,
    ) -> Result<ServiceConfig, ConfigError> {
        let mut overrides = serde_json::Map::new();
        config::flag(&mut overrides, "listen", flags.listen);
        config::flag(&mut overrides, "data_dir", flags.data_dir);
        config::flag(&mut overrides, "log_format", flags.log_format);
        let defaults = ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], self.default_port)),
            ..ServiceConfig::default()
        };
        config::load_from(
            defaults,
            flags.config.as_deref(),
            self.env_prefix,
            ServiceConfig::ENV_ALIASES,
            env,
            overrides,
        )
    }

    /// Parses the process's flags and environment, starts logging, binds, and runs `serve`
    /// until ctrl-c or SIGTERM.
    pub async fn run<F, Fut>(&self, serve: F) -> Result<(), BoxError>
    where
        F: FnOnce(ServiceConfig, TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), BoxError>>,
    {
        let mut flags = <ServiceFlags as clap::Parser>::parse();
        let command = flags.command.take();
        let config = self.config(flags, &config::process_env())?;
        if let Some(command) = command {
            let infra = crate::Infra::connect(&config, self.name).await?;
            println!("{}", run_command(&*infra.events, command).await?);
            return Ok(());
        }
        let telemetry = crate::telemetry::init(self.name, config.log_format, &config.log_level);
        let shutdown = crate::server::shutdown_on_signals();
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("{}: cannot listen on {}: {e}", self.name, config.listen))?;
        tracing::info!(
            "{} listening on http://{}/graphql",
            self.name,
            listener.local_addr()?
        );
        let served = serve(config, listener, shutdown).await;
        telemetry.shutdown().await;
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOARDS: Binary = Binary {
        name: "boards",
        env_prefix: "BOARDS_",
        default_port: 4002,
    };

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_binary_has_its_port_and_prefix() {
        assert_eq!(
            BOARDS
                .config(ServiceFlags::default(), &env(&[]))
                .expect("defaults")
                .listen
                .port(),
            4002
        );
        let config = BOARDS
            .config(
                ServiceFlags::default(),
                &env(&[
                    ("BOARDS_LISTEN", "127.0.0.1:5002"),
                    ("REDIS_URL", "redis://127.0.0.1:1"),
                ]),
            )
            .expect("env");
        assert_eq!(config.listen.port(), 5002);
        assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:1"));
        assert!(matches!(
            BOARDS.config(ServiceFlags::default(), &env(&[("BOARDS_LISTN", "x")])),
            Err(ConfigError::UnknownEnv(_))
        ));
        let flags = ServiceFlags {
            listen: Some("127.0.0.1:6002".parse().expect("addr")),
            ..ServiceFlags::default()
        };
        assert_eq!(
            BOARDS
                .config(flags, &env(&[("BOARDS_LISTEN", "127.0.0.1:5002")]))
                .expect("flags")
                .listen
                .port(),
            6002,
            "flags win"
        );
    }
}
