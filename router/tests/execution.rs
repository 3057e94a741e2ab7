//! End-to-end execution against the in-repo demo subgraphs; batching is asserted by
//! counting requests per subgraph.

mod common;
use common::{post, router_app, Demo};
use serde_json::json;
use std::time::Duration;

async fn demo() -> (Demo, axum::Router) {
    let demo = Demo::start().await;
    let app = router_app(&demo.supergraph(), Duration::from_secs(5));
    (demo, app)
}

#[tokio::test]
async fn nested_query_across_four_subgraphs_is_batched_per_step() {
    let (demo, app) = demo().await;
    let query = "{ topProducts { name inStock reviews { body author { name } } } }";
    let (status, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [
        { "name": "Table", "inStock": true, "reviews": [
            { "body": "Love it!", "author": { "name": "Ada Lovelace" } },
            { "body": "Prefer something else.", "author": { "name": "Alan Turing" } } ] },
        { "name": "Couch", "inStock": false, "reviews": [
            { "body": "Too expensive.", "author": { "name": "Ada Lovelace" } } ] },
        { "name": "Chair", "inStock": true, "reviews": [
            { "body": "Could be better.", "author": { "name": "Alan Turing" } } ] }
    ] } })
    );
    // [accounts, inventory, products, reviews]: one request per subgraph per plan step.
    assert_eq!(demo.counts(), [1, 1, 1, 1]);
    // Four reviews by two authors: the representations are deduplicated.
    let accounts = &demo.accounts.requests()[0].body;
    let reps = accounts["variables"]["representations"].as_array().unwrap();
    assert_eq!(
        reps,
        &vec![
            json!({"__typename": "User", "id": "1"}),
            json!({"__typename": "User", "id": "2"})
        ]
    );
}

#[tokio::test]
async fn requires_fields_travel_in_representations() {
    let (demo, app) = demo().await;
    let (_, _, body) = post(
        &app,
        json!({ "query": "{ topProducts { upc shippingEstimate } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [
        { "upc": "1", "shippingEstimate": 50 },
        { "upc": "2", "shippingEstimate": 0 },
        { "upc": "3", "shippingEstimate": 25 } ] } })
    );
    let inventory = &demo.inventory.requests()[0].body;
    assert_eq!(
        inventory["variables"]["representations"][1],
        json!({"__typename": "Product", "upc": "2", "price": 1299, "weight": 1000})
    );
    // The client did not ask for price/weight: they must not leak into the response.
    assert_eq!(demo.counts(), [0, 1, 1, 0]);
}

#[tokio::test]
async fn provided_fields_skip_the_owning_subgraph() {
    let (demo, app) = demo().await;
    let (_, _, body) = post(
        &app,
        json!({ "query": "{ topProducts(first: 1) { reviews { author { username } } } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [ { "reviews": [
        { "author": { "username": "@ada" } }, { "author": { "username": "@complete" } } ] } ] } })
    );
    assert_eq!(demo.counts(), [0, 0, 1, 1]);
}

#[tokio::test]
async fn aliases_typename_fragments_and_field_order_follow_the_client() {
    let (_demo, app) = demo().await;
    let query = r#"
        query Q($upcFirst: Int!, $withStock: Boolean!, $noName: Boolean!) {
            tops: topProducts(first: $upcFirst) {
                ...Stock @include(if: $withStock)
                title: name @skip(if: $noName)
                __typename
                upc
            }
        }
        fragment Stock on Product { stock: inStock }
    "#;
    let variables = json!({ "upcFirst": 2, "withStock": true, "noName": false });
    let (_, _, body) = post(&app, json!({ "query": query, "variables": variables }), &[]).await;
    let text = serde_json::to_string(&body).unwrap();
    assert_eq!(
        text,
        r#"{"data":{"tops":[{"stock":true,"title":"Table","__typename":"Product","upc":"1"},{"stock":false,"title":"Couch","__typename":"Product","upc":"2"}]}}"#
    );
    let variables = json!({ "upcFirst": 1, "withStock": false, "noName": true });
    let (_, _, body) = post(&app, json!({ "query": query, "variables": variables }), &[]).await;
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"data":{"tops":[{"__typename":"Product","upc":"1"}]}}"#
    );
}

#[tokio::test]
async fn authorization_and_configured_headers_are_forwarded() {
    let (demo, app) = demo().await;
    let headers = [
        ("authorization", "Bearer abc"),
        ("x-tenant", "t1"),
        ("x-other", "no"),
    ];
    post(
        &app,
        json!({ "query": "{ me { name reviews { body } } }" }),
        &headers,
    )
    .await;
    for sub in [&demo.accounts, &demo.reviews] {
        let requests = sub.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].authorization.as_deref(), Some("Bearer abc"));
    }
}

