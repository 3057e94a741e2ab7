//! Runs a query plan: parallel nodes concurrently, one `_entities` request per entity step
//! with deduplicated representations, results merged in place into one response tree.

mod context;
pub mod entities;
pub mod fetch;

use crate::plan::{FetchNode, PathSegment, PlanNode};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::OperationType;
use bytes::Bytes;
use entities::{collect, get_mut, merge, ResponsePath};
use fetch::{FetchError, SubgraphClient, SubgraphRequest, SubgraphResponse};
use futures::future::{join_all, BoxFuture, FutureExt};
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
    /// Headers forwarded to every subgraph, sorted by name.
    pub headers: Vec<(String, String)>,
    pub default_timeout: Duration,
    /// Per-subgraph overrides of `default_timeout`, by subgraph name.
    pub timeouts: &'a HashMap<String, Duration>,
}

/// The merged data and the errors gathered while executing.
pub struct ExecutionOutput {
    pub data: Value,
    pub errors: Vec<Value>,
}

struct State {
    data: Mutex<Value>,
    errors: Mutex<Vec<Value>>,
}

/// Executes `plan` and returns the raw merged data (not yet shaped for the client).
pub async fn execute(ctx: &ExecutionContext<'_>, plan: Option<&PlanNode>) -> ExecutionOutput {
    let start = ExecutionOutput {
        data: Value::Object(Map::new()),
        errors: Vec::new(),
    };
    execute_from(ctx, plan, start).await
}

/// Executes `plan` on top of data already fetched (a subscription event from its primary
/// fetch), adding to `start`'s errors.
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
    let variables = used_variables(ctx, fetch, None);
    match send(ctx, fetch, &fetch.operation, variables).await {
        Ok(response) => {
            let errors = response
                .errors
                .iter()
                .map(|e| with_service(e.clone(), &fetch.service_name, None));
            state.errors.lock().extend(errors);
            if let Some(data) = take_data(response) {
                merge(&mut state.data.lock(), data);
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
    let mut reps = collect(
        ctx.supergraph,
        fetch.graph,
        &state.data.lock(),
        paths,
        requires,
        rewrites,
    );
    if reps.unique.is_empty() {
        return;
    }
    let (operation, variables, batches) = match &fetch.context {
        Some(context) => {
            let client = used_variables(ctx, fetch, None);
            let request = context::request(context, &mut reps, client);
            (request.operation, request.variables, request.batches)
        }
        None => {
            let representations = Value::Array(std::mem::take(&mut reps.unique));
            let variables = used_variables(ctx, fetch, Some(representations));
            (None, variables, Vec::new())
        }
    };
    let operation = operation.as_deref().unwrap_or(&fetch.operation);
    let response = match send(ctx, fetch, operation, variables).await {
        Ok(response) => response,
        Err(error) => {
            let first = reps.positions.first().and_then(|p| p.first()).cloned();
            state
                .errors
                .lock()
                .push(fetch_error(&error, first.or_else(|| Some(plan_path(path)))));
            return;
        }
    };
    let errors = response.errors.iter().map(|e| {
        let e = context::unalias_error(e, &batches);
        let path = entity_error_path(&e, &reps.positions);
        with_service(e, &fetch.service_name, path)
    });
    state.errors.lock().extend(errors);
    let had_errors = !response.errors.is_empty();
    let entities = match take_data(response) {
        Some(Value::Object(mut data)) => context::take_entities(&mut data, &batches),
        _ => None,
    };
    let Some(Value::Array(entities)) = entities else {
        if !had_errors {
            let error = malformed(&fetch.service_name, "missing `_entities` in the response");
            state
                .errors
                .lock()
                .push(fetch_error(&error, Some(plan_path(path))));
        }
        return;
    };
    let mut data = state.data.lock();
    for (mut entity, positions) in entities.into_iter().zip(&reps.positions) {
        // An @interfaceObject answers with the interface's name, which must not replace the
        // runtime type; an object type's name is the real type (found through the interface).
        if let Value::Object(fields) = &mut entity {
            let names_object = fields
                .get("__typename")
                .and_then(Value::as_str)
                .is_some_and(|t| ctx.supergraph.api_schema.get_object(t).is_some());
            if !names_object {
                fields.remove("__typename");
            }
        }
        let Some((last, others)) = positions.split_last() else {
            continue;
        };
        for position in others {
            if let Some(target) = get_mut(&mut data, position) {
                merge(target, entity.clone());
            }
        }
        if let Some(target) = get_mut(&mut data, last) {
            merge(target, entity);
        }
    }
}

async fn send(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    operation: &str,
    variables: Map<String, Value>,
) -> Result<Arc<SubgraphResponse>, FetchError> {
    let service = &ctx.supergraph.subgraphs[fetch.graph];
    // Written directly: no intermediate JSON value holding a copy of the operation text.
    let mut body = Vec::with_capacity(operation.len() + 128);
    body.extend_from_slice(b"{\"query\":");
    let written = serde_json::to_writer(&mut body, operation).and_then(|()| {
        body.extend_from_slice(b",\"variables\":");
        serde_json::to_writer(&mut body, &variables)
    });
    if let Err(e) = written {
        return Err(malformed(
            &service.name,
            &format!("cannot encode the request: {e}"),
        ));
    }
    body.push(b'}');
    let body = Bytes::from(body);
    let request = SubgraphRequest {
        url: service.url.clone(),
        body,
        headers: ctx.headers.clone(),
    };
    let timeout = ctx
        .timeouts
        .get(&service.name)
        .copied()
        .unwrap_or(ctx.default_timeout);
    let coalesce = fetch.operation_kind == OperationType::Query;
    ctx.client
        .fetch(&service.name, request, timeout, coalesce)
        .await
}

fn used_variables(
    ctx: &ExecutionContext<'_>,
    fetch: &FetchNode,
    representations: Option<Value>,
) -> Map<String, Value> {
    let mut variables = fetch_variables(fetch, ctx.variables);
    if let Some(reps) = representations {
        variables.insert("representations".into(), reps);
    }
    variables
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
fn entity_error_path(error: &Value, positions: &[Vec<ResponsePath>]) -> Option<ResponsePath> {
    let path = error.get("path")?.as_array()?;
    if path.first().and_then(Value::as_str) != Some("_entities") {
        return None;
    }
    let index = usize::try_from(path.get(1)?.as_u64()?).ok()?;
    let mut client = positions.get(index)?.first()?.clone();
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

/// Takes the data out of a response, cloning only when a coalesced twin still shares it.
fn take_data(response: Arc<SubgraphResponse>) -> Option<Value> {
    match Arc::try_unwrap(response) {
        Ok(response) => response.data,
        Err(shared) => shared.data.clone(),
    }
}
