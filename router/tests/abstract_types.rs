//! Interfaces and unions whose members live in different subgraphs.

mod common;
use common::plan;

#[test]
fn interface_fields_resolved_where_the_interface_lives() {
    insta::assert_snapshot!(plan("abstract_types", "{ media { id title } }"), @r#"
        QueryPlan {
          Fetch(service: "catalog") {
            query { media { __typename id title } }
          },
        }
    "#);
}

#[test]
fn type_condition_jumps_for_one_implementation() {
    let q = "{ media { title ... on Book { reviews } ... on Movie { minutes } } }";
    insta::assert_snapshot!(plan("abstract_types", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { media { __typename title ... on Book { __typename id } ... on Movie { minutes } } }
            },
            Flatten(path: "media.@") {
              Fetch(service: "reviews") {
                { ... on Book { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Book { reviews } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn union_members_with_named_fragments() {
    let q = r#"query { search(term: "x") { ...B ... on Movie { title } } } fragment B on Book { title reviews }"#;
    insta::assert_snapshot!(plan("abstract_types", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { search(term: "x") { __typename ... on Book { title __typename id } ... on Movie { title } } }
            },
            Flatten(path: "search.@") {
              Fetch(service: "reviews") {
                { ... on Book { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Book { reviews } } }
              },
            },
          },
        }
    "#);
}

#[tokio::test]
async fn union_members_jump_by_runtime_type_and_results_follow_the_client_selection() {
    use axum::routing::post;
    use common::subgraphs::spawn_mock;
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};

    let catalog = axum::Router::new().route(
        "/graphql",
        post(|| async {
            axum::Json(json!({ "data": { "search": [
                { "__typename": "Movie", "title": "Alien" },
                { "__typename": "Book", "title": "Dune", "id": "b1" },
                { "__typename": "Book", "title": "Emma", "id": "b2" } ] } }))
        }),
    );
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let reviews = axum::Router::new().route(
        "/graphql",
        post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body);
                axum::Json(json!({ "data": { "_entities": [
                    { "__typename": "Book", "reviews": ["epic"] },
                    { "__typename": "Book", "reviews": [] } ] } }))
            }
        }),
    );
    let sdl = common::with_urls(
        &common::fixture("abstract_types"),
        &[
            ("catalog", &spawn_mock(catalog).await),
            ("reviews", &spawn_mock(reviews).await),
        ],
    );
    let app = common::router_app(&sdl, std::time::Duration::from_secs(2));
    let query = r#"{ search(term: "x") { ... on Book { reviews title } ... on Movie { title } } }"#;
    let (_, _, body) = common::post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"data":{"search":[{"title":"Alien"},{"reviews":["epic"],"title":"Dune"},{"reviews":[],"title":"Emma"}]}}"#
    );
    let requests = seen.lock().unwrap();
    assert_eq!(
        requests[0]["variables"]["representations"],
        json!([{ "__typename": "Book", "id": "b1" }, { "__typename": "Book", "id": "b2" }])
    );
}
