//! The stack launcher: every subgraph and the router in one process, each a real HTTP server on
//! its own port, so they talk to each other as they would across machines.

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
    pub router_port: u16,
    pub accounts_port: u16,
    pub boards_port: u16,
    pub chat_port: u16,
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
    /// Accounts' signing key (PKCS#8 PEM Ed25519); default `<data_dir>/keys/jwt-ed25519.pem`,
    /// generated on first start.
    pub jwt_key_file: Option<PathBuf>,
    /// Keys accounts publishes and accepts without signing with them (rotation: README).
    pub jwt_verify_key_files: Vec<PathBuf>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The router's own TOML config (keys as in `router/router.example.toml`: limits, rate
    /// limits, CORS, ...); the launcher sets its `supergraph` and `[jwt]`, its rate limits,
    /// APQ store and shared plans use `redis_url` unless the file names another Redis, and its persisted-query
    /// manifest is the live UI's unless the file names another.
    pub router_config: Option<PathBuf>,
    /// Run only the live UI's operations: the router refuses every other document with
    /// `PERSISTED_QUERY_NOT_IN_LIST` (the playground then only shows that refusal).
    pub safelist: bool,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        let service = ServiceConfig::default();
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            router_port: 4000,
            accounts_port: 4001,
            boards_port: 4002,
            chat_port: 4003,
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
            jwt_key_file: None,
            jwt_verify_key_files: Vec::new(),
            log_format: service.log_format,
            log_level: service.log_level,
            router_config: None,
            safelist: false,
        }
    }
}

impl PlatformConfig {
    pub const ENV_PREFIX: &'static str = "PLATFORM_";

    /// The defaults with every server on a port the system picks and data in `data_dir`
    /// (tests, throwaway stacks).
    pub fn on_free_ports(data_dir: &std::path::Path) -> Self {
        Self {
            router_port: 0,
            accounts_port: 0,
            boards_port: 0,
            chat_port: 0,
            notifications_port: 0,
            data_dir: data_dir.to_owned(),
            ..Self::default()
        }
    }

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
            jwt_key_file: self.jwt_key_file.clone(),
            jwt_verify_key_files: self.jwt_verify_key_files.clone(),
            ..ServiceConfig::default()
        }
    }
}

/// Where the running services answer.
#[derive(Clone, Debug)]
pub struct Urls {
    pub router: String,
    pub accounts: String,
    pub boards: String,
    pub chat: String,
    pub notifications: String,
}

impl std::fmt::Display for Urls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "router         {}/graphql", self.router)?;
        writeln!(f, "accounts       {}/graphql", self.accounts)?;
        writeln!(f, "boards         {}/graphql", self.boards)?;
        writeln!(f, "chat           {}/graphql", self.chat)?;
        writeln!(f, "notifications  {}/graphql", self.notifications)?;
        writeln!(f, "live UI        {}/", self.router)?;
        writeln!(f, "playground     {}/graphql (in a browser)", self.router)
    }
}

/// A started platform: its URLs and the tasks serving them.
pub struct Platform {
    pub urls: Urls,
    /// The supergraph composed at start (also written to `<data_dir>/supergraph.graphql`).
    pub supergraph: String,
    tasks: JoinSet<Result<(), String>>,
    shutdown: CancellationToken,
}

struct Listeners {
    router: TcpListener,
    accounts: TcpListener,
    boards: TcpListener,
    chat: TcpListener,
    notifications: TcpListener,
}

impl Listeners {
    async fn bind(config: &PlatformConfig) -> anyhow::Result<Self> {
        let host = config.host;
        Ok(Self {
            router: bind(host, config.router_port, "router").await?,
            accounts: bind(host, config.accounts_port, "accounts").await?,
            boards: bind(host, config.boards_port, "boards").await?,
            chat: bind(host, config.chat_port, "chat").await?,
            notifications: bind(host, config.notifications_port, "notifications").await?,
        })
    }
}

fn url(listener: &TcpListener) -> anyhow::Result<String> {
    Ok(format!("http://{}", listener.local_addr()?))
}

