//! One GraphQL request through every pipeline stage, independent of HTTP.

use crate::edge::authorization::Grants;
use crate::edge::cost::CostError;
use crate::edge::documents::Documents;
use crate::edge::gate::{Caller, Gate, Refused};
use crate::edge::headers::Forwarded;
use crate::execute::{execute, ExecutionContext};
use crate::metrics::ClientInfo;
use crate::observe::{observe, record_operation, Observed, RequestTrace};
use crate::pipeline::{introspect, lookup, Admission, Lookup, PreparedOperation, RequestError};
use crate::plan_store::{plan_shared, PlanStore};
use crate::response::{executed_body, write_data};
use crate::state::{ExecutionKey, RouterState};
use crate::subscription::EventStream;
use apollo_compiler::ast::OperationType;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// A GraphQL request as received over HTTP.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct GraphQLRequest {
    /// Absent when the request names a persisted document instead.
    #[serde(default)]
    pub query: Option<String>,
    /// GraphQL over HTTP's persisted documents: the id of a document in the manifest.
    #[serde(rename = "documentId", default)]
    pub document_id: Option<String>,
    #[serde(rename = "operationName", default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    /// Protocol extensions; when present it must be an object (else HTTP 400).
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

/// What the transport a request came over allows.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// False for GET: it never runs a mutation.
    pub allow_mutation: bool,
    /// Whether results can be streamed (WebSocket, SSE, multipart): subscriptions need it.
    pub streaming: bool,
    /// The transport's name in metrics: `http`, `sse`, `multipart`, `websocket`.
    pub name: &'static str,
}

/// The result of a request.
pub enum Outcome {
    /// Not executed: the response has no `data`.
    Refused(Refusal),
    /// An executed operation (possibly with field errors and partial data): its whole
    /// response body (see [`executed_body`]), which identical requests in flight share
    /// (cloning it copies nothing).
    Executed(bytes::Bytes),
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
    /// Refused at the edge with its own HTTP status: limits and cost (400), rate limits
    /// (429, with `retry_after`), an unavailable limiter (503), the request timeout (504).
    Edge {
        status: u16,
        errors: Vec<Value>,
        retry_after: Option<Duration>,
    },
}

impl Refusal {
    fn edge(status: u16, message: &str, code: &str) -> Refusal {
        Refusal::Edge {
            status,
            errors: vec![serde_json::json!({ "message": message, "extensions": { "code": code } })],
            retry_after: None,
        }
    }

