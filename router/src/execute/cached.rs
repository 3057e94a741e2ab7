//! The executor's side of the entity cache ([`crate::entity_cache`]): a query's fetch is
//! looked up before it is sent and stored after, and a mutation's subgraph response evicts
//! what it says it changed before the mutation is answered.

use super::entities::Representations;
use super::fetch::{parse_response, SubgraphResponse};
use super::ExecutionContext;
use crate::entity_cache::{policy, Entry, Miss};
use crate::operation::Selection;
use crate::plan::FetchNode;
use apollo_compiler::ast::OperationType;
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
    /// Looks `fetch`'s request (`body`) up, tagged `tags()`.
    pub async fn start(
        ctx: &ExecutionContext<'_>,
        fetch: &FetchNode,
        body: &[u8],
        tags: impl FnOnce() -> Vec<String>,
    ) -> Lookup {
        let Some(cache) = ctx.client.cache.as_deref() else {
            return Lookup::Skip;
        };
        if !ctx.cached_reads || fetch.operation_kind != OperationType::Query {
            return Lookup::Skip;
        }
        let name = &ctx.supergraph.subgraphs[fetch.graph].name;
        let credentials = credentials(ctx.headers.for_subgraph(name));
        let entry = cache.entry(name, body, &credentials, tags());
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
    let name = &ctx.supergraph.subgraphs[fetch.graph].name;
    let mut tags = Vec::with_capacity(2 * reps.len());
    for i in 0..reps.len() {
        let rep = reps.value(i);
        let Some(type_name) = rep.get("__typename").and_then(Value::as_str) else {
            continue;
        };
        tags.push(policy::type_tag(name, type_name));
        if let Some(key) = key_of(ctx, fetch, type_name, &rep) {
            tags.push(policy::entity_tag(name, type_name, &key));
        }
    }
    tags
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
