//! One trace across the federation: the router and every subgraph run as their own processes,
//! exporting spans over OTLP/HTTP (protobuf) to a receiver in this test. A query sent with a
//! W3C `traceparent` comes back as one connected trace through the router, boards and
//! accounts down to the store; one whose caller did not sample it is traced nowhere; a
//! mutation's domain event continues its trace in the notifications service.
//!
//! Needs the workspace's binaries in the target dir (`cargo build --bins`).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::procs::{binary, wait_ok, Procs};
use kit::testing::free_port;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use parking_lot::Mutex;
use prost::Message;
use serde_json::{json, Value};

/// One exported span, as the receiver keeps it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace: String,
    id: String,
    parent: String,
    name: String,
    attributes: BTreeMap<String, String>,
}

type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with a protobuf body.
async fn receiver() -> (String, Received) {
    let spans = Received::default();
    let store = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                store.lock().extend(flatten(request));
                let reply = ExportTraceServiceResponse::default().encode_to_vec();
                ([("content-type", "application/x-protobuf")], reply)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

fn text(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default();
        let service = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(&kv.value))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(Span {
                    service: service.clone(),
                    trace: hex::encode(&span.trace_id),
                    id: hex::encode(&span.span_id),
                    parent: hex::encode(&span.parent_span_id),
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(&kv.value)))
                        .collect(),
                });
            }
        }
    }
    out
}

struct Federation {
    procs: Procs,
    router: String,
    _dir: tempfile::TempDir,
}

/// The four subgraphs and the router, each its own process exporting to `otlp`.
async fn start(otlp: &str) -> Federation {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new(dir.path());
    let data = dir.path().join("data").display().to_string();
    let otel = |service: &str| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), otlp.to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
            ("OTEL_SERVICE_NAME".into(), service.into()),
        ]
    };
    let mut ports = BTreeMap::new();
    for name in ["accounts", "boards", "chat", "notifications"] {
        let port = free_port();
        ports.insert(name, port);
        let p = name.to_uppercase();
        let jwks = format!(
            "http://127.0.0.1:{}/.well-known/jwks.json",
            ports["accounts"]
        );
        let mut env = otel(name);
        env.extend([
            (format!("{p}_LISTEN"), format!("127.0.0.1:{port}")),
            (format!("{p}_DATA_DIR"), data.clone()),
            (format!("{p}_JWKS_URL"), jwks),
        ]);
        procs.spawn(name, &binary(name), &[], &env);
        let ready = format!("http://127.0.0.1:{port}/ready");
        wait_ok(&ready, name, || procs.logs()).await;
    }
    let url = |name: &str| format!("http://127.0.0.1:{}/graphql", ports[name]);
    let subgraphs: String = ["accounts", "boards", "chat", "notifications"]
        .iter()
        .map(|name| {
            format!(
                "[[subgraphs]]\nname = \"{name}\"\nurl = \"{}\"\n",
                url(name)
            )
        })
        .collect();
    let config = dir.path().join("router.toml");
    std::fs::write(&config, format!("startup_wait = \"30s\"\n{subgraphs}")).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = config.display().to_string();
    let args = ["serve", "--config", &config, "--listen", &listen];
    procs.spawn("router", &binary("router"), &args, &otel("router"));
    let router = format!("http://127.0.0.1:{port}");
    wait_ok(&format!("{router}/health"), "router", || procs.logs()).await;
    Federation {
        procs,
        router,
        _dir: dir,
    }
}

impl Federation {
    async fn post(&self, query: &str, variables: Value, token: &str, trace: &str) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.router))
            .json(&json!({ "query": query, "variables": variables }));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if !trace.is_empty() {
            request = request.header("traceparent", traceparent(trace, true));
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(body["errors"].is_null(), "{query}: {body}");
        body["data"].clone()
    }

    async fn sign_up(&self, name: &str) -> (String, String) {
        let input = json!({ "email": format!("{name}@example.com"), "password": "correct horse battery", "name": name });
        let query = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }";
        let data = self.post(query, json!({ "i": input }), "", "").await;
        let token = data["signUp"]["accessToken"].as_str().unwrap().to_owned();
        let id = data["signUp"]["user"]["id"].as_str().unwrap().to_owned();
        (token, id)
    }
}

/// The client's own span, the parent the router's span must name.
const CLIENT_SPAN: &str = "b7ad6b7169203331";

fn traceparent(trace: &str, sampled: bool) -> String {
    let flags = if sampled { "01" } else { "00" };
    format!("00-{trace}-{CLIENT_SPAN}-{flags}")
}

