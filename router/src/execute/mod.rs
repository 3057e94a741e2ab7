//! Runs a query plan: parallel nodes concurrently, one `_entities` request per entity step
//! with deduplicated representations. Subgraph responses are parsed once and never copied:
//! entities are attached to the objects they extend (see [`merged`]) and the client
//! response is written from that by [`crate::response`].

mod cached;
mod context;
pub mod doc;
pub mod entities;
pub mod fetch;
pub mod inflight;
pub mod merged;

use crate::edge::headers::Forwarded;
use crate::plan::{FetchNode, PathSegment, PlanNode};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::OperationType;
use bytes::Bytes;
use doc::Doc;
use entities::{collect, Representations, ResponsePath};
use fetch::{FetchError, SubgraphClient, SubgraphRequest, SubgraphResponse};
use futures::future::{join_all, BoxFuture, FutureExt};
use merged::{Addr, Merged};
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Per-request execution inputs.
pub struct ExecutionContext<'a> {
    pub supergraph: &'a Supergraph,
    pub client: &'a SubgraphClient,
    /// Coerced client variables.
    pub variables: &'a Map<String, Value>,
    /// Headers forwarded to subgraphs, per subgraph.
    pub headers: &'a Forwarded,
    /// The request's `x-request-id`, sent to every subgraph.
    pub request_id: &'a str,
    pub default_timeout: Duration,
    /// Per-subgraph overrides of `default_timeout`, by subgraph name.
    pub timeouts: &'a HashMap<String, Duration>,
    /// The entity cache may answer (a query's plan: never a mutation's or a subscription
    /// event's, which must see what was just written).
    pub cached_reads: bool,
}

/// The merged data and the errors gathered while executing.
#[derive(Default)]
pub struct ExecutionOutput {
    pub data: Merged,
    pub errors: Vec<Value>,
}

impl ExecutionOutput {
    /// Data already fetched (a subscription event from its primary fetch) and its errors;
    /// `renames` undo the aliases of the fetch that produced it (`plan::shapes`).
    pub fn from_value(
        data: &Value,
        errors: Vec<Value>,
        renames: &[crate::plan::shapes::Rename],
    ) -> ExecutionOutput {
        let mut merged = Merged::default();
        let mut doc = Doc::from_value(data);
        apply_renames(&mut doc, &[0], renames);
        let response = SubgraphResponse {
            doc,
            data: Some(0),
            errors: Vec::new(),
            raw: Bytes::new(),
            cache_control: None,
        };
        let doc = merged.add(Arc::new(response));
        merged.add_root(Addr { doc, node: 0 });
        ExecutionOutput {
            data: merged,
            errors,
        }
    }
}

struct State {
    data: Mutex<Merged>,
    errors: Mutex<Vec<Value>>,
}

/// Executes `plan` and returns the merged data (not yet shaped for the client).
pub async fn execute(ctx: &ExecutionContext<'_>, plan: Option<&PlanNode>) -> ExecutionOutput {
    execute_from(ctx, plan, ExecutionOutput::default()).await
}

/// Executes `plan` on top of data already fetched, adding to `start`'s errors.
pub async fn execute_from(
    ctx: &ExecutionContext<'_>,
    plan: Option<&PlanNode>,
    start: ExecutionOutput,
) -> ExecutionOutput {
    let state = State {
        data: Mutex::new(start.data),
        errors: Mutex::new(start.errors),
    };
    if let Some(node) = plan {
        run(ctx, &state, node).await;
    }
    ExecutionOutput {
        data: state.data.into_inner(),
        errors: state.errors.into_inner(),
    }
}

