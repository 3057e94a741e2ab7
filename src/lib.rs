//! The stack launcher: every subgraph (and, once it lands here, the router) in one process, each
//! a real HTTP server on its own port, so they talk to each other as they would across machines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use kit::config::{LogFormat, ServiceConfig};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The launcher's configuration (defaults, then `--config` file, then `PLATFORM_*` env, then flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformConfig {
    /// Interface every server binds.
    pub host: IpAddr,
    pub accounts_port: u16,
    pub notifications_port: u16,
    pub data_dir: PathBuf,
    pub mongodb_url: Option<String>,
    pub mongodb_database: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub log_format: LogFormat,
    pub log_level: String,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        let service = ServiceConfig::default();
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            accounts_port: 4001,
            notifications_port: 4004,
            data_dir: service.data_dir,
            mongodb_url: None,
            mongodb_database: service.mongodb_database,
            redis_url: None,
            redis_prefix: service.redis_prefix,
            jwt_issuer: service.jwt_issuer,
            jwt_audience: service.jwt_audience,
            access_token_ttl_secs: service.access_token_ttl_secs,
            refresh_token_ttl_days: service.refresh_token_ttl_days,
            log_format: service.log_format,
            log_level: service.log_level,
        }
    }
}

impl PlatformConfig {
    pub const ENV_PREFIX: &'static str = "PLATFORM_";

    /// The config of one subgraph listening on `listen`, verifying tokens with `jwks_url`.
    fn service(&self, listen: SocketAddr, jwks_url: String) -> ServiceConfig {
        ServiceConfig {
            listen,
            data_dir: self.data_dir.clone(),
            mongodb_url: self.mongodb_url.clone(),
            mongodb_database: self.mongodb_database.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            jwt_issuer: self.jwt_issuer.clone(),
            jwt_audience: self.jwt_audience.clone(),
            jwks_url,
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            instance_id: None,
            access_token_ttl_secs: self.access_token_ttl_secs,
            refresh_token_ttl_days: self.refresh_token_ttl_days,
            jwt_key_file: None,
        }
    }
}

/// Where the running services answer.
#[derive(Clone, Debug)]
pub struct Urls {
    pub accounts: String,
    pub notifications: String,
}

impl std::fmt::Display for Urls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "accounts       {}/graphql", self.accounts)?;
        writeln!(f, "notifications  {}/graphql", self.notifications)
    }
}

/// A started platform: its URLs and the tasks serving them.
pub struct Platform {
    pub urls: Urls,
    tasks: JoinSet<Result<(), String>>,
    shutdown: CancellationToken,
}

impl Platform {
    /// Binds every port (failing fast when one is taken) and starts every service.
    pub async fn start(
        config: &PlatformConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let accounts_listener = bind(config.host, config.accounts_port, "accounts").await?;
        let notifications_listener =
            bind(config.host, config.notifications_port, "notifications").await?;
        let accounts_url = format!("http://{}", accounts_listener.local_addr()?);
        let notifications_url = format!("http://{}", notifications_listener.local_addr()?);
        let jwks_url = format!("{accounts_url}/.well-known/jwks.json");
        let mut tasks = JoinSet::new();

        let accounts_config = config.service(accounts_listener.local_addr()?, jwks_url.clone());
        let accounts = accounts::Accounts::start(&accounts_config).await?;
        spawn_server(
            &mut tasks,
            "accounts",
            accounts_listener,
            accounts.app(shutdown.clone()),
            &shutdown,
        );

        let notifications_config = config.service(notifications_listener.local_addr()?, jwks_url);
        let notifications = notifications::Notifications::start(
            &notifications_config,
            verifier(&notifications_config),
        )
        .await?;
        let consumers =
            notifications.start_consumers(notifications::RECLAIM_IDLE, shutdown.clone());
        tasks.spawn(async move {
            futures::future::join_all(consumers).await;
            Ok(())
        });
        let app = notifications.app(shutdown.clone());
        spawn_server(
            &mut tasks,
            "notifications",
            notifications_listener,
            app,
            &shutdown,
        );

        Ok(Self {
            urls: Urls {
                accounts: accounts_url,
                notifications: notifications_url,
            },
            tasks,
            shutdown,
        })
    }

    /// Waits until every service has stopped (after `shutdown` is cancelled, or one fails, which
    /// stops the others too).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut failure = None;
        while let Some(result) = self.tasks.join_next().await {
            let outcome = result.map_err(|e| e.to_string()).and_then(|r| r);
            if let Err(e) = outcome {
                tracing::error!(error = %e, "service stopped with an error");
                failure.get_or_insert(e);
                self.shutdown.cancel();
            }
        }
        match failure {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Ok(()),
        }
    }
}

/// Subgraphs other than accounts verify tokens with the keys accounts publishes.
fn verifier(config: &ServiceConfig) -> auth::TokenVerifier {
    auth::TokenVerifier::remote(&config.jwks_url, &config.jwt_issuer, &config.jwt_audience)
}

fn spawn_server(
    tasks: &mut JoinSet<Result<(), String>>,
    name: &'static str,
    listener: TcpListener,
    app: axum::Router,
    shutdown: &CancellationToken,
) {
    let token = shutdown.clone();
    tasks.spawn(async move {
        kit::server::serve(listener, app, token)
            .await
            .map_err(|e| format!("{name}: {e}"))
    });
}

async fn bind(host: IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .map_err(|e| anyhow::anyhow!("{what}: cannot listen on {host}:{port}: {e}"))
}
