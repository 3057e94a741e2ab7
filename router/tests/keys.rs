//! @key: entity jumps between subgraphs, nested entities, batching per path.

mod common;
use common::subgraphs::mock;
use common::{fixture, plan, post, router_app, with_urls};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn single_subgraph_query_is_one_fetch() {
    insta::assert_snapshot!(plan("demo", "{ me { id name } }"), @r#"
        QueryPlan {
          Fetch(service: "accounts") {
            query { me { id name } }
          },
        }
    "#);
}

#[test]
fn jump_through_key_to_another_subgraph() {
    insta::assert_snapshot!(plan("demo", "{ topProducts { name reviews { body } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { name __typename upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { body } } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn nested_entities_cross_subgraphs_several_times() {
    let q =
        "{ topProducts { name reviews { body author { name reviews { product { name } } } } } }";
    insta::assert_snapshot!(plan("demo", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { name __typename upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { body author { __typename id reviews { product { __typename upc } } } } } } }
              },
            },
            Parallel {
              Flatten(path: "topProducts.@.reviews.@.author") {
                Fetch(service: "accounts") {
                  { ... on User { __typename id } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
                },
              },
              Flatten(path: "topProducts.@.reviews.@.author.reviews.@.product") {
                Fetch(service: "products") {
                  { ... on Product { __typename upc } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { name } } }
                },
              },
            },
          },
        }
    "#);
}

#[test]
fn client_alias_colliding_with_a_key_field_gets_the_key_aliased() {
    let q = "{ topProducts { upc: name reviews { body } } }";
    insta::assert_snapshot!(plan("demo", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { upc: name __typename upc__internal: upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc__internal: upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { body } } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn sibling_paths_to_one_subgraph_share_one_request() {
    let q = "{ topProducts { reviews { author { name } editor { name } } } }";
    insta::assert_snapshot!(plan("demo", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { __typename upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { author { __typename id } editor { __typename id } } } } }
              },
            },
            Flatten(paths: "topProducts.@.reviews.@.author", "topProducts.@.reviews.@.editor") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn compound_and_nested_keys_are_selected_whole() {
    insta::assert_snapshot!(plan("keys", "{ items { name stock } members { plan } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              query { items { name __typename sku region } members { __typename org { id } login } }
            },
            Parallel {
              Flatten(path: "items.@") {
                Fetch(service: "inventory") {
                  { ... on Item { __typename sku region } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Item { stock } } }
                },
              },
              Flatten(path: "members.@") {
                Fetch(service: "billing") {
                  { ... on Member { __typename org { id } login } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Member { plan } } }
                },
              },
            },
          },
        }
    "#);
}

/// The representations of an `_entities` request.
fn representations(body: &Value) -> &Value {
    &body["variables"]["representations"]
}

#[tokio::test]
async fn compound_and_nested_keys_travel_whole_in_representations() {
    let catalog = mock(|body| {
        let query = body["query"].as_str().unwrap();
        assert!(!query.contains("_entities"), "{query}");
        // One SKU in two regions and one login in two organizations: only the whole key
        // tells these entities apart.
        json!({ "data": {
            "items": [
                { "name": "Table", "__typename": "Item", "sku": "T1", "region": "eu" },
                { "name": "Table", "__typename": "Item", "sku": "T1", "region": "us" } ],
            "members": [
                { "__typename": "Member", "org": { "id": "o1" }, "login": "ada" },
                { "__typename": "Member", "org": { "id": "o2" }, "login": "ada" } ] } })
    })
    .await;
    let inventory = mock(|body| {
        let stock: Vec<Value> = representations(body)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({ "stock": if r["region"] == "eu" { 3 } else { 7 } }))
            .collect();
        json!({ "data": { "_entities": stock } })
    })
    .await;
    let billing = mock(|body| {
        let plans: Vec<Value> = representations(body)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({ "plan": format!("{}/{}", r["org"]["id"].as_str().unwrap(), r["login"].as_str().unwrap()) }))
            .collect();
        json!({ "data": { "_entities": plans } })
    })
    .await;
    let sdl = with_urls(
        &fixture("keys"),
        &[
            ("catalog", &catalog.url),
            ("inventory", &inventory.url),
            ("billing", &billing.url),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let query = "{ items { name stock } members { plan } }";
    let (status, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": {
            "items": [{ "name": "Table", "stock": 3 }, { "name": "Table", "stock": 7 }],
            "members": [{ "plan": "o1/ada" }, { "plan": "o2/ada" }] } })
    );
    assert_eq!(catalog.count(), 1);
    assert_eq!(
        inventory.queries(),
        ["query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Item { stock } } }"]
    );
    let [inventory_request] = &inventory.requests()[..] else {
        panic!("one inventory request: {:?}", inventory.requests())
    };
    assert_eq!(
        representations(inventory_request),
        &json!([
            { "__typename": "Item", "sku": "T1", "region": "eu" },
            { "__typename": "Item", "sku": "T1", "region": "us" } ])
    );
    let [billing_request] = &billing.requests()[..] else {
        panic!("one billing request: {:?}", billing.requests())
    };
    assert_eq!(
        representations(billing_request),
        &json!([
            { "__typename": "Member", "org": { "id": "o1" }, "login": "ada" },
            { "__typename": "Member", "org": { "id": "o2" }, "login": "ada" } ])
    );
}

#[tokio::test]
async fn a_non_resolvable_key_is_never_fetched_from_its_subgraph() {
    let reviews = mock(|_| {
        json!({ "data": { "latestReview": {
            "body": "Great", "author": { "id": "1", "__typename": "User" } } } })
    })
    .await;
    let accounts = mock(|_| json!({ "data": { "_entities": [{ "name": "Ada" }] } })).await;
    let billing = mock(|_| json!({ "data": {} })).await;
    let sdl = with_urls(
        &fixture("multiple_keys"),
        &[
            ("reviews", &reviews.url),
            ("accounts", &accounts.url),
            ("billing", &billing.url),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let query = "{ latestReview { body author { id name } } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "latestReview": {
            "body": "Great", "author": { "id": "1", "name": "Ada" } } } })
    );
    // `reviews` only names the user (resolvable: false): it answers its root field and is
    // never asked for a User entity.
    assert_eq!(
        reviews.queries(),
        ["query { latestReview { body author { id __typename } } }"]
    );
    let [accounts_request] = &accounts.requests()[..] else {
        panic!("one accounts request: {:?}", accounts.requests())
    };
    assert_eq!(
        representations(accounts_request),
        &json!([{ "__typename": "User", "id": "1" }])
    );
    assert_eq!(billing.count(), 0);
}
