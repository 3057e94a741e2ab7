//! Trusted documents: automatic persisted queries (Apollo's APQ protocol) and safelisting
//! by a persisted-query manifest.
//!
//! A request names its document by `extensions.persistedQuery.sha256Hash` (APQ and Apollo's
//! persisted query lists) or by `documentId` (GraphQL over HTTP's persisted documents). The
//! manifest answers first; then APQ's store, which learns a document when a client sends it
//! with its hash (verified). With the safelist on, only documents of the manifest run; in
//! log-only mode the others run and are logged, for rollout.

mod manifest;
mod store;

use crate::service::{GraphQLRequest, Refusal};
use arc_swap::ArcSwap;
pub use manifest::Manifest;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// `[persisted_queries]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedQueriesConfig {
    /// Automatic persisted queries: clients send a hash, and the document once when the
    /// router does not know it yet.
    pub apq: bool,
    /// Where APQ documents live: Redis, shared by every router replica (`REDIS_URL` sets it),
    /// or, unset, this process's memory.
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys: `<key_prefix><sha256>`.
    pub key_prefix: String,
    /// How long a registered document stays in Redis after its last registration.
    #[serde(with = "crate::flags::duration")]
    pub ttl: Duration,
    /// Documents kept in memory without Redis (least recently used dropped first).
    pub memory_entries: usize,
    pub safelist: SafelistConfig,
}

/// `[persisted_queries.safelist]`: only the operations of a manifest run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafelistConfig {
    /// Refuse operations that are not in the manifest (`PERSISTED_QUERY_NOT_IN_LIST`).
    pub enabled: bool,
    /// With `enabled`: run them anyway and log them (rollout).
    pub log_only: bool,
    /// Apollo's persisted query manifest, or a `{ "<sha256>": "<document>" }` map (Relay,
    /// graphql-codegen). Its ids resolve even with the safelist off.
    pub manifest: Option<PathBuf>,
    /// How often the manifest's modification time is checked; a changed file is reloaded.
    #[serde(with = "crate::flags::duration")]
    pub reload_interval: Duration,
}

impl Default for PersistedQueriesConfig {
    fn default() -> Self {
        PersistedQueriesConfig {
            apq: true,
            redis_url: None,
            key_prefix: "router:apq:".into(),
            ttl: Duration::from_secs(24 * 3600),
            memory_entries: 10_000,
            safelist: SafelistConfig::default(),
        }
    }
}

impl Default for SafelistConfig {
    fn default() -> Self {
        SafelistConfig {
            enabled: false,
            log_only: false,
            manifest: None,
            reload_interval: Duration::from_secs(2),
        }
    }
}

/// The trusted documents of one router instance (they outlive supergraph reloads).
pub struct Documents {
    config: PersistedQueriesConfig,
    manifest: ArcSwap<Manifest>,
    store: Option<Store>,
}

/// The document a request runs: the text it sent (borrowed: the hot path copies nothing),
/// or one the router kept.
pub enum Document<'r> {
    Sent(&'r str),
    Kept(Arc<str>),
}

impl std::ops::Deref for Document<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Document::Sent(text) => text,
            Document::Kept(text) => text,
        }
    }
}

/// What a request asks for by id.
struct Named<'a> {
    id: &'a str,
    /// Through `extensions.persistedQuery` (APQ protocol), not `documentId`.
    apq: bool,
}

impl Documents {
    /// Loads the manifest, when configured; an unreadable or invalid one is an error at start.
    pub fn new(config: &PersistedQueriesConfig) -> Result<Documents, String> {
        let manifest = match &config.safelist.manifest {
            Some(path) => Manifest::load(path)?,
            None if config.safelist.enabled => {
                return Err("persisted_queries.safelist needs a `manifest`".into())
            }
            None => Manifest::default(),
        };
        let store = config
            .apq
            .then(|| Store::new(config))
            .transpose()
            .map_err(|e| format!("persisted_queries.redis_url: {e}"))?;
        Ok(Documents {
            config: config.clone(),
            manifest: ArcSwap::from_pointee(manifest),
            store,
        })
    }

    /// Replaces the manifest (see [`watch`]).
    pub fn set_manifest(&self, manifest: Manifest) {
        self.manifest.store(Arc::new(manifest));
    }

