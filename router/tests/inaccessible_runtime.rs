//! `@inaccessible` at run time: values a subgraph returns that the API schema hides become
//! `null` (propagating to the nearest nullable parent) and are reported in
//! `extensions.valueCompletion`, as Apollo's routers do; never passed to the client.

mod common;
use common::subgraphs::mock;
use common::{post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn hidden_enum_values_and_object_types_never_reach_the_client() {
    let catalog = mock(|body| {
        let query = body["query"].as_str().unwrap();
        if query.contains("picks") {
            return json!({"data": {"picks": [{"__typename": "Hidden"}]}});
        }
        json!({"data": {"item": {"id": "1", "status": "OPEN", "kind": "HIDDEN", "kinds": ["A", "HIDDEN"]}}})
    })
    .await;
    let sdl = with_urls(
        &common::fixture("apollo-compose/inaccessible_values/apollo"),
        &[("catalog", &catalog.url)],
    );
    let app = router_app(&sdl, Duration::from_secs(5));

    let body = json!({"query": r#"{ item(id: "1") { id status kind kinds } }"#});
    let (_, _, response) = post(&app, body, &[]).await;
    assert_eq!(
        response["data"],
        json!({"item": {"id": "1", "status": "OPEN", "kind": null, "kinds": ["A", null]}})
    );
    assert!(response.get("errors").is_none(), "{response}");
    let nulled = response["extensions"]["valueCompletion"]
        .as_array()
        .unwrap();
    assert_eq!(nulled.len(), 2, "{response}");
    assert_eq!(nulled[0]["path"], json!(["item", "kind"]));
    assert_eq!(nulled[0]["extensions"]["code"], "INVALID_GRAPHQL");
    assert_eq!(nulled[1]["path"], json!(["item", "kinds", 1]));

    // `picks: [Pick!]!`: the hidden member nulls its non-null item, then the list, then
    // `data`, with no error of its own.
    let body = json!({"query": "{ picks { __typename ... on Visible { id } } }"});
    let (_, _, response) = post(&app, body, &[]).await;
    assert_eq!(response["data"], json!(null), "{response}");
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        response["extensions"]["valueCompletion"][0]["path"],
        json!(["picks", 0])
    );
}
