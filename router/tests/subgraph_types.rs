//! Subgraph operations valid against the subgraph's own schema: fields sharing a response key
//! with different types there are aliased and renamed back; a field typed narrower in the
//! subgraph plans only the type conditions that can apply there; client variables keep their
//! default values. Execution is compared with Apollo Gateway in `differential.rs`.

mod common;
use common::subgraphs::mock;
use common::{plan, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn conflicting_shapes_are_aliased_and_narrower_types_drop_conditions() {
    let q = "{ things { ... on A { id } ... on B { id } } favorite { name ... on Cat { meow } ... on Dog { bark } } }";
    assert_eq!(
        plan("apollo-compose/subgraph_types/apollo", q),
        r#"QueryPlan {
  Fetch(service: "things") {
    query { things { __typename ... on A { id } ... on B { id__alias_0: id } } favorite { name meow __typename } }
  },
}"#
    );
}

#[test]
fn a_defaulted_variable_is_declared_with_its_default() {
    let q = r#"query($id: ID = "user-3") { user(id: $id) { name } }"#;
    let printed = plan("apollo-compose/external_node/apollo", q);
    assert!(
        printed.contains(r#"query($id: ID = "user-3") { user(id: $id) { name } }"#),
        "{printed}"
    );
}

#[tokio::test]
async fn aliased_fields_are_renamed_back_before_the_client_sees_them() {
    let things = mock(|body| {
        let query = body["query"].as_str().unwrap();
        assert!(query.contains("id__alias_0: id"), "{query}");
        json!({"data": {"things": [
            {"__typename": "A", "id": "a-1"},
            {"__typename": "B", "id__alias_0": "b-1"},
        ]}})
    })
    .await;
    let extra = mock(|_| json!({"data": {}})).await;
    let sdl = with_urls(
        &common::fixture("apollo-compose/subgraph_types/apollo"),
        &[("things", &things.url), ("extra", &extra.url)],
    );
    let app = router_app(&sdl, Duration::from_secs(5));
    let body = json!({"query": "{ things { ... on A { id } ... on B { id } } }"});
    let (_, _, response) = post(&app, body, &[]).await;
    assert_eq!(
        response,
        json!({"data": {"things": [{"id": "a-1"}, {"id": "b-1"}]}})
    );
}
