//! One GraphQL request through every pipeline stage, independent of HTTP.

use crate::execute::fetch::SubgraphClient;
use crate::execute::{execute, ExecutionContext};
use crate::pipeline::{prepare_with, Caches, PreparedOperation, RequestError};
use crate::response::write_data;
use crate::subscription::{EventStream, SubscriptionHub, SubscriptionSettings};
use crate::supergraph::{Supergraph, SupergraphError};
use apollo_compiler::ast::OperationType;
use apollo_compiler::response::JsonMap;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Execution settings that do not depend on the supergraph.
#[derive(Debug, Clone)]
pub struct ExecutionSettings {
    pub subgraph_timeout: Duration,
    pub subgraph_timeouts: HashMap<String, Duration>,
    pub plan_cache_size: usize,
    /// Progressive `@override` labels enabled for every request (feature flags); `percent(N)`
    /// labels not listed here are still rolled per request.
    pub override_labels: Vec<String>,
    pub subscriptions: SubscriptionSettings,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        ExecutionSettings {
            subgraph_timeout: Duration::from_secs(30),
            subgraph_timeouts: HashMap::new(),
            plan_cache_size: 512,
            override_labels: Vec::new(),
            subscriptions: SubscriptionSettings::default(),
        }
    }
}

/// Immutable per-supergraph state; replaced as a whole on reload.
pub struct RouterState {
    pub supergraph: Arc<Supergraph>,
    pub caches: Caches,
    pub client: Arc<SubgraphClient>,
    pub settings: ExecutionSettings,
    /// Subscriptions started against this state; they outlive a supergraph reload.
    pub subscriptions: SubscriptionHub,
}

impl RouterState {
    /// Parses `sdl` into a ready state sharing `client`'s connection pools.
    pub fn new(
        sdl: &str,
        client: Arc<SubgraphClient>,
        settings: ExecutionSettings,
    ) -> Result<RouterState, SupergraphError> {
        let supergraph = Arc::new(Supergraph::parse(sdl)?);
        Ok(RouterState {
            supergraph,
            caches: Caches::new(settings.plan_cache_size),
            client,
            settings,
            subscriptions: SubscriptionHub::default(),
        })
    }
}

/// A GraphQL request as received over HTTP.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct GraphQLRequest {
    pub query: String,
    #[serde(rename = "operationName", default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
}

/// What the transport a request came over allows.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// False for GET: it never runs a mutation.
    pub allow_mutation: bool,
    /// Whether results can be streamed (WebSocket, SSE, multipart): subscriptions need it.
    pub streaming: bool,
}

/// The result of a request.
pub enum Outcome {
    /// Not executed: the response has no `data`.
    Refused(Refusal),
    /// An executed operation (possibly with field errors and partial data); `data` is the
    /// response up to and including its `data` entry (see [`executed_body`]).
    Executed { data: Vec<u8>, errors: Vec<Value> },
    /// A subscription: its results, one per event.
    Subscribed(EventStream),
}

/// Why a request was not executed.
#[derive(Debug)]
pub enum Refusal {
    /// A request error (parse, validation, variables, planning).
    Invalid(Vec<Value>),
    /// A mutation arrived over GET.
    MutationOverGet,
    /// A subscription arrived over a transport that cannot stream.
    StreamingRequired,
}

impl Refusal {
    /// The refusal as GraphQL errors with a stable `extensions.code`.
    pub fn errors(self) -> Vec<Value> {
        let error = |message: &str, code: &str| {
            vec![serde_json::json!({ "message": message, "extensions": { "code": code } })]
        };
        match self {
            Refusal::Invalid(errors) => errors,
            Refusal::MutationOverGet => error(
                "mutations are not allowed over GET; use POST",
                "METHOD_NOT_ALLOWED",
            ),
            Refusal::StreamingRequired => error(
                "subscriptions need a streaming transport: a WebSocket (graphql-transport-ws or graphql-ws), Accept: text/event-stream, or Accept: multipart/mixed;subscriptionSpec=\"1.0\"",
                "STREAMING_TRANSPORT_REQUIRED",
            ),
        }
    }
}

