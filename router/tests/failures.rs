//! Subgraph failures become partial data plus errors; never a panic or a hang.

mod common;
use axum::routing::post;
use common::subgraphs::{spawn_dropping, spawn_mock};
use common::{post as send_query, router_app, with_urls, Demo};
use serde_json::json;
use std::time::{Duration, Instant};

/// The demo with `reviews` replaced by `url`.
async fn with_broken_reviews(url: &str) -> (Demo, axum::Router) {
    let demo = Demo::start().await;
    let sdl = with_urls(&demo.supergraph(), &[("reviews", url)]);
    (demo, router_app(&sdl, Duration::from_millis(300)))
}

const QUERY: &str = "{ topProducts(first: 2) { name reviews { body } } }";

fn partial() -> serde_json::Value {
    json!({ "topProducts": [ { "name": "Table", "reviews": null }, { "name": "Couch", "reviews": null } ] })
}

#[tokio::test]
async fn http_500_gives_partial_data_and_subrequest_http_error() {
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "oops") }),
    );
    let (_demo, router) = with_broken_reviews(&spawn_mock(app).await).await;
    let (status, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], partial());
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "SUBREQUEST_HTTP_ERROR");
    assert_eq!(error["extensions"]["serviceName"], "reviews");
    assert_eq!(error["path"], json!(["topProducts", 0]));
}

#[tokio::test]
async fn timeout_gives_partial_data_and_a_timeout_code_quickly() {
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}"
        }),
    );
    let (_demo, router) = with_broken_reviews(&spawn_mock(app).await).await;
    let started = Instant::now();
    let (_, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(body["data"], partial());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBREQUEST_TIMEOUT"
    );
    assert_eq!(body["errors"][0]["extensions"]["serviceName"], "reviews");
}

#[tokio::test]
async fn malformed_json_is_a_subrequest_error() {
    let app = axum::Router::new().route("/graphql", post(|| async { "{ not json" }));
    let (_demo, router) = with_broken_reviews(&spawn_mock(app).await).await;
    let (_, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert_eq!(body["data"], partial());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBREQUEST_HTTP_ERROR"
    );
}

#[tokio::test]
async fn dropped_connection_is_a_subrequest_error() {
    let (_demo, router) = with_broken_reviews(&spawn_dropping().await).await;
    let (_, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert_eq!(body["data"], partial());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBREQUEST_HTTP_ERROR"
    );
    assert_eq!(body["errors"][0]["extensions"]["serviceName"], "reviews");
}

#[tokio::test]
async fn entity_errors_are_rewritten_to_client_paths() {
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async {
            axum::Json(json!({
                "data": { "_entities": [ { "reviews": [ { "body": "ok" } ] }, null ] },
                "errors": [ { "message": "no reviews for you", "path": ["_entities", 1, "reviews"] } ]
            }))
        }),
    );
    let (_demo, router) = with_broken_reviews(&spawn_mock(app).await).await;
    let (_, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert_eq!(
        body["data"],
        json!({ "topProducts": [ { "name": "Table", "reviews": [ { "body": "ok" } ] }, { "name": "Couch", "reviews": null } ] })
    );
    assert_eq!(
        body["errors"],
        json!([ { "message": "no reviews for you", "path": ["topProducts", 1, "reviews"], "extensions": { "serviceName": "reviews" } } ])
    );
}

#[tokio::test]
async fn null_in_non_null_field_propagates_to_the_nearest_nullable_parent() {
    // `upc: String!` comes back null: the Product becomes null, not the list or the data.
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async {
            axum::Json(json!({
                "data": { "topProducts": [ { "upc": "1", "name": "Table" }, { "upc": null, "name": "Couch" } ] },
                "errors": [ { "message": "upc failed", "path": ["topProducts", 1, "upc"] } ]
            }))
        }),
    );
    let demo = Demo::start().await;
    let sdl = with_urls(&demo.supergraph(), &[("products", &spawn_mock(app).await)]);
    let router = router_app(&sdl, Duration::from_secs(2));
    let (_, _, body) = send_query(
        &router,
        json!({ "query": "{ topProducts { upc name } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body["data"],
        json!({ "topProducts": [ { "upc": "1", "name": "Table" }, null ] })
    );
    assert_eq!(
        body["errors"].as_array().unwrap().len(),
        1,
        "the subgraph error explains the null"
    );
    assert_eq!(body["errors"][0]["extensions"]["serviceName"], "products");
}

#[tokio::test]
async fn unexplained_null_in_non_null_field_adds_an_error() {
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async { axum::Json(json!({ "data": { "topProducts": [ { "upc": null } ] } })) }),
    );
    let demo = Demo::start().await;
    let sdl = with_urls(&demo.supergraph(), &[("products", &spawn_mock(app).await)]);
    let router = router_app(&sdl, Duration::from_secs(2));
    let (_, _, body) =
        send_query(&router, json!({ "query": "{ topProducts { upc } }" }), &[]).await;
    assert_eq!(body["data"], json!({ "topProducts": [ null ] }));
    assert_eq!(body["errors"][0]["path"], json!(["topProducts", 0, "upc"]));
    assert_eq!(
        body["errors"][0]["message"],
        "Cannot return null for non-nullable field Product.upc"
    );
}

#[tokio::test]
async fn per_subgraph_timeout_overrides_the_default() {
    let app = axum::Router::new().route(
        "/graphql",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}"
        }),
    );
    let demo = Demo::start().await;
    let sdl = with_urls(&demo.supergraph(), &[("reviews", &spawn_mock(app).await)]);
    let settings = router::ExecutionSettings {
        subgraph_timeout: Duration::from_secs(60),
        subgraph_timeouts: [("reviews".to_owned(), Duration::from_millis(200))].into(),
        ..Default::default()
    };
    let router = common::router_app_with(&sdl, settings);
    let started = Instant::now();
    let (_, _, body) = send_query(&router, json!({ "query": QUERY }), &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(body["data"], partial());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBREQUEST_TIMEOUT"
    );
}
