//! The plan cache beyond one process: plans shared by routers through Redis (made once for
//! the fleet), a Redis outage costing nothing but planning, and the warm-up that prepares
//! the most used operations before a reloaded supergraph takes traffic.

mod common;

use common::serve::{metric, post, serve, start};
use common::subgraphs::mock;
use serde_json::json;
use std::time::Duration;

const USER: &str = "{ user(id: 1) { name } }";

fn plan_cache(level: &str, outcome: &str) -> String {
    format!(
        r#"platform_router_plan_cache_total{{service="router",level="{level}",outcome="{outcome}"}}"#
    )
}

const PLANNED: &str = r#"platform_router_planning_duration_seconds_count{service="router"}"#;

#[tokio::test]
async fn a_plan_made_by_one_router_is_used_by_the_other() {
    let Some(redis) = common::redis::require_redis() else {
        return;
    };
    // One supergraph file for both, as a fleet has.
    let subgraph = mock(|_| json!({ "data": { "user": { "name": "Ada" } } })).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("supergraph.graphql");
    std::fs::write(&path, supergraph(&subgraph.url, SDL)).expect("write");
    let mut config = router::Config {
        supergraph: Some(path),
        ..router::Config::default()
    };
    config.plan_cache.redis_url = Some(redis.url.clone());
    config.plan_cache.key_prefix = common::redis::unique_prefix("plans");
    let (first, stop_first) = serve(config.clone()).await;
    let (second, stop_second) = serve(config).await;

    let (_, _, body) = post(&first, json!({ "query": USER })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(metric(&first, &plan_cache("redis", "miss")).await, 1.0);
    assert_eq!(metric(&first, PLANNED).await, 1.0);

    // Formatted differently: the normalized document names the plan.
    let (_, _, body) = post(
        &second,
        json!({ "query": "query {\n  user(id: 1) { name }\n}" }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(metric(&second, &plan_cache("redis", "hit")).await, 1.0);
    assert_eq!(
        metric(&second, PLANNED).await,
        0.0,
        "the second router planned nothing"
    );
    let (_, _, again) = post(&second, json!({ "query": USER })).await;
    assert_eq!(again, body);
    assert_eq!(metric(&second, &plan_cache("memory", "hit")).await, 1.0);
    stop_first.cancel();
    stop_second.cancel();
}

#[tokio::test]
async fn without_redis_the_router_plans_alone_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = router::Config::default();
    let closed = common::redis::free_port();
    config.plan_cache.redis_url = Some(format!("redis://127.0.0.1:{closed}/"));
    let (url, stop) = start(config, dir.path()).await;
    let (status, _, body) = post(&url, json!({ "query": USER })).await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(metric(&url, PLANNED).await, 1.0);
    assert!(metric(&url, &plan_cache("redis", "error")).await >= 1.0);
    stop.cancel();
}

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { hello: String user(id: ID!): User }
type User @key(fields: "id") { id: ID! name: String }"#;

fn supergraph(url: &str, sdl: &str) -> String {
    let inputs = [router::compose::SubgraphInput {
        name: "accounts".into(),
        url: url.into(),
        sdl: sdl.into(),
    }];
    router::compose::compose_text(&inputs).expect("composes")
}

#[tokio::test]
async fn a_reloaded_supergraph_starts_with_the_used_plans() {
    let subgraph =
        mock(|_| json!({ "data": { "hello": "hi", "user": { "name": "Ada" }, "bye": "b" } })).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("supergraph.graphql");
    std::fs::write(&path, supergraph(&subgraph.url, SDL)).expect("write");
    let config = router::Config {
        supergraph: Some(path.clone()),
        reload_interval: Duration::from_millis(50),
        ..router::Config::default()
    };
    let (url, shutdown) = serve(config).await;

    for query in [USER, "{ hello }"] {
        let (_, _, body) = post(&url, json!({ "query": query })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    assert_eq!(metric(&url, PLANNED).await, 2.0);

    let grown = SDL.replace("hello: String", "hello: String bye: String");
    std::fs::write(&path, supergraph(&subgraph.url, &grown)).expect("rewrite");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, body) = post(&url, json!({ "query": "{ bye }" })).await;
        if body["errors"].is_null() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reloaded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both operations were planned against the new supergraph before it served `{ bye }`.
    assert_eq!(metric(&url, PLANNED).await, 5.0);
    let hits = metric(&url, &plan_cache("memory", "hit")).await;
    for query in [USER, "{ hello }"] {
        let (_, _, body) = post(&url, json!({ "query": query })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    assert_eq!(
        metric(&url, PLANNED).await,
        5.0,
        "no request waited for planning"
    );
    assert_eq!(metric(&url, &plan_cache("memory", "hit")).await, hits + 2.0);
    shutdown.cancel();
}