fn run<'a>(
    ctx: &'a ExecutionContext<'a>,
    state: &'a State,
    node: &'a PlanNode,
) -> BoxFuture<'a, ()> {
    async move {
        match node {
            PlanNode::Sequence(nodes) => {
                for node in nodes {
                    run(ctx, state, node).await;
                }
            }
            PlanNode::Parallel(nodes) => {
                join_all(nodes.iter().map(|n| run(ctx, state, n))).await;
            }
            PlanNode::Fetch(fetch) => root_fetch(ctx, state, fetch).await,
            PlanNode::Flatten { paths, fetch } => entity_fetch(ctx, state, paths, fetch).await,
        }
    }
    .boxed()
}

async fn root_fetch(ctx: &ExecutionContext<'_>, state: &State, fetch: &FetchNode) {
    let variables = fetch_variables(fetch, ctx.variables);
    let body = request_body(&fetch.operation, |out| {
        serde_json::to_writer(&mut *out, &variables)
    });
    let tags = || Some(vec![cached::root_tag(ctx, fetch)]);
    match send(ctx, fetch, body, tags).await {
        Ok(response) => {
            if fetch.operation_kind == OperationType::Mutation {
                cached::invalidate_requested(ctx, fetch, &response).await;
            }
            let errors = response
                .errors
                .iter()
                .map(|e| with_service(e.clone(), &fetch.service_name, None));
            state.errors.lock().extend(errors);
            if let Some(node) = response.data {
                let mut data = state.data.lock();
                let doc = data.add(response);
                data.add_root(Addr { doc, node });
            }
        }
        Err(error) => state.errors.lock().push(fetch_error(&error, None)),
    }
}

async fn entity_fetch(
    ctx: &ExecutionContext<'_>,
    state: &State,
    paths: &[Vec<PathSegment>],
    fetch: &FetchNode,
) {
    let requires = fetch.requires.as_deref().unwrap_or_default();
    let path = paths.first().map(Vec::as_slice).unwrap_or_default();
    let rewrites = fetch.context.as_ref().map_or(&[][..], |c| &c.arguments);
    let reps = collect(
        ctx.supergraph,
        fetch.graph,
        &state.data.lock(),
        paths,
        requires,
        rewrites,
    );
    if reps.is_empty() {
        return;
    }
    ctx.client
        .metrics
        .record_entity_batch(&fetch.service_name, reps.len());
    let hits = cached::EntityHits::lookup(ctx, fetch, &reps).await;
    let missing = hits.as_ref().map(cached::EntityHits::missing);
    if let Some(hits) = &hits {
        attach_cached(state, &fetch.service_name, hits, &reps);
    }
    if missing.as_ref().is_some_and(Vec::is_empty) {
        return;
    }
    let (body, batches, order) = match &fetch.context {
        Some(context) => {
            let client = fetch_variables(fetch, ctx.variables);
            let request = context::request(context, &reps, client);
            let operation = request.operation.as_deref().unwrap_or(&fetch.operation);
            let body = request_body(operation, |out| {
                serde_json::to_writer(&mut *out, &request.variables)
            });
            (body, request.batches, request.order)
        }
        // Only the entities no cache entry holds.
        None => match &missing {
            Some(missing) => (
                entities_body(ctx, fetch, &reps.json_of(missing)),
                Vec::new(),
                missing.clone(),
            ),
            None => (
                entities_body(ctx, fetch, &reps.json),
                Vec::new(),
                Vec::new(),
            ),
        },
    };
    // `order[i]`: the representation of the request's i-th entity (identity when empty).
    let rep_of = |i: usize| order.get(i).copied().unwrap_or(i);
    let tags = || {
        hits.is_none()
            .then(|| cached::entity_tags(ctx, fetch, &reps))
    };
    let response = match send(ctx, fetch, body, tags).await {
        Ok(response) => response,
        Err(error) => {
            let first = reps.path(0).or_else(|| Some(plan_path(path)));
            state.errors.lock().push(fetch_error(&error, first));
            return;
        }
    };
    let errors = response.errors.iter().map(|e| {
        let e = context::unalias_error(e, &batches);
        let path = entity_error_path(&e, |i| reps.path(rep_of(i)));
        with_service(e, &fetch.service_name, path)
    });
    state.errors.lock().extend(errors);
    let had_errors = !response.errors.is_empty();
    let entities = response
        .data
        .and_then(|data| context::entity_nodes(&response.doc, data, &batches));
    let Some(entities) = entities else {
        if !had_errors {
            let error = malformed(&fetch.service_name, "missing `_entities` in the response");
            state
                .errors
                .lock()
                .push(fetch_error(&error, Some(plan_path(path))));
        }
        return;
    };
    if let Some(hits) = hits {
        hits.store(ctx, &response, &entities, &order);
    }
    let mut data = state.data.lock();
    let doc = data.add(response);
    for (i, node) in entities.into_iter().enumerate() {
        let Some(targets) = reps.targets.get(rep_of(i)) else {
            continue;
        };
        for &target in targets {
            data.extend(target, Addr { doc, node });
        }
    }
}

