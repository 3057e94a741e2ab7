//! The edge through `router::serve` on real sockets (what `router serve` runs): limits and
//! their codes, CORS preflights as a browser sends them, CSRF refusals, batching, and a
//! `signIn` flood refused with 429 across two router processes' worth of state sharing one
//! Redis.

mod common;

use common::serve::{code, post, start};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn limits_refuse_with_their_own_codes_before_any_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop) = start(router::Config::default(), dir.path()).await;
    let aliases: String = (0..50).map(|i| format!("a{i}: hello ")).collect();
    let deep = format!(
        "{{ user(id: 1) {{ {} id {} }} }}",
        "friends { ".repeat(25),
        "}".repeat(25)
    );
    let cases = [
        (format!("{{ {aliases} }}"), "MAX_ALIASES_LIMIT"),
        (deep, "MAX_DEPTH_LIMIT"),
        (format!("{{ {} }}", "h ".repeat(16_000)), "MAX_TOKENS_LIMIT"),
        (
            format!("{{ {} }}", "hello ".repeat(500)),
            "MAX_HEIGHT_LIMIT",
        ),
        (
            format!("{{ hello }} #{}", "x".repeat(70_000)),
            "DOCUMENT_TOO_LARGE",
        ),
    ];
    for (query, expected) in cases {
        let (status, _, body) = post(&url, json!({ "query": query })).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    let huge = json!({ "query": "{ hello }", "variables": { "x": "y".repeat(3 << 20) } });
    let (status, _, body) = post(&url, huge).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_BODY_TOO_LARGE")
    );
    let (status, headers, body) = post(&url, json!({ "query": "{ hello }" })).await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({ "data": { "hello": "hi" } }))
    );
    assert!(headers.contains_key("x-request-id"));
    stop.cancel();
}

#[tokio::test]
async fn cors_preflights_answer_allowed_origins_only_and_csrf_refuses_simple_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop) = start(router::Config::default(), dir.path()).await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.expect("answers");
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(
        h["access-control-allow-headers"],
        "content-type,authorization"
    );
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let denied = preflight("https://evil.example").await.expect("answers");
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
    // The actual request of an allowed origin is readable; others get no CORS headers.
    let actual = client
        .post(&url)
        .header("origin", "http://localhost:5173")
        .json(&json!({ "query": "{ hello }" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    // A form post and a bare GET are what a hostile page can send without a preflight.
    let form = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query={hello}")
        .send()
        .await
        .expect("answers");
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&form.json().await.expect("json")), "CSRF_ERROR");
    let get = client
        .get(format!("{url}?query=%7Bhello%7D"))
        .send()
        .await
        .expect("answers");
    assert_eq!(get.status(), StatusCode::BAD_REQUEST);
    let get = client
        .get(format!("{url}?query=%7Bhello%7D"))
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .expect("answers");
    assert_eq!(get.status(), StatusCode::OK);
    stop.cancel();
}

#[tokio::test]
async fn batches_answer_in_order_within_their_maximum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop) = start(router::Config::default(), dir.path()).await;
    let (status, _, body) = post(
        &url,
        json!([{ "query": "{ hello }" }, { "query": "{ nope }" }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0], json!({ "data": { "hello": "hi" } }));
    assert_eq!(code(&body[1]), "GRAPHQL_VALIDATION_FAILED");
    let eleven: Vec<Value> = (0..11).map(|_| json!({ "query": "{ hello }" })).collect();
    let (status, _, body) = post(&url, Value::Array(eleven)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "BATCH_TOO_LARGE")
    );
    stop.cancel();
}

#[tokio::test]
async fn a_sign_in_flood_is_refused_across_routers_sharing_redis() {
    let Some(redis) = common::redis::require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = router::Config::default();
    config.rate_limit.redis_url = Some(redis.url.clone());
    config.rate_limit.key_prefix = common::redis::unique_prefix("edge-flood");
    let (first, stop_first) = start(config.clone(), dir.path()).await;
    let (second, stop_second) = start(config, dir.path()).await;
    let sign_in =
        json!({ "query": "mutation { signIn(email: \"Ada@example.com\", password: \"guess\") }" });
    let mut refused = 0;
    let mut retry_after = None;
    for i in 0..30 {
        let url = if i % 2 == 0 { &first } else { &second };
        let (status, headers, body) = post(url, sign_in.clone()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "RATE_LIMITED");
            retry_after = headers.get("retry-after").cloned();
            refused += 1;
        }
    }
    // 10 per email per minute, shared by both routers: the other 20 are refused.
    assert_eq!(refused, 20);
    assert!(retry_after.is_some());
    // Other operations of the same caller are not spent by the sign-in budget.
    let (status, _, _) = post(&first, json!({ "query": "{ hello }" })).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(10)).await;
    stop_first.cancel();
    stop_second.cancel();
}