    /// The refusal as GraphQL errors with a stable `extensions.code`.
    pub fn errors(self) -> Vec<Value> {
        let error = |message: &str, code: &str| {
            vec![serde_json::json!({ "message": message, "extensions": { "code": code } })]
        };
        match self {
            Refusal::Invalid(errors) | Refusal::Edge { errors, .. } => errors,
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

impl From<Refused> for Refusal {
    fn from(refused: Refused) -> Refusal {
        match refused {
            Refused::Limited { retry_after } => {
                let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                Refusal::Edge {
                    status: 429,
                    errors: vec![serde_json::json!({
                        "message": format!("rate limit exceeded; retry in {seconds} s"),
                        "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds },
                    })],
                    retry_after: Some(Duration::from_secs(seconds)),
                }
            }
            Refused::Unavailable => Refusal::edge(
                503,
                "the rate limiter is unavailable; try again shortly",
                "RATE_LIMIT_UNAVAILABLE",
            ),
        }
    }
}

/// What the transport knows about a request besides its body.
pub struct RequestContext<'a> {
    /// Headers for subgraph requests.
    pub headers: Forwarded,
    pub request_id: String,
    pub caller: Caller,
    pub transport: Transport,
    /// The rate-limit gate, when rate limiting is on.
    pub gate: Option<&'a Gate>,
    /// Who is asking (client name and version headers), for metrics.
    pub client: ClientInfo,
    /// Persisted documents: APQ and the manifest resolve the document a request runs.
    pub documents: &'a Documents,
    /// Plans shared by the fleet, consulted before planning.
    pub plans: Option<&'a PlanStore>,
    /// The caller's grants, when authorization is enforced (a token verifier is configured).
    pub grants: Option<Grants>,
    /// How the request is traced ([`crate::observe::request_span`]).
    pub trace: RequestTrace,
}

/// Runs `request` through parse → validate → limits → coerce → normalize → plan (cached)
/// → cost → rate limits → execute → shape.
pub async fn run_request(
    state: &Arc<RouterState>,
    request: GraphQLRequest,
    mut rc: RequestContext<'_>,
) -> Outcome {
    let mut seen = Observed::start(std::mem::take(&mut rc.client));
    let RequestTrace { head, span } = std::mem::take(&mut rc.trace);
    let stages = run_stages(state, request, rc, &mut seen);
    let outcome = telemetry::propagation::within(head, span.clone(), stages).await;
    observe(&state.client.metrics, &span, &outcome, &seen);
    outcome
}

async fn run_stages(
    state: &Arc<RouterState>,
    mut request: GraphQLRequest,
    rc: RequestContext<'_>,
    seen: &mut Observed,
) -> Outcome {
    let sg = &*state.supergraph;
    let settings = &state.settings;
    let variables = request.variables.take().unwrap_or_default();
    let query = match rc.documents.resolve(&request).await {
        Ok(query) => query,
        Err(refusal) => return Outcome::Refused(refusal),
    };
    let looked_up = lookup(
        sg,
        &state.caches,
        &query,
        request.operation_name.as_deref(),
        variables,
        &settings.override_labels,
        Admission {
            limits: Some(&settings.limits),
            grants: rc.grants.as_ref(),
        },
    );
    let prepared = match looked_up {
        Ok(Lookup::Hit(prepared, variables)) => Ok((prepared, variables)),
        Ok(Lookup::Miss(miss)) => plan_shared(state, rc.plans, miss).await,
        Err(error) => Err(error),
    };
    let (prepared, variables) = match prepared {
        Ok(ok) => ok,
        Err(error @ RequestError::Limit(_)) => {
            return Outcome::Refused(Refusal::Edge {
                status: 400,
                errors: error.to_graphql_errors(),
                retry_after: None,
            })
        }
        Err(error) => return Outcome::Refused(Refusal::Invalid(error.to_graphql_errors())),
    };
    record_operation(&tracing::Span::current(), &prepared, &settings.tracing);
    seen.operation = Some(prepared.clone());
    if settings.reject_unauthorized && !prepared.unauthorized.is_empty() {
        return Outcome::Refused(Refusal::Edge {
            status: 403,
            errors: prepared.unauthorized.clone(),
            retry_after: None,
        });
    }
    if let Err(refusal) = admit(state, &prepared, &rc.transport) {
        return Outcome::Refused(refusal);
    }
    let cost = match admit_cost(state, &prepared, &variables) {
        Ok(cost) => cost,
        Err(refusal) => return Outcome::Refused(refusal),
    };
    if let Some(gate) = rc.gate {
        let spent = gate.admit(
            &rc.caller,
            &prepared.operation,
            &variables,
            cost.unwrap_or(0.0),
        );
        if let Err(refused) = spent.await {
            return Outcome::Refused(refused.into());
        }
    }
    if prepared.operation.kind == OperationType::Subscription {
        let events = state.subscriptions.subscribe(
            state.clone(),
            prepared.clone(),
            variables,
            rc.headers,
            rc.request_id,
            rc.transport.name,
        );
        return match events {
            Some(events) => Outcome::Subscribed(events),
            None => Outcome::Refused(Refusal::Invalid(vec![serde_json::json!({
                "message": "the subscription has no root fetch",
                "extensions": { "code": "QUERY_PLANNING_FAILED" },
            })])),
        };
    }
    let timeout = settings.request_timeout;
    let execution = execute_operation(state, prepared, variables, rc, cost);
    match tokio::time::timeout(timeout, execution).await {
        Ok((outcome, errors)) => {
            seen.errors = errors;
            outcome
        }
        Err(_) => Outcome::Refused(Refusal::edge(
            504,
            &format!(
                "the operation did not complete within {}",
                crate::flags::format_duration(timeout)
            ),
            "GATEWAY_TIMEOUT",
        )),
    }
}

/// What the transport and the configuration allow, before anything is spent.
fn admit(
    state: &RouterState,
    prepared: &PreparedOperation,
    transport: &Transport,
) -> Result<(), Refusal> {
    match prepared.operation.kind {
        OperationType::Mutation if !transport.allow_mutation => {
            return Err(Refusal::MutationOverGet)
        }
        OperationType::Subscription if !transport.streaming => {
            return Err(Refusal::StreamingRequired)
        }
        _ => {}
    }
    if prepared.has_introspection && !state.settings.introspection {
        return Err(Refusal::edge(
            400,
            "introspection is disabled on this router",
            "INTROSPECTION_DISABLED",
        ));
    }
    Ok(())
}

/// The operation's estimated cost (when demand control is on), refused over the maximum.
fn admit_cost(
    state: &RouterState,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
) -> Result<Option<f64>, Refusal> {
    let config = &state.settings.demand_control;
    if !config.enabled {
        return Ok(None);
    }
    let estimate = match prepared.static_cost.get() {
        Some(cost) => Ok(*cost),
        None => state
            .cost
            .estimate(&prepared.operation, variables, config.list_size),
    };
    let refuse = |error: CostError| Refusal::Edge {
        status: 400,
        errors: vec![error.to_graphql_error()],
        retry_after: None,
    };
    let estimated = estimate.map_err(refuse)?;
    if prepared.static_cost.get().is_none() && !state.cost.depends_on_variables(&prepared.operation)
    {
        let _ = prepared.static_cost.set(estimated);
    }
    config.check(estimated).map_err(refuse)?;
    Ok(Some(estimated))
}

/// Runs a query or mutation: a query joins an identical one in flight when deduplication
/// is on; a mutation moves the write epoch on before its response leaves. Says whether the
/// response has errors.
async fn execute_operation(
    state: &Arc<RouterState>,
    prepared: Arc<PreparedOperation>,
    variables: Map<String, Value>,
    rc: RequestContext<'_>,
    cost: Option<f64>,
) -> (Outcome, bool) {
    let kind = prepared.operation.kind;
    let introspection = match introspect(&state.supergraph, &prepared, &variables) {
        Ok(result) => result,
        Err(error) => {
            let errors = error.to_graphql_errors();
            return (Outcome::Refused(Refusal::Invalid(errors)), false);
        }
    };
    let shared =
        kind == OperationType::Query && state.settings.dedupe_requests && introspection.is_none();
    if !shared {
        let (headers, id) = (&rc.headers, rc.request_id.as_str());
        let execution = execute_plan(
            state,
            &prepared,
            &variables,
            headers,
            id,
            introspection,
            cost,
        );
        let (data, errors) = execution.await;
        if kind == OperationType::Mutation {
            state.client.writes.advance();
        }
        state.client.metrics.count_errors(&errors);
        let body = executed_body(data, &errors).into();
        return (Outcome::Executed(body), !errors.is_empty());
    }
    let key = ExecutionKey {
        plan: Arc::as_ptr(&prepared) as usize,
        variables: serde_json::to_vec(&variables).unwrap_or_default(),
        headers: rc.headers.clone(),
        epoch: state.client.writes.current(),
    };
    let owned = (state.clone(), prepared, rc.headers, rc.request_id);
    let work = move |_: &ExecutionKey| async move {
        let (state, prepared, headers, id) = owned;
        // The plan in the key is kept alive by this task, so its address is not reused.
        let result = execute_plan(&state, &prepared, &variables, &headers, &id, None, cost);
        let (data, errors) = result.await;
        state.client.metrics.count_errors(&errors);
        (
            bytes::Bytes::from(executed_body(data, &errors)),
            !errors.is_empty(),
        )
    };
    let ((body, errors), _) = state.executions.run(key, work).await;
    (Outcome::Executed(body), errors)
}

async fn execute_plan(
    state: &RouterState,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
    headers: &Forwarded,
    request_id: &str,
    introspection: Option<Map<String, Value>>,
    cost: Option<f64>,
) -> (Vec<u8>, Vec<Value>) {
    let sg = &*state.supergraph;
    let ctx = ExecutionContext {
        supergraph: sg,
        client: &state.client,
        variables,
        headers,
        request_id,
        default_timeout: state.settings.subgraph_timeout,
        timeouts: &state.settings.subgraph_timeouts,
        cached_reads: prepared.operation.kind == OperationType::Query,
    };
    let output = execute(&ctx, prepared.plan.root.as_ref()).await;
    let mut errors = prepared.unauthorized.clone();
    errors.extend(output.errors);
    if !state.settings.subgraph_error_extensions {
        errors.iter_mut().for_each(strip_extensions);
    }
    let demand = &state.settings.demand_control;
    let cost = cost
        .filter(|_| demand.expose_estimate)
        .map(|estimated| demand.extension(estimated));
    let size = &prepared.response_size;
    let data = write_data(
        sg,
        &prepared.operation,
        &output.data,
        introspection,
        &mut errors,
        size.load(std::sync::atomic::Ordering::Relaxed),
        cost,
    );
    size.store(data.len(), std::sync::atomic::Ordering::Relaxed);
    (data, errors)
}

/// Keeps only `code` and `serviceName` of an error's `extensions`.
fn strip_extensions(error: &mut Value) {
    if let Some(Value::Object(extensions)) = error.get_mut("extensions") {
        extensions.retain(|key, _| key == "code" || key == "serviceName");
    }
}