/// Attaches the entities the cache held to the objects they extend.
fn attach_cached(
    state: &State,
    service: &str,
    hits: &cached::EntityHits,
    reps: &Representations<'_>,
) {
    let Some((response, answers)) = hits.cached(service) else {
        return;
    };
    let Some(entities) = response
        .data
        .and_then(|d| context::entity_nodes(&response.doc, d, &[]))
    else {
        return;
    };
    let mut data = state.data.lock();
    let doc = data.add(response);
    for (node, rep) in entities.into_iter().zip(answers) {
        for &target in &reps.targets[rep] {
            data.extend(target, Addr { doc, node });
        }
    }
}

/// `{"query": <operation>, "variables": <written by variables>}`, written directly: no
/// intermediate value holding a copy of the operation text.
fn request_body(
    operation: &str,
    variables: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(operation.len() + 256);
    body.extend_from_slice(b"{\"query\":");
    doc::write_str(operation, &mut body);
    body.extend_from_slice(b",\"variables\":");
    variables(&mut body)?;
    body.push(b'}');
    Ok(body)
}

/// An `_entities` request: the client variables the fetch uses, then the representations
/// exactly as they were collected.
fn entities_body(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    reps: &[u8],
) -> serde_json::Result<Vec<u8>> {
    request_body(&fetch.operation, |out| {
        out.push(b'{');
        for name in &fetch.variable_usages {
            if let Some(value) = ctx.variables.get(name.as_str()) {
                entities::push_key(out, name, false);
                serde_json::to_writer(&mut *out, value)?;
                out.push(b',');
            }
        }
        out.extend_from_slice(b"\"representations\":[");
        out.extend_from_slice(reps);
        out.extend_from_slice(b"]}");
        Ok(())
    })
}

/// Sends `fetch`'s request (a query's answered from the entity cache when it holds one;
/// `tags` are the entry's tags, computed only then).
async fn send(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    body: serde_json::Result<Vec<u8>>,
    tags: impl FnOnce() -> Option<Vec<String>>,
) -> Result<Arc<SubgraphResponse>, FetchError> {
    let service = &ctx.supergraph.subgraphs[fetch.graph];
    let body =
        body.map_err(|e| malformed(&service.name, &format!("cannot encode the request: {e}")))?;
    let lookup = match cached::Lookup::start(ctx, fetch, &body, tags).await {
        cached::Lookup::Hit(response) => return Ok(renamed(response, fetch)),
        lookup => lookup,
    };
    let request = SubgraphRequest {
        url: service.url.clone(),
        body: Bytes::from(body),
        headers: ctx.headers.for_subgraph(&service.name).clone(),
    };
    let timeout = ctx
        .timeouts
        .get(&service.name)
        .copied()
        .unwrap_or(ctx.default_timeout);
    let coalesce = fetch.operation_kind == OperationType::Query;
    let response = ctx
        .client
        .fetch(&service.name, request, timeout, coalesce, ctx.request_id)
        .await?;
    lookup.finish(ctx, &response);
    Ok(renamed(response, fetch))
}

