//! @interfaceObject: a subgraph that knows an interface only as an object type.

mod common;
use axum::routing::post;
use common::subgraphs::spawn_mock;
use common::{plan, post as send_query, router_app, with_urls};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn interface_field_from_the_interface_object_subgraph() {
    insta::assert_snapshot!(plan("interface_object", "{ media { title reviews } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { media { __typename title id } }
            },
            Flatten(path: "media.@") {
              Fetch(service: "reviews") {
                { ... on Media { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Media { __typename reviews } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn concrete_type_reaches_the_interface_object_through_its_interface() {
    insta::assert_snapshot!(plan("interface_object", "{ book { pages reviews } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { book { pages __typename id } }
            },
            Flatten(path: "book") {
              Fetch(service: "reviews") {
                { ... on Media { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Media { __typename reviews } } }
              },
            },
          },
        }
    "#);
}

#[tokio::test]
async fn representations_carry_the_interface_name_and_runtime_types_survive() {
    let catalog = axum::Router::new().route(
        "/graphql",
        post(|| async {
            axum::Json(json!({ "data": { "media": [
                { "__typename": "Book", "title": "Dune", "id": "b1" },
                { "__typename": "Movie", "title": "Alien", "id": "m1" } ] } }))
        }),
    );
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let reviews = axum::Router::new().route(
        "/graphql",
        post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().push(body);
                axum::Json(json!({ "data": { "_entities": [
                    { "__typename": "Media", "reviews": ["great"] },
                    { "__typename": "Media", "reviews": ["scary"] } ] } }))
            }
        }),
    );
    let sdl = with_urls(
        &common::fixture("interface_object"),
        &[
            ("catalog", &spawn_mock(catalog).await),
            ("reviews", &spawn_mock(reviews).await),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let (_, _, body) = send_query(
        &app,
        json!({ "query": "{ media { __typename title reviews } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "media": [
        { "__typename": "Book", "title": "Dune", "reviews": ["great"] },
        { "__typename": "Movie", "title": "Alien", "reviews": ["scary"] } ] } })
    );
    let requests = seen.lock();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["variables"]["representations"],
        json!([{ "__typename": "Media", "id": "b1" }, { "__typename": "Media", "id": "m1" }])
    );
}

#[test]
fn root_field_from_the_interface_object_subgraph_gets_its_type_from_the_interface_subgraph() {
    insta::assert_snapshot!(plan("interface_object", "{ topMedia { __typename title reviews ... on Book { pages } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "reviews") {
              query { topMedia { __typename reviews id } }
            },
            Flatten(path: "topMedia.@") {
              Fetch(service: "catalog") {
                { ... on Media { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Media { __typename title ... on Book { pages } } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn interface_object_fields_alone_need_no_second_fetch() {
    insta::assert_snapshot!(plan("interface_object", "{ topMedia { reviews } }"), @r#"
        QueryPlan {
          Fetch(service: "reviews") {
            query { topMedia { __typename reviews } }
          },
        }
    "#);
}

#[tokio::test]
async fn root_interface_objects_get_their_concrete_types_and_fragments() {
    let reviews = axum::Router::new().route(
        "/graphql",
        post(|| async {
            axum::Json(json!({ "data": { "topMedia": [
                { "__typename": "Media", "id": "b1", "reviews": ["great"] },
                { "__typename": "Media", "id": "m1", "reviews": ["scary"] } ] } }))
        }),
    );
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let catalog = axum::Router::new().route(
        "/graphql",
        post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().push(body);
                axum::Json(json!({ "data": { "_entities": [
                    { "__typename": "Book", "title": "Dune", "pages": 412 },
                    { "__typename": "Movie", "title": "Alien" } ] } }))
            }
        }),
    );
    let sdl = with_urls(
        &common::fixture("interface_object"),
        &[
            ("catalog", &spawn_mock(catalog).await),
            ("reviews", &spawn_mock(reviews).await),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let (_, _, body) = send_query(
        &app,
        json!({ "query": "{ topMedia { __typename title reviews ... on Book { pages } } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "topMedia": [
        { "__typename": "Book", "title": "Dune", "reviews": ["great"], "pages": 412 },
        { "__typename": "Movie", "title": "Alien", "reviews": ["scary"] } ] } })
    );
    let requests = seen.lock();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["variables"]["representations"],
        json!([{ "__typename": "Media", "id": "b1" }, { "__typename": "Media", "id": "m1" }])
    );
}
