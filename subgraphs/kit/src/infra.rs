//! The backing services of one subgraph, chosen by configuration: MongoDB or the embedded store,
//! Redis or in-process events, a Redis cache or none.

use std::sync::Arc;

use crate::cache::Cache;
use crate::config::ServiceConfig;
use crate::events::{
    EmbeddedEventStream, EventError, InProcessPubSub, RedisEventStream, RedisPubSub,
    SharedEventStream, SharedPubSub,
};
use crate::metrics::Metrics;
use crate::server::{ReadyCheck, ServerContext};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    #[error("connecting events: {0}")]
    Events(#[from] EventError),
    #[error("connecting the cache: {0}")]
    Cache(String),
}

/// Connection attempts at start (about 11 s in all, see [`Infra::connect_with_retry`]).
const CONNECT_ATTEMPTS: u32 = 10;
const CONNECT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// Store, live pub/sub, durable domain events, cache and metrics of one subgraph.
#[derive(Clone)]
pub struct Infra {
    pub service: &'static str,
    pub store: Store,
    pub pubsub: SharedPubSub,
    pub events: SharedEventStream,
    pub cache: Cache,
    pub metrics: Arc<Metrics>,
    /// How long acked domain events are kept ([`Infra::spawn_trimmer`]).
    pub event_retention: std::time::Duration,
}

impl Infra {
    /// Connects everything `config` names. Without `REDIS_URL`, pub/sub is in-process and the
    /// durable event stream is the embedded file `<data_dir>/events.db`, shared by every
    /// subgraph (and every process) using that data directory.
    pub async fn connect(
        config: &ServiceConfig,
        service: &'static str,
    ) -> Result<Self, InfraError> {
        let metrics = Metrics::new(service);
        let store = Store::open(
            config.mongodb_url.as_deref(),
            &config.mongodb_database,
            &config.data_dir,
            service,
            metrics.clone(),
        )
        .await?;
        let (pubsub, events, cache): (SharedPubSub, SharedEventStream, Cache) =
            match &config.redis_url {
                Some(url) => {
                    // Every key and channel is `<redis_prefix>:...`.
                    let prefix = &format!("{}:", config.redis_prefix.trim_end_matches(':'));
                    (
                        Arc::new(RedisPubSub::connect(url, prefix, metrics.clone()).await?),
                        Arc::new(RedisEventStream::connect(url, prefix, metrics.clone()).await?),
                        Cache::redis(url, &format!("{prefix}cache:{service}:"), metrics.clone())
                            .map_err(|e| InfraError::Cache(e.to_string()))?,
                    )
                }
                None => (
                    Arc::new(InProcessPubSub::new()),
                    Arc::new(EmbeddedEventStream::open(
                        &config.data_dir.join("events.db"),
                        metrics.clone(),
                    )?),
                    Cache::disabled(metrics.clone()),
                ),
            };
        Ok(Self {
            service,
            store,
            pubsub,
            events,
            cache,
            metrics,
            event_retention: std::time::Duration::from_secs(config.event_retention_secs),
        })
    }

    /// Keeps `stream` (one this service appends to) bounded until `shutdown`: entries every
    /// group has acked go once older than `event_retention`.
    pub fn spawn_trimmer(
        &self,
        stream: &str,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        crate::events::spawn_trimmer(
            self.events.clone(),
            stream,
            self.event_retention,
            crate::events::trim::interval(self.event_retention),
            self.metrics.clone(),
            shutdown,
        )
    }

    /// [`Infra::connect`], retried with a growing delay while the store or the event backend
    /// is not there yet: replicas starting together race to create the embedded store and
    /// event files (SQLite answers "database is locked" to the loser while a new file switches
    /// to WAL), and MongoDB or Redis may come up after the service. Every subgraph starts so.
    pub async fn connect_with_retry(
        config: &ServiceConfig,
        service: &'static str,
    ) -> Result<Self, InfraError> {
        let mut attempt = 1;
        loop {
            match Infra::connect(config, service).await {
                Err(error @ (InfraError::Store(_) | InfraError::Events(_)))
                    if attempt < CONNECT_ATTEMPTS =>
                {
                    tracing::warn!(service, attempt, %error, "backing services not available yet; retrying");
                    tokio::time::sleep(CONNECT_RETRY_DELAY * attempt).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// What the kit's HTTP app needs from this service, with callers verified by `verifier`.
    pub fn server_context(
        &self,
        verifier: auth::TokenVerifier,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> ServerContext {
        ServerContext {
            service: self.service,
            verifier,
            metrics: self.metrics.clone(),
            ready: self.ready_check(),
            shutdown,
        }
    }

    /// Ready when the store answers and, if configured, Redis does.
    pub fn ready_check(&self) -> ReadyCheck {
        let store = self.store.clone();
        let cache = self.cache.clone();
        Arc::new(move || {
            let (store, cache) = (store.clone(), cache.clone());
            Box::pin(async move {
                store.ping().await.map_err(|e| format!("store: {e}"))?;
                cache.ping().await.map_err(|e| format!("redis: {e}"))?;
                Ok(())
            })
        })
    }
}
