//! The router's `/metrics` and `/ready`: what a few requests leave in the Prometheus
//! exposition (requests by operation, outcome and client; errors by code; every subgraph
//! fetch; entity batches; coalescing; the plan cache), the label cap, and readiness that
//! follows the subgraphs.

mod common;
use common::{fixture, post, with_urls, Demo};
use router::execute::fetch::SubgraphClient;
use router::metrics::{Metrics, MetricsConfig};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn app_with(sdl: &str, settings: router::ExecutionSettings, metrics: Metrics) -> axum::Router {
    let client = Arc::new(SubgraphClient::with_metrics(metrics));
    let state = router::RouterState::new(sdl, client, settings).expect("supergraph parses");
    router::app(Arc::new(router::AppState::new(state, Vec::new())))
}

fn router_app(sdl: &str, settings: router::ExecutionSettings) -> axum::Router {
    app_with(sdl, settings, Metrics::default())
}

async fn get(app: &axum::Router, path: &str) -> (u16, String) {
    let request = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the sample named exactly `series` (name and labels as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a number"))
}

fn expect(text: &str, series: &str, value: f64) {
    assert_eq!(sample(text, series), Some(value), "{series} in:\n{text}");
}

const ME: &str = "query Me { me { name reviews { body } } }";

#[tokio::test]
async fn requests_fetches_plans_and_errors_are_counted() {
    let demo = Demo::start().await;
    let app = router_app(&demo.supergraph(), router::ExecutionSettings::default());
    let client = [
        ("apollographql-client-name", "web"),
        ("apollographql-client-version", "1.2.0"),
    ];
    for _ in 0..2 {
        let (status, _, body) = post(&app, json!({ "query": ME }), &client).await;
        assert_eq!(
            (status, body["errors"].clone()),
            (200, Value::Null),
            "{body}"
        );
    }
    let (_, _, invalid) = post(&app, json!({ "query": "{ nope }" }), &[]).await;
    assert!(invalid["errors"].is_array());
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    let r = r#"service="router""#;
    expect(
        &text,
        &format!(
            r#"platform_router_requests_total{{{r},operation="Me",outcome="ok",client_name="web",client_version="1.2.0"}}"#
        ),
        2.0,
    );
    expect(
        &text,
        &format!(
            r#"platform_router_requests_total{{{r},operation="(invalid)",outcome="invalid",client_name="(none)",client_version="(none)"}}"#
        ),
        1.0,
    );
    expect(
        &text,
        &format!(
            r#"platform_router_request_duration_seconds_count{{{r},operation="Me",outcome="ok"}}"#
        ),
        2.0,
    );
    expect(
        &text,
        &format!(r#"platform_router_errors_total{{{r},code="GRAPHQL_VALIDATION_FAILED"}}"#),
        1.0,
    );
    for (outcome, n) in [("miss", 1.0), ("hit", 1.0)] {
        let series = format!(
            r#"platform_router_plan_cache_total{{{r},level="memory",outcome="{outcome}"}}"#
        );
        expect(&text, &series, n);
    }
    expect(
        &text,
        &format!(r#"platform_router_planning_duration_seconds_count{{{r}}}"#),
        1.0,
    );
    for subgraph in ["accounts", "reviews"] {
        let series = format!(
            r#"platform_router_subgraph_fetch_duration_seconds_count{{{r},subgraph="{subgraph}"}}"#
        );
        expect(&text, &series, 2.0);
    }
    let batches = format!(r#"platform_router_entity_batch_size_count{{{r},subgraph="reviews"}}"#);
    expect(&text, &batches, 2.0);
    let rss = sample(
        &text,
        &format!(r#"platform_process_resident_memory_bytes{{{r}}}"#),
    );
    assert!(rss.is_some_and(|bytes| bytes > 1e6), "RSS: {rss:?}");
}

#[tokio::test]
async fn timeouts_and_coalesced_fetches_are_counted_per_subgraph() {
    let demo = Demo::start().await;
    demo.reviews.delay_ms.store(400, Ordering::SeqCst);
    let settings = router::ExecutionSettings {
        subgraph_timeout: Duration::from_millis(200),
        // Two identical requests run twice; their reviews fetch is coalesced below.
        dedupe_requests: false,
        ..Default::default()
    };
    let app = router_app(&demo.supergraph(), settings);
    let query = json!({ "query": ME });
    let (first, second) = tokio::join!(post(&app, query.clone(), &[]), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        post(&app, query.clone(), &[]).await
    });
    for (_, _, body) in [&first, &second] {
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SUBREQUEST_TIMEOUT"
        );
    }
    let (_, text) = get(&app, "/metrics").await;
    let r = r#"service="router""#;
    expect(
        &text,
        &format!(
            r#"platform_router_subgraph_fetch_errors_total{{{r},subgraph="reviews",kind="timeout"}}"#
        ),
        1.0,
    );
    expect(
        &text,
        &format!(r#"platform_router_subgraph_fetches_coalesced_total{{{r},subgraph="reviews"}}"#),
        1.0,
    );
    expect(
        &text,
        &format!(
            r#"platform_router_requests_total{{{r},operation="Me",outcome="errors",client_name="(none)",client_version="(none)"}}"#
        ),
        2.0,
    );
    expect(
        &text,
        &format!(r#"platform_router_errors_total{{{r},code="SUBREQUEST_TIMEOUT"}}"#),
        2.0,
    );
}

#[tokio::test]
async fn operation_names_past_the_cap_count_as_other_and_metrics_can_be_off() {
    let demo = Demo::start().await;
    let capped = MetricsConfig {
        max_operation_labels: 2,
        ..MetricsConfig::default()
    };
    let app = app_with(
        &demo.supergraph(),
        Default::default(),
        Metrics::new(&capped),
    );
    for name in ["A", "B", "C", "D"] {
        let query = format!("query {name} {{ me {{ name }} }}");
        post(&app, json!({ "query": query }), &[]).await;
    }
    let (_, text) = get(&app, "/metrics").await;
    let series = |op: &str| {
        format!(
            r#"platform_router_requests_total{{service="router",operation="{op}",outcome="ok",client_name="(none)",client_version="(none)"}}"#
        )
    };
    expect(&text, &series("A"), 1.0);
    expect(&text, &series("B"), 1.0);
    expect(&text, &series("(other)"), 2.0);
    assert_eq!(sample(&text, &series("C")), None);

    let off = MetricsConfig {
        enabled: false,
        ..MetricsConfig::default()
    };
    let app = app_with(&demo.supergraph(), Default::default(), Metrics::new(&off));
    post(&app, json!({ "query": ME }), &[]).await;
    let (_, text) = get(&app, "/metrics").await;
    assert!(!text.contains("platform_router_requests_total{"), "{text}");
}

#[tokio::test]
async fn ready_reports_each_subgraph_and_fails_while_one_is_down() {
    let demo = Demo::start().await;
    let app = router_app(&demo.supergraph(), Default::default());
    let (status, body) = get(&app, "/ready").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "UP");
    assert_eq!(body["subgraphs"]["reviews"], "UP");

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/graphql", closed.local_addr().unwrap());
    drop(closed);
    let sdl = with_urls(
        &fixture("demo"),
        &[
            ("accounts", &demo.accounts.url),
            ("inventory", &demo.inventory.url),
            ("products", &demo.products.url),
            ("reviews", &url),
        ],
    );
    let app = router_app(&sdl, Default::default());
    let (status, body) = get(&app, "/ready").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["subgraphs"]["reviews"]["status"], "DOWN");
    assert_eq!(body["subgraphs"]["accounts"], "UP");
}
