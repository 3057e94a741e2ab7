//! @shareable: stay in the current subgraph whenever it resolves the field.

mod common;
use common::subgraphs::{mock, Mock};
use common::{fixture, plan, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn shareable_field_stays_in_products() {
    insta::assert_snapshot!(plan("shareable", "{ products { id name price } }"), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { products { id name price } }
          },
        }
    "#);
}

#[test]
fn shareable_field_stays_in_catalog() {
    insta::assert_snapshot!(plan("shareable", "{ featured { name description } }"), @r#"
        QueryPlan {
          Fetch(service: "catalog") {
            query { featured { name description } }
          },
        }
    "#);
}

#[test]
fn only_the_missing_field_jumps() {
    insta::assert_snapshot!(plan("shareable", "{ featured { name price } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { featured { name __typename id } }
            },
            Flatten(path: "featured") {
              Fetch(service: "products") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { price } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn root_fields_of_two_subgraphs_run_in_parallel() {
    insta::assert_snapshot!(plan("shareable", "{ featured { name } products { name } }"), @r#"
        QueryPlan {
          Parallel {
            Fetch(service: "catalog") {
              query { featured { name } }
            },
            Fetch(service: "products") {
              query { products { name } }
            },
          },
        }
    "#);
}

#[test]
fn shareable_root_field_goes_where_most_of_its_selection_resolves() {
    insta::assert_snapshot!(plan("shareable", r#"{ product(id: "1") { name price } }"#), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { product(id: "1") { name price } }
          },
        }
    "#);
    insta::assert_snapshot!(plan("shareable", r#"{ product(id: "1") { name description } }"#), @r#"
        QueryPlan {
          Fetch(service: "catalog") {
            query { product(id: "1") { name description } }
          },
        }
    "#);
}

/// The shareable fixture against two mocks; `catalog` answers `featured`, `products` answers
/// `products` and entity requests for `price`.
async fn shareable_app() -> (axum::Router, Mock, Mock) {
    let catalog = mock(|_| {
        json!({ "data": { "featured": {
            "name": "Lamp", "__typename": "Product", "id": "p1" } } })
    })
    .await;
    let products = mock(|body| {
        if body["query"].as_str().unwrap().contains("_entities") {
            json!({ "data": { "_entities": [{ "price": 30 }] } })
        } else {
            json!({ "data": { "products": [
                { "id": "p1", "name": "Lamp", "price": 30 },
                { "id": "p2", "name": "Desk", "price": 120 } ] } })
        }
    })
    .await;
    let sdl = with_urls(
        &fixture("shareable"),
        &[("catalog", &catalog.url), ("products", &products.url)],
    );
    (router_app(&sdl, Duration::from_secs(2)), catalog, products)
}

#[tokio::test]
async fn a_shareable_field_is_read_from_the_subgraph_in_use() {
    let (app, catalog, products) = shareable_app().await;
    let query = "{ products { id name price } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "products": [
            { "id": "p1", "name": "Lamp", "price": 30 },
            { "id": "p2", "name": "Desk", "price": 120 } ] } })
    );
    assert_eq!(products.queries(), ["query { products { id name price } }"]);
    assert_eq!(catalog.count(), 0);
}

#[tokio::test]
async fn only_the_field_the_first_subgraph_lacks_is_fetched_elsewhere() {
    let (app, catalog, products) = shareable_app().await;
    let query = "{ featured { name price } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "featured": { "name": "Lamp", "price": 30 } } })
    );
    // `name` came with `featured` from catalog; products is asked for `price` alone.
    assert_eq!(
        catalog.queries(),
        ["query { featured { name __typename id } }"]
    );
    assert_eq!(
        products.queries(),
        ["query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { price } } }"]
    );
    assert_eq!(
        products.requests()[0]["variables"]["representations"],
        json!([{ "__typename": "Product", "id": "p1" }])
    );
}