#[tokio::test]
async fn identical_in_flight_requests_coalesce_only_with_identical_authorization() {
    let (demo, app) = demo().await;
    demo.accounts
        .delay_ms
        .store(200, std::sync::atomic::Ordering::SeqCst);
    let body = json!({ "query": "{ me { name } }" });
    let same = futures::future::join_all(
        (0..3).map(|_| post(&app, body.clone(), &[("authorization", "Bearer a")])),
    )
    .await;
    assert_eq!(
        demo.accounts.count(),
        1,
        "three identical requests, one subgraph call"
    );
    assert!(same
        .iter()
        .all(|(_, _, b)| b == &json!({ "data": { "me": { "name": "Ada Lovelace" } } })));
    let (a, b) = tokio::join!(
        post(&app, body.clone(), &[("authorization", "Bearer a")]),
        post(&app, body.clone(), &[("authorization", "Bearer b")]),
    );
    assert_eq!(a.2, b.2);
    assert_eq!(
        demo.accounts.count(),
        3,
        "different Authorization never shares a response"
    );
}

#[tokio::test]
async fn introspection_is_answered_from_the_api_schema() {
    let (demo, app) = demo().await;
    let query = r#"{ __type(name: "User") { fields { name } } __typename }"#;
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": {
        "__type": { "fields": [ { "name": "id" }, { "name": "name" }, { "name": "username" }, { "name": "reviews" } ] },
        "__typename": "Query" } })
    );
    assert_eq!(demo.counts(), [0, 0, 0, 0]);
}

#[tokio::test]
async fn client_alias_named_like_a_key_field_does_not_corrupt_representations() {
    let (demo, app) = demo().await;
    let query = "{ topProducts(first: 1) { upc: name reviews { body } } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [
        { "upc": "Table", "reviews": [ { "body": "Love it!" }, { "body": "Prefer something else." } ] } ] } })
    );
    let reps = &demo.reviews.requests()[0].body["variables"]["representations"];
    assert_eq!(reps, &json!([{ "__typename": "Product", "upc": "1" }]));
}

#[tokio::test]
async fn only_used_variables_are_forwarded_with_their_coerced_values() {
    let (demo, app) = demo().await;
    let query =
        "query($id: ID!, $n: Int = 1) { user(id: $id) { name } topProducts(first: $n) { name } }";
    let (_, _, body) = post(
        &app,
        json!({ "query": query, "variables": { "id": 2 } }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "user": { "name": "Alan Turing" }, "topProducts": [ { "name": "Table" } ] } })
    );
    assert_eq!(
        demo.accounts.requests()[0].body["variables"],
        json!({ "id": "2" })
    );
    assert_eq!(
        demo.products.requests()[0].body["variables"],
        json!({ "n": 1 })
    );
}

#[tokio::test]
async fn one_request_per_subgraph_per_step_across_paths_with_shared_deduplication() {
    let (demo, app) = demo().await;
    let query = "{ topProducts(first: 1) { reviews { author { name } editor { name } } } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [ { "reviews": [
        { "author": { "name": "Ada Lovelace" }, "editor": { "name": "Alan Turing" } },
        { "author": { "name": "Alan Turing" }, "editor": { "name": "Ada Lovelace" } } ] } ] } })
    );
    assert_eq!(
        demo.accounts.count(),
        1,
        "author and editor paths in one _entities request"
    );
    let reps = &demo.accounts.requests()[0].body["variables"]["representations"];
    assert_eq!(
        reps.as_array().unwrap().len(),
        2,
        "four positions, two distinct users"
    );
}

#[tokio::test]
async fn fetches_of_one_level_share_a_request_across_branches() {
    let (demo, app) = demo().await;
    // `shippingEstimate` waits for two fetches (the plan runs by levels): the reviews of `me`
    // and of `topProducts` come from different parents at the same level, as do the two
    // product fetches after them.
    let query = "{ me { reviews { product { shippingEstimate } } } topProducts(first: 1) { reviews { product { name } } } }";
    let (status, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": {
            "me": { "reviews": [
                { "product": { "shippingEstimate": 50 } },
                { "product": { "shippingEstimate": 0 } } ] },
            "topProducts": [ { "reviews": [
                { "product": { "name": "Table" } }, { "product": { "name": "Table" } } ] } ] } })
    );
    // [accounts, inventory, products, reviews]: products once for the root, once for both
    // entity paths; reviews once for both parents.
    assert_eq!(demo.counts(), [1, 1, 2, 1]);
}