impl Platform {
    /// Binds every port (failing fast when one is taken), starts every subgraph, composes
    /// their SDL into a supergraph and starts the router in front of them.
    pub async fn start(
        config: &PlatformConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let listeners = Listeners::bind(config).await?;
        let urls = Urls {
            router: url(&listeners.router)?,
            accounts: url(&listeners.accounts)?,
            boards: url(&listeners.boards)?,
            chat: url(&listeners.chat)?,
            notifications: url(&listeners.notifications)?,
        };
        let jwks_url = format!("{}/.well-known/jwks.json", urls.accounts);
        let service = |listener: &TcpListener| -> anyhow::Result<ServiceConfig> {
            Ok(config.service(listener.local_addr()?, jwks_url.clone()))
        };
        let mut tasks = JoinSet::new();
        let mut sdls = Vec::new();

        let accounts = accounts::Accounts::start(&service(&listeners.accounts)?).await?;
        sdls.push((
            "accounts",
            &urls.accounts,
            accounts::federation_sdl(&accounts.schema),
        ));
        spawn_subgraph(
            &mut tasks,
            "accounts",
            listeners.accounts,
            accounts,
            &shutdown,
        );

        let boards_config = service(&listeners.boards)?;
        let boards = boards::Boards::start(&boards_config, boards_config.remote_verifier()).await?;
        sdls.push((
            "boards",
            &urls.boards,
            boards::federation_sdl(&boards.schema),
        ));
        spawn_subgraph(&mut tasks, "boards", listeners.boards, boards, &shutdown);

        let chat_config = service(&listeners.chat)?;
        let chat = chat::Chat::start(&chat_config, chat_config.remote_verifier()).await?;
        sdls.push(("chat", &urls.chat, chat::federation_sdl(&chat.schema)));
        spawn_subgraph(&mut tasks, "chat", listeners.chat, chat, &shutdown);

        let notifications_config = service(&listeners.notifications)?;
        let notifications = notifications::Notifications::start(
            &notifications_config,
            notifications_config.remote_verifier(),
        )
        .await?;
        sdls.push((
            "notifications",
            &urls.notifications,
            notifications::federation_sdl(&notifications.schema),
        ));
        spawn_subgraph(
            &mut tasks,
            "notifications",
            listeners.notifications,
            notifications,
            &shutdown,
        );

        let supergraph = compose(&sdls)?;
        let path = config.data_dir.join("supergraph.graphql");
        std::fs::write(&path, &supergraph)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        let token = shutdown.clone();
        let router_listener = listeners.router;
        let mut flags = serde_json::Map::new();
        flags.insert("supergraph".into(), path.display().to_string().into());
        // Tokens are checked once at the edge too, so a bad one never reaches a subgraph
        // and a WebSocket with one is refused before `connection_ack`.
        let jwt = serde_json::json!({
            "jwks_url": jwks_url,
            "issuer": config.jwt_issuer,
            "audience": config.jwt_audience,
        });
        flags.insert("jwt".into(), jwt);
        let mut router_config =
            router::config::load(config.router_config.as_deref(), &Default::default(), flags)?;
        if router_config.rate_limit.redis_url.is_none() {
            router_config.rate_limit.redis_url = config.redis_url.clone();
        }
        if router_config.plan_cache.redis_url.is_none() {
            router_config.plan_cache.redis_url = config.redis_url.clone();
        }
        let entities = &mut router_config.entity_cache;
        if entities.redis_url.is_none() {
            entities.redis_url = config.redis_url.clone();
        }
        // Where the subgraphs (kit pub/sub, under the same prefix) announce invalidations.
        if entities.invalidation_channel.is_none() {
            let prefix = config.redis_prefix.trim_end_matches(':');
            let channel = kit::events::CACHE_INVALIDATION_CHANNEL;
            entities.invalidation_channel = Some(format!("{prefix}:{channel}"));
        }
        let documents = &mut router_config.persisted_queries;
        if documents.redis_url.is_none() {
            documents.redis_url = config.redis_url.clone();
        }
        if documents.safelist.manifest.is_none() {
            documents.safelist.manifest = Some(write_ui_manifest(&config.data_dir)?);
        }
        documents.safelist.enabled |= config.safelist;
        tasks.spawn(async move {
            router::serve_with(router_config, router_listener, token, live_ui())
                .await
                .map_err(|e| format!("router: {e}"))
        });
        Ok(Self {
            urls,
            supergraph,
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

/// The live UI (`web/`, built into `web/dist` and compiled in): `index.html` at `/` (its
/// routes live in the URL's hash), assets under `/assets/`, and the persisted-document
/// manifest of its operations.
pub fn live_ui() -> axum::Router {
    router::http::assets::Assets(&WEB).routes("/", "", &[UI_MANIFEST])
}

static WEB: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/web/dist");
const UI_MANIFEST: &str = "persisted-documents.json";

/// Writes the live UI's persisted-document manifest into `dir` for the router, which then
/// knows the UI's operations by id (and, with the safelist on, runs only those).
fn write_ui_manifest(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let manifest = WEB
        .get_file(UI_MANIFEST)
        .ok_or_else(|| anyhow::anyhow!("web/dist has no {UI_MANIFEST}: build web/"))?;
    let path = dir.join(UI_MANIFEST);
    std::fs::write(&path, manifest.contents())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// Composes the running subgraphs' SDL (with their actual URLs) into the router's supergraph.
fn compose(sdls: &[(&str, &String, String)]) -> anyhow::Result<String> {
    let inputs: Vec<router::compose::SubgraphInput> = sdls
        .iter()
        .map(|(name, url, sdl)| router::compose::SubgraphInput {
            name: (*name).to_owned(),
            url: format!("{url}/graphql"),
            sdl: sdl.clone(),
        })
        .collect();
    router::compose::compose_text(&inputs)
        .map_err(|errors| anyhow::anyhow!("composing the supergraph failed:\n{errors}"))
}

/// Runs a subgraph (its server and background work) until `shutdown`.
fn spawn_subgraph(
    tasks: &mut JoinSet<Result<(), String>>,
    name: &'static str,
    listener: TcpListener,
    subgraph: impl kit::lifecycle::Subgraph,
    shutdown: &CancellationToken,
) {
    let token = shutdown.clone();
    tasks.spawn(async move {
        kit::lifecycle::run(subgraph, listener, token)
            .await
            .map_err(|e| format!("{name}: {e}"))
    });
}

async fn bind(host: IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .map_err(|e| anyhow::anyhow!("{what}: cannot listen on {host}:{port}: {e}"))
}
