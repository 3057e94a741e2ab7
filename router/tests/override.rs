//! @override(from:) and progressive @override(label: "percent(N)").

mod common;
use common::{plan, plan_labels, supergraph};

#[test]
fn overridden_field_is_resolved_by_the_new_owner() {
    insta::assert_snapshot!(plan("override", "{ products { name currency sku } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { currency sku } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn progressive_override_disabled_keeps_the_original_subgraph() {
    insta::assert_snapshot!(plan_labels("override", "{ products { name price } }", &[]), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { products { name price } }
          },
        }
    "#);
}

#[test]
fn progressive_override_enabled_moves_the_field() {
    insta::assert_snapshot!(plan_labels("override", "{ products { name price } }", &["percent(25)"]), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { price } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn percent_labels_are_rolled_per_request() {
    let sg = supergraph("override");
    assert_eq!(sg.override_labels, ["percent(25)"]);
    let enabled = (0..2000)
        .filter(|_| !router::pipeline::roll_override_labels(&sg).is_empty())
        .count();
    // 25% of 2000 = 500; the bounds are more than 7 standard deviations wide.
    assert!((350..650).contains(&enabled), "{enabled} of 2000 enabled");
}
