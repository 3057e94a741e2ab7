//! Interface fields whose source differs per implementation: `Q.label` is `@override`n to
//! `labels`, so `nodes { label }` asks `nodes` for `P`'s and `labels` for `Q`'s.

mod common;
use common::plan;

#[test]
fn an_overridden_implementation_field_is_fetched_per_type() {
    assert_eq!(
        plan(
            "apollo-compose/interface_sources/apollo",
            "{ nodes { id label } }"
        ),
        r#"QueryPlan {
  Sequence {
    Fetch(service: "nodes") {
      query { nodes { __typename id ... on P { label } ... on Q { __typename id } } }
    },
    Flatten(path: "nodes.@") {
      Fetch(service: "labels") {
        { ... on Q { __typename id } } =>
        query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Q { label } } }
      },
    },
  },
}"#
    );
}
