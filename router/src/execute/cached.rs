//! The executor's side of the entity cache ([`crate::entity_cache`]): a query's fetch is
//! looked up before it is sent and stored after, and a mutation's subgraph response evicts
//! what it says it changed before the mutation is answered.

use super::doc::NodeId;
use super::entities::Representations;
use super::fetch::{parse_response, SubgraphResponse};
use super::ExecutionContext;
use crate::entity_cache::{policy, Entry, Miss};
use crate::operation::Selection;
use crate::plan::FetchNode;
use apollo_compiler::ast::OperationType;
use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A fetch's cache lookup: answered, or what storing its answer needs.
pub enum Lookup {
    Hit(Arc<SubgraphResponse>),
    Miss(Entry, Miss),
    /// Not cached: no cache, not a query, or Redis failed.
    Skip,
}

impl Lookup {
    /// Looks `fetch`'s request (`body`) up, tagged `tags()` (`None`: cached per entity
    /// instead, or not at all).
    pub async fn start(
        ctx: &ExecutionContext<'_>,
        fetch: &FetchNode,
        body: &[u8],
        tags: impl FnOnce() -> Option<Vec<String>>,
    ) -> Lookup {
        let Some(cache) = ctx.client.cache.as_deref() else {
            return Lookup::Skip;
        };
        if !ctx.cached_reads || fetch.operation_kind != OperationType::Query {
            return Lookup::Skip;
        }
        let Some(tags) = tags() else {
            return Lookup::Skip;
        };
        let name = &ctx.supergraph.subgraphs[fetch.graph].name;
        let credentials = credentials(ctx.headers.for_subgraph(name));
        let root = fetch.requires.is_none().then_some("Query");
        let entry = cache.entry(name, root, body, &credentials, tags);
        match cache.lookup(&entry, &ctx.client.metrics).await {
            Some(Ok(raw)) => match parse_response(name, 200, raw) {
                Ok(response) => Lookup::Hit(Arc::new(response)),
                Err(_) => Lookup::Skip,
            },
            Some(Err(miss)) => Lookup::Miss(entry, miss),
            None => Lookup::Skip,
        }
    }

    /// Stores `response` in the background (the client does not wait for it) when the
    /// lookup missed and the subgraph answered without errors.
    pub fn finish(self, ctx: &ExecutionContext<'_>, response: &SubgraphResponse) {
        let Lookup::Miss(entry, miss) = self else {
            return;
        };
        let Some(cache) = ctx.client.cache.clone() else {
            return;
        };
        if !response.errors.is_empty() || response.data.is_none() {
            return;
        }
        let metrics = ctx.client.metrics.clone();
        let raw = response.raw.clone();
        let cache_control = response.cache_control.clone();
        tokio::spawn(async move {
            let cache_control = cache_control.as_deref();
            cache
                .store(&entry, miss, cache_control, &raw, &metrics)
                .await;
        });
    }
}

