//! Value types a subgraph cannot be entered at (no resolvable key there): reached by
//! re-entering the subgraph at the nearest enclosing entity, or at the query root for
//! `@shareable` root fields, as Apollo's planner does. Supergraphs composed by Apollo
//! (`tests/fixtures/apollo-compose/`); execution is compared with Apollo Gateway in
//! `differential.rs` (cases `parent_entity`, `shareable_root`).

mod common;
use common::plan;

#[test]
fn a_value_type_field_is_fetched_through_the_enclosing_entity() {
    let q = "{ products { id category { name description } } }";
    assert_eq!(
        plan("apollo-compose/parent_entity/apollo", q),
        r#"QueryPlan {
  Sequence {
    Fetch(service: "products") {
      query { products { id category { name } __typename } }
    },
    Flatten(path: "products.@") {
      Fetch(service: "details") {
        { ... on Product { __typename id } } =>
        query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { category { description } } } }
      },
    },
  },
}"#
    );
}

#[test]
fn a_nested_value_type_walks_the_whole_path_down() {
    let q = "{ products { category { parent { description } } } }";
    let printed = plan("apollo-compose/parent_entity/apollo", q);
    assert!(
        printed.contains("... on Product { category { parent { description } } }"),
        "{printed}"
    );
}

#[test]
fn a_shareable_root_field_split_between_subgraphs_is_fetched_from_each() {
    let q = "{ viewer { id name email settings { theme locale } } }";
    assert_eq!(
        plan("apollo-compose/shareable_root/apollo", q),
        r#"QueryPlan {
  Parallel {
    Fetch(service: "contact") {
      query { viewer { id email settings { theme locale } } }
    },
    Fetch(service: "profile") {
      query { viewer { name } }
    },
  },
}"#
    );
}
