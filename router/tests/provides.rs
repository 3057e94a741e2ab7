//! @provides: an external field is resolvable along the providing path only.

mod common;
use common::plan;

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
