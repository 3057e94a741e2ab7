//! Multiple, compound and non-resolvable keys: the key must be one the next subgraph resolves.

mod common;
use common::plan;

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