/// What a subgraph's answer depends on besides the request: the headers forwarded to it
/// (the caller's credentials), written out; empty without any.
fn credentials(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The tag of a root fetch: its subgraph's root type.
pub fn root_tag(ctx: &ExecutionContext<'_>, fetch: &FetchNode) -> String {
    let name = &ctx.supergraph.subgraphs[fetch.graph].name;
    policy::type_tag(name, "Query")
}

/// The tags of an `_entities` fetch: each entity's type, and each entity by its key.
pub fn entity_tags(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    reps: &Representations<'_>,
) -> Vec<String> {
    (0..reps.len())
        .flat_map(|i| rep_tags(ctx, fetch, &reps.value(i)))
        .collect()
}

/// The tags of a representation's entity: its type, and itself by its key.
fn rep_tags(ctx: &ExecutionContext<'_>, fetch: &FetchNode, rep: &Value) -> Vec<String> {
    let name = &ctx.supergraph.subgraphs[fetch.graph].name;
    let Some(type_name) = rep.get("__typename").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut tags = vec![policy::type_tag(name, type_name)];
    if let Some(key) = key_of(ctx, fetch, type_name, rep) {
        tags.push(policy::entity_tag(name, type_name, &key));
    }
    tags
}

/// Per-entity caching of an `_entities` fetch (one without `@fromContext` arguments): each
/// representation is its own entry, so a batch asks the subgraph only for the entities no
/// entry holds. Entries hold the entity as the executor uses it (aliases undone).
pub struct EntityHits {
    entries: Vec<Entry>,
    /// Per representation: the cached entity, or what storing it needs.
    found: Vec<Result<Bytes, Miss>>,
}

impl EntityHits {
    /// Looks every representation up in one round trip; `None` when the cache does not
    /// apply (off, not a query, context arguments) or Redis failed.
    pub async fn lookup(
        ctx: &ExecutionContext<'_>,
        fetch: &FetchNode,
        reps: &Representations<'_>,
    ) -> Option<EntityHits> {
        let cache = ctx.client.cache.as_deref()?;
        let cacheable = ctx.cached_reads && fetch.operation_kind == OperationType::Query;
        if !cacheable || fetch.context.is_some() {
            return None;
        }
        let name = &ctx.supergraph.subgraphs[fetch.graph].name;
        let credentials = credentials(ctx.headers.for_subgraph(name));
        // What every entity's answer depends on besides its representation.
        let mut shared = fetch.operation.as_bytes().to_vec();
        shared.push(0);
        let variables = super::fetch_variables(fetch, ctx.variables);
        serde_json::to_writer(&mut shared, &variables).ok()?;
        shared.push(0);
        let entries: Vec<Entry> = (0..reps.len())
            .map(|i| {
                let mut request = shared.clone();
                request.extend_from_slice(reps.bytes(i));
                let rep = reps.value(i);
                let type_name = rep.get("__typename").and_then(Value::as_str);
                let tags = rep_tags(ctx, fetch, &rep);
                cache.entry(name, type_name, &request, &credentials, tags)
            })
            .collect();
        let found = cache.lookup_many(&entries, &ctx.client.metrics).await?;
        Some(EntityHits { entries, found })
    }

    /// The representations no entry holds, in order.
    pub fn missing(&self) -> Vec<usize> {
        (0..self.found.len())
            .filter(|&i| self.found[i].is_err())
            .collect()
    }

    /// The cached entities as one response, and the representation each answers; `None`
    /// when none is cached (or an entry is unreadable: then all are fetched).
    pub fn cached(&self, service: &str) -> Option<(Arc<SubgraphResponse>, Vec<usize>)> {
        let mut body = b"{\"data\":{\"_entities\":[".to_vec();
        let mut answers = Vec::new();
        for (i, found) in self.found.iter().enumerate() {
            if let Ok(entity) = found {
                if !answers.is_empty() {
                    body.push(b',');
                }
                body.extend_from_slice(entity);
                answers.push(i);
            }
        }
        if answers.is_empty() {
            return None;
        }
        body.extend_from_slice(b"]}}");
        let response = parse_response(service, 200, Bytes::from(body)).ok()?;
        Some((Arc::new(response), answers))
    }

    /// Stores the fetched entities in the background: `nodes[i]` of `response` answers
    /// representation `missing[i]`. Nothing is stored from an answer with errors.
    pub fn store(
        self,
        ctx: &ExecutionContext<'_>,
        response: &SubgraphResponse,
        nodes: &[NodeId],
        missing: &[usize],
    ) {
        let Some(cache) = ctx.client.cache.clone() else {
            return;
        };
        if !response.errors.is_empty() {
            return;
        }
        let mut entries: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        let mut found: Vec<Option<Result<Bytes, Miss>>> =
            self.found.into_iter().map(Some).collect();
        let mut fills = Vec::with_capacity(missing.len());
        for (&node, &rep) in nodes.iter().zip(missing) {
            let (Some(entry), Some(Err(miss))) = (entries[rep].take(), found[rep].take()) else {
                continue;
            };
            let value = response.doc.to_value(node);
            if value.is_null() {
                continue;
            }
            if let Ok(entity) = serde_json::to_vec(&value) {
                fills.push((entry, miss, entity));
            }
        }
        if fills.is_empty() {
            return;
        }
        let metrics = ctx.client.metrics.clone();
        let cache_control = response.cache_control.clone();
        tokio::spawn(async move {
            let (cache, metrics, cache_control) = (&cache, &metrics, cache_control.as_deref());
            let stores = fills.into_iter().map(|(entry, miss, entity)| async move {
                cache
                    .store(&entry, miss, cache_control, &entity, metrics)
                    .await;
            });
            futures::future::join_all(stores).await;
        });
    }
}

/// The fields of `rep` that make up its type's first resolvable key in the fetch's subgraph.
fn key_of(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    type_name: &str,
    rep: &Value,
) -> Option<BTreeMap<String, Value>> {
    let in_graph = ctx.supergraph.type_in_graph(type_name, fetch.graph)?;
    let key = in_graph.keys.iter().find(|k| k.resolvable)?;
    key.selections
        .iter()
        .map(|selection| match selection {
            Selection::Field(field) => {
                let name = field.name.as_str();
                Some((name.to_owned(), rep.get(name)?.clone()))
            }
            Selection::Fragment(_) => None,
        })
        .collect()
}

/// Evicts what a mutation's subgraph response lists in `extensions.invalidation`, before
/// the mutation is answered: a client that saw it acknowledged never reads older data.
pub async fn invalidate_requested(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    response: &SubgraphResponse,
) {
    let Some(cache) = ctx.client.cache.as_deref() else {
        return;
    };
    let Some(extensions) = response.doc.get(0, "extensions") else {
        return;
    };
    let name = &ctx.supergraph.subgraphs[fetch.graph].name;
    let items = policy::requested(&response.doc.to_value(extensions), name);
    if cache
        .invalidate(&items, &ctx.client.metrics)
        .await
        .is_none()
    {
        tracing::error!(
            subgraph = %name,
            "the entity cache could not be invalidated after a mutation; entries may be stale until their max-age"
        );
    }
}