/// Undoes the aliases the planner gave fields to keep the operation valid in the subgraph
/// (`plan::shapes`). A coalesced response is shared: it is copied first, which only such
/// fetches pay for.
fn renamed(mut response: Arc<SubgraphResponse>, fetch: &FetchNode) -> Arc<SubgraphResponse> {
    let Some(data) = response.data.filter(|_| !fetch.renames.is_empty()) else {
        return response;
    };
    let writable = Arc::make_mut(&mut response);
    // An entity fetch answers one list per `_entities` field (several with contexts).
    let roots: Vec<doc::NodeId> = match fetch.requires {
        Some(_) => writable.doc.members(data).map(|(_, value)| value).collect(),
        None => vec![data],
    };
    apply_renames(&mut writable.doc, &roots, &fetch.renames);
    response
}

fn apply_renames(doc: &mut Doc, roots: &[doc::NodeId], renames: &[crate::plan::shapes::Rename]) {
    for rename in renames {
        let path: Vec<&str> = rename.path.iter().map(|k| k.as_str()).collect();
        for &root in roots {
            doc.rename(root, &path, &rename.alias, &rename.name);
        }
    }
}

/// The client variables `fetch`'s operation uses, with their values.
pub(crate) fn fetch_variables(fetch: &FetchNode, all: &Map<String, Value>) -> Map<String, Value> {
    fetch
        .variable_usages
        .iter()
        .filter_map(|name| Some((name.to_string(), all.get(name.as_str())?.clone())))
        .collect()
}

fn plan_path(path: &[PathSegment]) -> ResponsePath {
    path.iter()
        .take_while(|s| matches!(s, PathSegment::Key(_)))
        .map(|s| match s {
            PathSegment::Key(k) => Value::String(k.to_string()),
            PathSegment::List => Value::Null,
        })
        .collect()
}

/// `["_entities", i, rest..]` becomes the client path of representation `i` plus `rest`.
fn entity_error_path(
    error: &Value,
    path_of: impl Fn(usize) -> Option<ResponsePath>,
) -> Option<ResponsePath> {
    let path = error.get("path")?.as_array()?;
    if path.first().and_then(Value::as_str) != Some("_entities") {
        return None;
    }
    let index = usize::try_from(path.get(1)?.as_u64()?).ok()?;
    let mut client = path_of(index)?;
    client.extend(path.iter().skip(2).cloned());
    Some(client)
}

/// Adds `extensions.serviceName` and, for entity errors, the rewritten path.
pub(crate) fn with_service(mut error: Value, service: &str, path: Option<ResponsePath>) -> Value {
    if !error.is_object() {
        error = json!({ "message": error.to_string() });
    }
    let object = error.as_object_mut().expect("made an object above");
    // Locations point into the subgraph operation, which the client never saw.
    object.remove("locations");
    match path {
        Some(path) => {
            object.insert("path".into(), Value::Array(path));
        }
        None if object
            .get("path")
            .and_then(Value::as_array)
            .is_some_and(|p| p.first().and_then(Value::as_str) == Some("_entities")) =>
        {
            object.remove("path");
        }
        None => {}
    }
    let extensions = object
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(extensions) = extensions {
        extensions.insert("serviceName".into(), Value::String(service.to_owned()));
    }
    error
}

pub(crate) fn fetch_error(error: &FetchError, path: Option<ResponsePath>) -> Value {
    let mut value = json!({
        "message": error.to_string(),
        "extensions": { "code": error.code(), "serviceName": error.service() },
    });
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        value["path"] = Value::Array(path);
    }
    value
}

fn malformed(service: &str, message: &str) -> FetchError {
    FetchError::Malformed {
        service: service.to_owned(),
        message: message.to_owned(),
    }
}
