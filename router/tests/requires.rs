//! @requires: required fields are fetched first and sent in the representations.

mod common;
use common::{plan, plan_with};

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
