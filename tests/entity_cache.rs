//! The router's entity cache on the real platform (Redis configured): the subgraphs' own
//! `Cache-Control` decides what is cached; a member's view of a board is theirs alone; a write
//! (a rename in accounts, a new task in boards) is visible to everyone right after it is
//! acknowledged; and a domain event (a task assigned, making a notification) evicts what it
//! changed.

mod common;

use common::Stack;
use serde_json::{json, Value};

const VIEW: &str = "{ me { name boards { name members { user { name } } tasks { totalCount } } } }";

/// The router's `entity_cache_total` for one subgraph and outcome.
async fn outcome(stack: &Stack, subgraph: &str, outcome: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", stack.platform.urls.router))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let series = format!(
        r#"platform_router_entity_cache_total{{service="router",subgraph="{subgraph}",outcome="{outcome}"}}"#
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Stores happen after the answer: waits until `subgraph` has at least `n` stored entries.
async fn stored(stack: &Stack, subgraph: &str, n: f64) {
    for _ in 0..200 {
        if outcome(stack, subgraph, "stored").await >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{subgraph}: nothing stored");
}

fn member_names(view: &Value) -> Vec<String> {
    view["me"]["boards"][0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["user"]["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn cached_views_are_per_caller_and_writes_reach_everyone_at_once() {
    let Some(redis) = kit::testing::require_redis() else {
        return;
    };
    let prefix = kit::testing::unique_prefix("entity_cache");
    let stack = Stack::start_with(|config| {
        config.redis_url = Some(redis.url.clone());
        config.redis_prefix = prefix;
    })
    .await;
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let board = stack.board(&ada, "Launch", &bob).await;

    let first = ada.client.ok(VIEW, json!({})).await;
    assert_eq!(first["me"]["name"], "Ada");
    assert_eq!(member_names(&first), ["Ada", "Bob"]);
    stored(&stack, "boards", 1.0).await;
    stored(&stack, "accounts", 1.0).await;
    let hits = outcome(&stack, "boards", "hit").await;
    let again = ada.client.ok(VIEW, json!({})).await;
    assert_eq!(again, first);
    assert!(
        outcome(&stack, "boards", "hit").await > hits,
        "served from the cache"
    );

    // Bob asks the same: his own answer, never Ada's.
    let bobs = bob.client.ok(VIEW, json!({})).await;
    assert_eq!(bobs["me"]["name"], "Bob");
    assert_eq!(bobs["me"]["boards"][0]["name"], "Launch");

    // Bob renames himself: Ada's next read has the new name.
    bob.client
        .ok(
            "mutation { updateProfile(input: {name: \"Robert\"}) { id } }",
            json!({}),
        )
        .await;
    let renamed = ada.client.ok(VIEW, json!({})).await;
    assert_eq!(member_names(&renamed), ["Ada", "Robert"]);

    // A task Bob adds is counted in Ada's view as soon as Bob is told it exists.
    bob.client
        .ok(
            "mutation($b: ID!) { createTask(input: {boardId: $b, title: \"Ship\"}) { id } }",
            json!({"b": board}),
        )
        .await;
    let counted = ada.client.ok(VIEW, json!({})).await;
    assert_eq!(counted["me"]["boards"][0]["tasks"]["totalCount"], 1);
    assert!(outcome(&stack, "boards", "invalidated").await >= 1.0);

    // Notifications come from domain events, not from a request through the router: the
    // event that creates Ada's notification evicts her cached count (its max-age is 30 s).
    let unread = "{ me { unreadNotificationCount } }";
    assert_eq!(
        ada.client.ok(unread, json!({})).await["me"]["unreadNotificationCount"],
        0
    );
    stored(&stack, "notifications", 1.0).await;
    bob.client
        .ok(
            "mutation($b: ID!, $u: ID!) { createTask(input: {boardId: $b, title: \"Review\", assigneeId: $u}) { id } }",
            json!({"b": board, "u": ada.id}),
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let count = ada.client.ok(unread, json!({})).await["me"]["unreadNotificationCount"].clone();
        if count == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cached count was never evicted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(outcome(&stack, "notifications", "invalidated").await >= 1.0);
}