    /// The document `request` runs: its `query`, or the one its id names; refused when the
    /// id is unknown, the hash does not match, or the safelist does not list it.
    pub async fn resolve<'r>(&self, request: &'r GraphQLRequest) -> Result<Document<'r>, Refusal> {
        let named = named(request)?;
        let manifest = self.manifest.load();
        // Clients that send only an id may still send `query: ""` (graphql-ws needs a string).
        let query = match request.query.as_deref() {
            Some("") if named.is_some() => None,
            query => query,
        };
        let document = match (query, &named) {
            (None, None) => return Err(invalid("missing `query`", "BAD_REQUEST")),
            (Some(query), None) => Document::Sent(query),
            (None, Some(named)) => match manifest.by_id(named.id) {
                Some(document) => Document::Kept(document),
                None => Document::Kept(self.unknown(named).await?),
            },
            (Some(query), Some(named)) => {
                self.register(query, named, &manifest).await?;
                Document::Sent(query)
            }
        };
        if self.config.safelist.enabled && !manifest.lists(&document) {
            if !self.config.safelist.log_only {
                return Err(not_in_list(
                    403,
                    "the operation is not in the persisted query list",
                ));
            }
            tracing::warn!(
                operation = request.operation_name.as_deref().unwrap_or("(anonymous)"),
                "operation not in the persisted query list (safelist in log-only mode)"
            );
        }
        Ok(document)
    }

    /// An id the manifest does not know: APQ's store, when it is on.
    async fn unknown(&self, named: &Named<'_>) -> Result<Arc<str>, Refusal> {
        let enforcing = self.config.safelist.enabled && !self.config.safelist.log_only;
        match &self.store {
            Some(store) if named.apq && !enforcing => match store.get(named.id).await {
                Some(document) => Ok(document),
                None => Err(invalid(
                    "PersistedQueryNotFound",
                    "PERSISTED_QUERY_NOT_FOUND",
                )),
            },
            _ if enforcing || !self.manifest.load().is_empty() => Err(not_in_list(
                404,
                &format!(
                    "persisted query '{}' is not in the persisted query list",
                    named.id
                ),
            )),
            _ => Err(invalid(
                "PersistedQueryNotSupported",
                "PERSISTED_QUERY_NOT_SUPPORTED",
            )),
        }
    }

    /// A document sent with its hash: verified, and learned by APQ's store.
    async fn register(
        &self,
        query: &str,
        named: &Named<'_>,
        manifest: &Manifest,
    ) -> Result<(), Refusal> {
        if !hex::encode(Sha256::digest(query.as_bytes())).eq_ignore_ascii_case(named.id) {
            return Err(invalid(
                "provided sha does not match query",
                "PERSISTED_QUERY_HASH_MISMATCH",
            ));
        }
        let listed_or_open = !self.config.safelist.enabled || manifest.lists(query);
        match &self.store {
            Some(store) if named.apq && listed_or_open => {
                store
                    .put(&named.id.to_ascii_lowercase(), &Arc::from(query))
                    .await
            }
            _ => {}
        }
        Ok(())
    }
}

/// The id a request names, if any; a malformed `persistedQuery` is refused.
fn named(request: &GraphQLRequest) -> Result<Option<Named<'_>>, Refusal> {
    if let Some(id) = request.document_id.as_deref() {
        return Ok(Some(Named { id, apq: false }));
    }
    let Some(persisted) = request
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
    else {
        return Ok(None);
    };
    if persisted.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(invalid(
            "PersistedQueryNotSupported: only version 1 of persisted queries is supported",
            "PERSISTED_QUERY_NOT_SUPPORTED",
        ));
    }
    match persisted.get("sha256Hash").and_then(Value::as_str) {
        Some(id) if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(Named { id, apq: true }))
        }
        _ => Err(invalid(
            "persistedQuery.sha256Hash must be a SHA-256 hash (64 hex digits)",
            "PERSISTED_QUERY_HASH_MISMATCH",
        )),
    }
}

fn invalid(message: &str, code: &str) -> Refusal {
    Refusal::Invalid(vec![
        json!({ "message": message, "extensions": { "code": code } }),
    ])
}

fn not_in_list(status: u16, message: &str) -> Refusal {
    Refusal::Edge {
        status,
        errors: vec![
            json!({ "message": message, "extensions": { "code": "PERSISTED_QUERY_NOT_IN_LIST" } }),
        ],
        retry_after: None,
    }
}

/// Reloads the manifest when its file changes, until `shutdown`; a broken file is logged and
/// the previous manifest stays.
pub async fn watch(documents: Arc<Documents>, shutdown: tokio_util::sync::CancellationToken) {
    let Some(path) = documents.config.safelist.manifest.clone() else {
        return;
    };
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut last = modified(&path);
    let mut tick = tokio::time::interval(documents.config.safelist.reload_interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = modified(&path);
        if now == last {
            continue;
        }
        last = now;
        match Manifest::load(&path) {
            Ok(manifest) => {
                tracing::info!(path = %path.display(), operations = manifest.len(), "persisted query manifest reloaded");
                documents.set_manifest(manifest);
            }
            Err(error) => {
                tracing::error!(%error, "persisted query manifest reload failed; keeping the previous one")
            }
        }
    }
}
