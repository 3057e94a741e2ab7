//! @shareable: stay in the current subgraph whenever it resolves the field.

mod common;
use common::plan;

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
