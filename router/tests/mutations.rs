//! Mutations: root fields run in order; consecutive fields of one subgraph share a fetch.

mod common;
use common::subgraphs::{mock, mock_timed, Timeline};
use common::{fixture, plan, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn root_mutation_fields_run_in_sequence_across_subgraphs() {
    let q = r#"mutation { a: signUp(name: "x") { id } postReview(body: "y") { body author { name } } b: rename(name: "z") { name } }"#;
    insta::assert_snapshot!(plan("mutations", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              mutation { a: signUp(name: "x") { id } }
            },
            Fetch(service: "reviews") {
              mutation { postReview(body: "y") { body author { __typename id } } }
            },
            Flatten(path: "postReview.author") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
              },
            },
            Fetch(service: "accounts") {
              mutation { b: rename(name: "z") { name } }
            },
          },
        }
    "#);
}

#[test]
fn consecutive_fields_of_one_subgraph_share_a_fetch() {
    let q = r#"mutation { a: signUp(name: "x") { id } b: rename(name: "z") { name } }"#;
    insta::assert_snapshot!(plan("mutations", q), @r#"
        QueryPlan {
          Fetch(service: "accounts") {
            mutation { a: signUp(name: "x") { id } b: rename(name: "z") { name } }
          },
        }
    "#);
}

#[tokio::test]
async fn root_mutation_fields_execute_one_after_another_in_document_order() {
    let timeline = Timeline::default();
    // accounts holds every request, so a fetch started in parallel would begin before the
    // previous one ends.
    let accounts = mock_timed(
        "accounts",
        Duration::from_millis(150),
        timeline.clone(),
        |body| {
            let query = body["query"].as_str().unwrap();
            if query.contains("signUp") {
                json!({ "data": { "z": { "id": "u1" } } })
            } else if query.contains("_entities") {
                json!({ "data": { "_entities": [{ "name": "Ada" }] } })
            } else {
                json!({ "data": { "a": { "name": "Zed" } } })
            }
        },
    )
    .await;
    let reviews = mock_timed("reviews", Duration::ZERO, timeline.clone(), |_| {
        json!({ "data": { "postReview": {
            "body": "y", "author": { "__typename": "User", "id": "u1" } } } })
    })
    .await;
    let sdl = with_urls(
        &fixture("mutations"),
        &[("accounts", &accounts.url), ("reviews", &reviews.url)],
    );
    let app = router_app(&sdl, Duration::from_secs(5));
    // Aliases whose alphabetical order differs from the document order.
    let mutation = r#"mutation { z: signUp(name: "x") { id } postReview(body: "y") { body author { name } } a: rename(name: "Zed") { name } }"#;
    let (_, _, body) = post(&app, json!({ "query": mutation }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": {
            "z": { "id": "u1" },
            "postReview": { "body": "y", "author": { "name": "Ada" } },
            "a": { "name": "Zed" } } })
    );
    let keys: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "postReview", "a"]);
    assert_eq!(
        *timeline.lock(),
        [
            "accounts start",
            "accounts end",
            "reviews start",
            "reviews end",
            "accounts start",
            "accounts end",
            "accounts start",
            "accounts end",
        ]
    );
    assert_eq!(
        accounts.queries(),
        [
            r#"mutation { z: signUp(name: "x") { id } }"#,
            "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }",
            r#"mutation { a: rename(name: "Zed") { name } }"#,
        ]
    );
    assert_eq!(
        reviews.queries(),
        [r#"mutation { postReview(body: "y") { body author { __typename id } } }"#]
    );
}

#[tokio::test]
async fn identical_concurrent_mutations_are_never_coalesced() {
    let accounts = mock_timed(
        "accounts",
        Duration::from_millis(150),
        Timeline::default(),
        |_| json!({ "data": { "a": { "name": "Zed" } } }),
    )
    .await;
    let reviews = mock(|_| json!({ "data": {} })).await;
    let sdl = with_urls(
        &fixture("mutations"),
        &[("accounts", &accounts.url), ("reviews", &reviews.url)],
    );
    let app = router_app(&sdl, Duration::from_secs(5));
    let mutation = json!({ "query": r#"mutation { a: rename(name: "Zed") { name } }"# });
    // Same body and headers, in flight together: a read would be shared, a write must not.
    let (first, second) = tokio::join!(
        post(&app, mutation.clone(), &[("authorization", "Bearer same")]),
        post(&app, mutation.clone(), &[("authorization", "Bearer same")]),
    );
    assert_eq!(first.2, json!({ "data": { "a": { "name": "Zed" } } }));
    assert_eq!(second.2, first.2);
    assert_eq!(accounts.count(), 2, "each mutation reached the subgraph");
}
