//! Multiple, compound and non-resolvable keys: the key must be one the next subgraph resolves.

mod common;
use common::subgraphs::mock;
use common::{fixture, plan, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn picks_the_key_the_target_subgraph_declares() {
    insta::assert_snapshot!(plan("multiple_keys", "{ me { name plan } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              query { me { name __typename email } }
            },
            Flatten(path: "me") {
              Fetch(service: "billing") {
                { ... on User { __typename email } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { plan } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn fetches_a_missing_key_through_a_third_subgraph() {
    insta::assert_snapshot!(plan("multiple_keys", "{ latestReview { body author { plan } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "reviews") {
              query { latestReview { body author { __typename id } } }
            },
            Flatten(path: "latestReview.author") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { email } } }
              },
            },
            Flatten(path: "latestReview.author") {
              Fetch(service: "billing") {
                { ... on User { __typename email } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { plan } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn compound_nested_key_fields_are_selected() {
    let sg = common::supergraph("multiple_keys");
    let user = &sg.types["User"];
    let keys: Vec<&str> = user
        .graphs
        .iter()
        .flat_map(|g| g.keys.iter().map(|k| k.fields.as_str()))
        .collect();
    assert_eq!(keys, ["id", "email", "org { id } login", "email", "id"]);
    let reviews = sg.graph_by_name("reviews").unwrap();
    assert!(!sg.type_in_graph("User", reviews).unwrap().keys[0].resolvable);
}

#[test]
fn non_resolvable_key_is_still_used_to_leave_the_subgraph() {
    insta::assert_snapshot!(plan("multiple_keys", "{ me { id } latestReview { author { id name } } }"), @r#"
        QueryPlan {
          Parallel {
            Fetch(service: "accounts") {
              query { me { id } }
            },
            Sequence {
              Fetch(service: "reviews") {
                query { latestReview { author { id __typename } } }
              },
              Flatten(path: "latestReview.author") {
                Fetch(service: "accounts") {
                  { ... on User { __typename id } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
                },
              },
            },
          },
        }
    "#);
}

#[test]
fn non_resolvable_key_cannot_be_entered() {
    insta::assert_snapshot!(plan("multiple_keys", "{ me { reviewCount } }"), @r#"error[QUERY_PLANNING_FAILED]: cannot reach User.reviewCount in subgraph `reviews` from `accounts`: User has no resolvable @key in `reviews`"#);
}

#[tokio::test]
async fn each_subgraph_gets_the_key_it_resolves() {
    let reviews = mock(|_| {
        json!({ "data": { "latestReview": {
            "body": "Great", "author": { "__typename": "User", "id": "1" } } } })
    })
    .await;
    let accounts =
        mock(|_| json!({ "data": { "_entities": [{ "email": "ada@example.com" }] } })).await;
    let billing = mock(|_| json!({ "data": { "_entities": [{ "plan": "pro" }] } })).await;
    let sdl = with_urls(
        &fixture("multiple_keys"),
        &[
            ("reviews", &reviews.url),
            ("accounts", &accounts.url),
            ("billing", &billing.url),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let query = "{ latestReview { body author { plan } } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "latestReview": { "body": "Great", "author": { "plan": "pro" } } } })
    );
    // reviews knows the user by `id`, billing only by `email`: accounts turns one into the
    // other, and each subgraph sees only the key it declares.
    assert_eq!(reviews.count(), 1);
    let accounts_requests = accounts.requests();
    assert_eq!(accounts_requests.len(), 1);
    assert_eq!(
        accounts_requests[0]["variables"]["representations"],
        json!([{ "__typename": "User", "id": "1" }])
    );
    assert_eq!(
        accounts.queries(),
        ["query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { email } } }"]
    );
    let billing_requests = billing.requests();
    assert_eq!(billing_requests.len(), 1);
    assert_eq!(
        billing_requests[0]["variables"]["representations"],
        json!([{ "__typename": "User", "email": "ada@example.com" }])
    );
}

#[tokio::test]
async fn the_root_subgraph_sends_the_one_key_of_its_several_that_billing_declares() {
    let accounts = mock(|_| {
        json!({ "data": { "me": {
            "name": "Ada", "__typename": "User", "email": "ada@example.com" } } })
    })
    .await;
    let billing = mock(|_| json!({ "data": { "_entities": [{ "plan": "free" }] } })).await;
    let reviews = mock(|_| json!({ "data": {} })).await;
    let sdl = with_urls(
        &fixture("multiple_keys"),
        &[
            ("reviews", &reviews.url),
            ("accounts", &accounts.url),
            ("billing", &billing.url),
        ],
    );
    let app = router_app(&sdl, Duration::from_secs(2));
    let (_, _, body) = post(&app, json!({ "query": "{ me { name plan } }" }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "me": { "name": "Ada", "plan": "free" } } })
    );
    assert_eq!(
        accounts.queries(),
        ["query { me { name __typename email } }"]
    );
    let billing_requests = billing.requests();
    assert_eq!(billing_requests.len(), 1);
    assert_eq!(
        billing_requests[0]["variables"]["representations"],
        json!([{ "__typename": "User", "email": "ada@example.com" }])
    );
    assert_eq!(reviews.count(), 0);
}
