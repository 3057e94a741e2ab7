//! Mutations: root fields run in order; consecutive fields of one subgraph share a fetch.

mod common;
use common::plan;

#[test]
fn root_mutation_fields_run_in_sequence_across_subgraphs() {
    let q = r#"mutation { a: signUp(name: "x") { id } postReview(body: "y") { body author { name } } b: rename(name: "z") { name } }"#;
    insta::assert_snapshot!(plan("mutations", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              mutation { a: signUp(name: "x") { id } }
            },
            Fetch(service: "reviews") {
              mutation { postReview(body: "y") { body author { __typename id } } }
            },
            Flatten(path: "postReview.author") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
              },
            },
            Fetch(service: "accounts") {
              mutation { b: rename(name: "z") { name } }
            },
          },
        }
    "#);
}

#[test]
fn consecutive_fields_of_one_subgraph_share_a_fetch() {
    let q = r#"mutation { a: signUp(name: "x") { id } b: rename(name: "z") { name } }"#;
    insta::assert_snapshot!(plan("mutations", q), @r#"
        QueryPlan {
          Fetch(service: "accounts") {
            mutation { a: signUp(name: "x") { id } b: rename(name: "z") { name } }
          },
        }
    "#);
}
