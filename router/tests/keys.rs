//! @key: entity jumps between subgraphs, nested entities, batching per path.

mod common;
use common::plan;

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
