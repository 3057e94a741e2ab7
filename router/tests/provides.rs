//! @provides: an external field is resolvable along the providing path only.

mod common;
use common::{plan, post, router_app, Demo};
use serde_json::json;
use std::time::Duration;

#[test]
fn provided_field_needs_no_extra_fetch() {
    insta::assert_snapshot!(plan("demo", "{ topProducts { reviews { author { username } } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { __typename upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { author { username } } } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn unprovided_field_of_the_same_entity_jumps() {
    insta::assert_snapshot!(plan("demo", "{ topProducts { reviews { author { username name } } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { topProducts { __typename upc } }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "reviews") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { author { username __typename id } } } } }
              },
            },
            Flatten(path: "topProducts.@.reviews.@.author") {
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
fn provides_applies_whichever_path_leads_to_the_providing_field() {
    insta::assert_snapshot!(plan("demo", "{ me { reviews { author { username } } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              query { me { __typename id } }
            },
            Flatten(path: "me") {
              Fetch(service: "reviews") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { reviews { author { username } } } } }
              },
            },
          },
        }
    "#);
}

#[tokio::test]
async fn the_owning_subgraph_is_asked_only_for_what_was_not_provided() {
    let demo = Demo::start().await;
    let app = router_app(&demo.supergraph(), Duration::from_secs(5));
    let query = "{ topProducts(first: 1) { reviews { author { username name } } } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [ { "reviews": [
        { "author": { "username": "@ada", "name": "Ada Lovelace" } },
        { "author": { "username": "@complete", "name": "Alan Turing" } } ] } ] } })
    );
    // [accounts, inventory, products, reviews]
    assert_eq!(demo.counts(), [1, 0, 1, 1]);
    // `username` came from reviews along the providing path; accounts resolves `name` only.
    let accounts = &demo.accounts.requests()[0].body;
    assert_eq!(
        accounts["query"],
        "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }"
    );
    assert_eq!(
        accounts["variables"]["representations"],
        json!([{ "__typename": "User", "id": "1" }, { "__typename": "User", "id": "2" }])
    );
}
