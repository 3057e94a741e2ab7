//! @requires: required fields are fetched first and sent in the representations.

mod common;
use common::subgraphs::mock;
use common::{fixture, plan, plan_with, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn requires_fields_of_the_parent_subgraph() {
    insta::assert_snapshot!(plan("demo", "{ topProducts { shippingEstimate } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { __typename upc price weight } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "inventory") {
                { ... on Product { __typename upc price weight } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { shippingEstimate } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn nested_requires_from_a_third_subgraph_with_arguments() {
    let q = r#"query($zip: String!) { products { name delivery(zip: $zip) } }"#;
    insta::assert_snapshot!(plan_with("requires", q, serde_json::json!({"zip": "10115"})), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id price } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "inventory") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { dimensions { size weight } } } }
              },
            },
            Flatten(path: "products.@") {
              Fetch(service: "shipping") {
                { ... on Product { __typename id dimensions { size weight } price } } =>
                query($representations: [_Any!]!, $zip: String!) { _entities(representations: $representations) { ... on Product { delivery(zip: $zip) } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn two_requires_fields_share_one_fetch() {
    let q = r#"{ products { insurance delivery(zip: "1") } }"#;
    insta::assert_snapshot!(plan("requires", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { __typename id price } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "inventory") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { dimensions { size weight } } } }
              },
            },
            Flatten(path: "products.@") {
              Fetch(service: "shipping") {
                { ... on Product { __typename id dimensions { size weight } price } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { delivery(zip: "1") insurance } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn requires_satisfied_by_the_parent_fetch_joins_the_plain_entity_fetch() {
    insta::assert_snapshot!(plan("demo", "{ topProducts { inStock shippingEstimate } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { __typename upc price weight } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "inventory") {
                { ... on Product { __typename upc price weight } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { inStock shippingEstimate } } }
              },
            },
          },
        }
    "#);
}

#[tokio::test]
async fn fields_required_from_two_subgraphs_reach_the_third_with_the_variable() {
    let products = mock(|_| {
        json!({ "data": { "products": [
            { "name": "Lamp", "__typename": "Product", "id": "p1", "price": 30 } ] } })
    })
    .await;
    let inventory = mock(
        |_| json!({ "data": { "_entities": [{ "dimensions": { "size": 2, "weight": 4 } }] } }),
    )
    .await;
    let shipping = mock(|_| json!({ "data": { "_entities": [{ "delivery": "2 days" }] } })).await;
    let sdl = with_urls(
        &fixture("requires"),
        &[
            ("products", &products.url),
            ("inventory", &inventory.url),
            ("shipping", &shipping.url),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let query = r#"query($zip: String!) { products { name delivery(zip: $zip) } }"#;
    let request = json!({ "query": query, "variables": { "zip": "10115" } });
    let (_, _, body) = post(&app, request, &[]).await;
    // The required price and dimensions do not leak into the response.
    assert_eq!(
        body,
        json!({ "data": { "products": [{ "name": "Lamp", "delivery": "2 days" }] } })
    );
    assert_eq!(
        inventory.requests()[0]["variables"]["representations"],
        json!([{ "__typename": "Product", "id": "p1" }])
    );
    let shipping_requests = shipping.requests();
    assert_eq!(shipping_requests.len(), 1);
    assert_eq!(
        shipping_requests[0]["query"],
        "query($representations: [_Any!]!, $zip: String!) { _entities(representations: $representations) { ... on Product { delivery(zip: $zip) } } }"
    );
    assert_eq!(
        shipping_requests[0]["variables"],
        json!({
            "representations": [{ "__typename": "Product", "id": "p1",
                "dimensions": { "size": 2, "weight": 4 }, "price": 30 }],
            "zip": "10115" })
    );
    assert_eq!(products.count(), 1);
}

#[test]
fn one_field_required_with_different_arguments_is_fetched_once_per_argument_set() {
    let printed = plan(
        "apollo-compose/requires_args/apollo",
        "{ products { id usd eur } }",
    );
    assert!(
        printed.contains(
            r#"price__requires_0: price(currency: "USD") price__requires_1: price(currency: "EUR")"#
        ),
        "{printed}"
    );
    // Each representation holds `price` once, so the two labels fetches stay apart.
    assert_eq!(
        printed.matches(r#"Fetch(service: "labels")"#).count(),
        2,
        "{printed}"
    );
}