/// The spans of `trace` once `done` holds for them (or a failure listing what arrived).
async fn spans_of(
    received: &Received,
    trace: &str,
    done: impl Fn(&[Span]) -> bool,
    logs: impl Fn() -> String,
) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans: Vec<Span> = received
            .lock()
            .iter()
            .filter(|s| s.trace == trace)
            .cloned()
            .collect();
        if done(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace} is incomplete: {spans:#?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Spans of the subgraphs that start a trace (probes, the router's SDL fetches, ...).
fn subgraph_roots(received: &Received) -> Vec<String> {
    let spans = received.lock();
    let roots = spans
        .iter()
        .filter(|s| s.service != "router" && s.parent.is_empty());
    roots.map(|s| format!("{} {}", s.service, s.name)).collect()
}

fn has(spans: &[Span], service: &str, name: &str) -> bool {
    spans.iter().any(|s| s.service == service && s.name == name)
}

/// Every span's parent is another span of the trace, or the client's span.
fn assert_connected(spans: &[Span]) {
    let ids: Vec<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    for span in spans {
        assert!(
            span.parent == CLIENT_SPAN || ids.contains(&span.parent.as_str()),
            "{} of {} has a parent outside the trace: {spans:#?}",
            span.name,
            span.service
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_is_one_trace_through_router_subgraphs_stores_and_events() {
    let (otlp, received) = receiver().await;
    let f = start(&otlp).await;
    let (ada, _) = f.sign_up("ada").await;
    let (_, bob) = f.sign_up("bob").await;
    let board = f
        .post(
            "mutation { createBoard(input: {name: \"Launch\"}) { id } }",
            json!({}),
            &ada,
            "",
        )
        .await["createBoard"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }";
    f.post(add, json!({ "b": board, "u": bob }), &ada, "").await;

    // A query: accounts answers `me`, boards its boards and their members' names come back
    // from accounts as entities.
    let query_trace = "0af7651916cd43dd8448eb211c80319c";
    let query = "query Mine { me { name boards { name members { user { name } } } } }";
    f.post(query, json!({}), &ada, query_trace).await;
    let spans = spans_of(
        &received,
        query_trace,
        |spans| {
            has(spans, "router", "query Mine")
                && spans
                    .iter()
                    .any(|s| s.service == "boards" && s.name.ends_with("sqlite"))
                && spans.iter().filter(|s| s.service == "accounts").count() >= 2
        },
        || f.procs.logs(),
    )
    .await;
    assert_connected(&spans);
    let root = spans.iter().find(|s| s.name == "query Mine").unwrap();
    assert_eq!(
        root.parent, CLIENT_SPAN,
        "the router continues the client's trace"
    );
    assert_eq!(root.attributes["graphql.operation.name"], "Mine");
    assert_eq!(root.attributes["graphql.operation.type"], "query");
    assert!(
        !root.attributes.contains_key("graphql.document"),
        "off by default"
    );
    for subgraph in ["accounts", "boards"] {
        let fetch = spans
            .iter()
            .find(|s| s.service == "router" && s.name == format!("subgraph {subgraph}"))
            .unwrap_or_else(|| panic!("no fetch to {subgraph}: {spans:#?}"));
        let served = spans
            .iter()
            .find(|s| s.service == subgraph && s.parent == fetch.id)
            .unwrap_or_else(|| panic!("{subgraph} did not continue the fetch: {spans:#?}"));
        assert_eq!(served.name, "POST /graphql");
        assert_eq!(served.attributes["http.request.method"], "POST");
        assert_eq!(served.attributes["http.response.status_code"], "200");
    }

    // A caller that decided not to sample: no service traces the request (the router
    // forwards the decision), checked once a later sampled request's spans have arrived.
    let unsampled = "11111111111111111111111111111111";
    let roots_before = subgraph_roots(&received);
    let request = reqwest::Client::new()
        .post(format!("{}/graphql", f.router))
        .bearer_auth(&ada)
        .header("traceparent", traceparent(unsampled, false))
        .json(&json!({ "query": query }));
    assert_eq!(request.send().await.unwrap().status(), 200);
    let later = "22222222222222222222222222222222";
    f.post(query, json!({}), &ada, later).await;
    spans_of(
        &received,
        later,
        |spans| spans.iter().filter(|s| s.service == "accounts").count() >= 2,
        || f.procs.logs(),
    )
    .await;
    let leaked: Vec<Span> = received
        .lock()
        .iter()
        .filter(|s| s.trace == unsampled)
        .cloned()
        .collect();
    assert!(
        leaked.is_empty(),
        "an unsampled request was traced: {leaked:#?}"
    );
    // No subgraph started a trace of its own for it either (as each would, were the
    // decision not forwarded).
    assert_eq!(
        subgraph_roots(&received),
        roots_before,
        "subgraph spans outside any router trace"
    );

    // A mutation whose domain event (TaskAssigned) is handled by notifications: the handling
    // joins the mutation's trace.
    let mutation_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let create = "mutation($b: ID!, $u: ID) { createTask(input: {boardId: $b, title: \"Ship\", assigneeId: $u}) { id } }";
    f.post(
        create,
        json!({ "b": board, "u": bob }),
        &ada,
        mutation_trace,
    )
    .await;
    let spans = spans_of(
        &received,
        mutation_trace,
        |spans| has(spans, "notifications", "process TaskAssigned"),
        || f.procs.logs(),
    )
    .await;
    assert_connected(&spans);
    let handled = spans
        .iter()
        .find(|s| s.name == "process TaskAssigned" && s.service == "notifications")
        .unwrap();
    let cause = spans.iter().find(|s| s.id == handled.parent).unwrap();
    assert_eq!(
        (cause.service.as_str(), cause.name.as_str()),
        ("boards", "POST /graphql"),
        "the event's handling is a child of the request that caused it"
    );
}
