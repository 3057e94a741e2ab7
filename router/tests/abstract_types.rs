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