/// An execution result as clients receive it: `data`, then `errors` when there are any.
pub fn result_body(data: Value, errors: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("data".into(), data);
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(body)
}

/// An executed result as clients receive it: `data` as [`write_data`] started it, then the
/// errors, if any.
pub fn executed_body(mut data: Vec<u8>, errors: &[Value]) -> Vec<u8> {
    if !errors.is_empty() {
        data.extend_from_slice(b",\"errors\":");
        let _ = serde_json::to_writer(&mut data, errors);
    }
    data.push(b'}');
    data
}

/// [`executed_body`] as text (for streams and WebSocket frames). The body is UTF-8: every
/// string in it came through serde_json's validation.
pub fn executed_text(data: Vec<u8>, errors: &[Value]) -> String {
    String::from_utf8(executed_body(data, errors))
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Runs `request` through parse → validate → coerce → normalize → plan → execute → shape.
/// `headers` are forwarded to subgraphs.
pub async fn run_request(
    state: &Arc<RouterState>,
    request: GraphQLRequest,
    headers: Vec<(String, String)>,
    transport: Transport,
) -> Outcome {
    let sg = &*state.supergraph;
    let variables = request.variables.unwrap_or_default();
    let prepared = prepare_with(
        sg,
        &state.caches,
        &request.query,
        request.operation_name.as_deref(),
        variables,
        &state.settings.override_labels,
    );
    let (prepared, variables) = match prepared {
        Ok(ok) => ok,
        Err(error) => return Outcome::Refused(Refusal::Invalid(error.to_graphql_errors())),
    };
    match prepared.operation.kind {
        OperationType::Mutation if !transport.allow_mutation => {
            return Outcome::Refused(Refusal::MutationOverGet)
        }
        OperationType::Subscription if !transport.streaming => {
            return Outcome::Refused(Refusal::StreamingRequired)
        }
        OperationType::Subscription => {
            let events =
                state
                    .subscriptions
                    .subscribe(state.clone(), prepared.clone(), variables, headers);
            return match events {
                Some(events) => Outcome::Subscribed(events),
                None => Outcome::Refused(Refusal::Invalid(vec![serde_json::json!({
                    "message": "the subscription has no root fetch",
                    "extensions": { "code": "QUERY_PLANNING_FAILED" },
                })])),
            };
        }
        _ => {}
    }
    let introspection = match introspect(sg, &prepared, &variables) {
        Ok(result) => result,
        Err(error) => return Outcome::Refused(Refusal::Invalid(error.to_graphql_errors())),
    };
    let ctx = ExecutionContext {
        supergraph: sg,
        client: &state.client,
        variables: &variables,
        headers,
        default_timeout: state.settings.subgraph_timeout,
        timeouts: &state.settings.subgraph_timeouts,
    };
    let output = execute(&ctx, prepared.plan.root.as_ref()).await;
    let mut errors = output.errors;
    let size = &prepared.response_size;
    let data = write_data(
        sg,
        &prepared.operation,
        &output.data,
        introspection,
        &mut errors,
        size.load(std::sync::atomic::Ordering::Relaxed),
    );
    size.store(data.len(), std::sync::atomic::Ordering::Relaxed);
    Outcome::Executed { data, errors }
}

/// Answers `__schema`/`__type` from the API schema.
fn introspect(
    sg: &Supergraph,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, RequestError> {
    if !prepared.has_introspection {
        return Ok(None);
    }
    let doc = &prepared.document;
    let input: JsonMap = variables
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.clone().into()))
        .collect();
    let invalid = |e: apollo_compiler::request::RequestError| {
        RequestError::Variables(e.message().to_string())
    };
    let coerced =
        apollo_compiler::request::coerce_variable_values(&sg.api_schema, &doc.operation, &input)
            .map_err(invalid)?;
    apollo_compiler::introspection::check_max_depth(&doc.document, &doc.operation)
        .map_err(invalid)?;
    let response = apollo_compiler::introspection::partial_execute(
        &sg.api_schema,
        &sg.implementers,
        &doc.document,
        &doc.operation,
        &coerced,
    )
    .map_err(invalid)?;
    let data = response
        .data
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null));
    Ok(match data {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    })
}
