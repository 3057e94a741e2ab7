//! The platform's metrics as an operator scrapes them: after real traffic through the router
//! (sign-ups, boards, entity fetches, a live subscription), `GET /metrics` on the router and
//! on every subgraph exports every metric the shipped Grafana dashboard queries, and the
//! router's request, fetch, batch, subscription and connection series carry the traffic.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Stack;
use kit::test_client::Subscription;
use serde_json::json;

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200, "{base}/metrics");
    response.text().await.expect("text")
}

/// Metric families of an exposition (`# TYPE` lines) and every sample's name.
fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| match line.strip_prefix("# TYPE ") {
            Some(typed) => typed.split_whitespace().next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        })
        .map(str::to_owned)
        .collect()
}

/// The family a sample belongs to (its `# TYPE` name): without the suffix a counter or a
/// histogram adds to its samples. An empty family has no samples, only its `# TYPE`.
fn family(sample: &str) -> &str {
    ["_total", "_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .unwrap_or(sample)
}

/// The sum of every sample of `series` whose labels contain all of `labels`.
fn total(text: &str, series: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{series}{{")) || line.starts_with(&format!("{series} "))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_metric_is_exported_and_the_router_counts_real_traffic() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let mut live = Subscription::start(
        &stack.platform.urls.router,
        &bob.token,
        "subscription { notificationAdded { kind } }",
    )
    .await;
    let board = stack.board(&ada, "Launch", &bob).await;
    ada.client
        .ok(
            "mutation($b: ID!, $u: ID) { createTask(input: {boardId: $b, title: \"Ship\", assigneeId: $u}) { id } }",
            json!({ "b": board, "u": bob.id }),
        )
        .await;
    let query = "query Mine { me { name boards { name members { user { name } } } } }";
    ada.client.ok(query, json!({})).await;
    let event = tokio::time::timeout(Duration::from_secs(10), live.next_data())
        .await
        .expect("a notification arrives");
    assert!(event["notificationAdded"]["kind"].is_string(), "{event}");

    let urls = &stack.platform.urls;
    let router = scrape(&urls.router).await;
    let mut exported = names(&router);
    for base in [
        &urls.accounts,
        &urls.boards,
        &urls.chat,
        &urls.notifications,
    ] {
        exported.extend(names(&scrape(base).await));
    }
    let missing: Vec<String> = common::dashboard::dashboard_metrics()
        .into_iter()
        .filter(|name| !exported.contains(name) && !exported.contains(family(name)))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics nobody exports: {missing:?}"
    );

    let r = r#"service="router""#;
    let ok = total(
        &router,
        "platform_router_requests_total",
        &[r, r#"operation="Mine""#, r#"outcome="ok""#],
    );
    assert_eq!(ok, 1.0, "{router}");
    for subgraph in ["accounts", "boards"] {
        let label = format!(r#"subgraph="{subgraph}""#);
        let fetches = total(
            &router,
            "platform_router_subgraph_fetch_duration_seconds_count",
            &[&label],
        );
        assert!(fetches >= 1.0, "{subgraph} fetches: {router}");
    }
    let batches = total(&router, "platform_router_entity_batch_size_count", &[]);
    assert!(batches >= 1.0, "{router}");
    let open = total(
        &router,
        "platform_router_subscriptions",
        &[r#"transport="websocket""#],
    );
    assert_eq!(open, 1.0, "one live subscription: {router}");
    assert_eq!(
        total(&router, "platform_router_upstream_subscriptions", &[]),
        1.0
    );
    assert!(total(&router, "platform_router_subscription_events_total", &[]) >= 1.0);
    assert!(
        total(&router, "platform_router_open_connections", &[]) >= 1.0,
        "{router}"
    );

    drop(live);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(&urls.router).await;
        if total(&now, "platform_router_subscriptions", &[]) == 0.0 {
            assert_eq!(
                total(&now, "platform_router_upstream_subscriptions", &[]),
                0.0
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription stays counted: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
