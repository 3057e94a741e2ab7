//! Supergraph parsing and API schema derivation.

mod common;
use common::subgraphs::mock;
use common::{fixture, plan, post, router_app, supergraph, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn join_machinery_is_not_in_the_api_schema() {
    let sg = supergraph("demo");
    let sdl = sg.api_schema.to_string();
    assert!(!sdl.contains("join__"), "{sdl}");
    assert!(!sdl.contains("link"), "{sdl}");
    assert!(sg.api_schema.get_object("Product").is_some());
    let names: Vec<&str> = sg.subgraphs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["accounts", "inventory", "products", "reviews"]);
    assert_eq!(sg.subgraphs[0].url, "http://127.0.0.1:4001/graphql");
}

#[test]
fn field_sources_record_requires_provides_and_external() {
    let sg = supergraph("demo");
    let inventory = sg.graph_by_name("inventory").unwrap();
    let estimate = sg
        .field_source("Product", "shippingEstimate", inventory)
        .unwrap()
        .unwrap();
    assert_eq!(estimate.requires.as_ref().unwrap().len(), 2);
    let price = sg
        .field_source("Product", "price", inventory)
        .unwrap()
        .unwrap();
    assert!(price.external);
    let reviews = sg.graph_by_name("reviews").unwrap();
    let author = sg
        .field_source("Review", "author", reviews)
        .unwrap()
        .unwrap();
    assert!(author.provides.is_some());
    // A field without @join__field is resolvable by every subgraph defining the type.
    assert!(matches!(
        sg.field_source("Product", "upc", reviews),
        Some(None)
    ));
    assert!(sg.field_source("Product", "name", reviews).is_none());
}

#[test]
fn inaccessible_elements_are_removed() {
    let sg = supergraph("inaccessible");
    let sdl = sg.api_schema.to_string();
    for hidden in [
        "passwordHash",
        "Secret",
        "secret",
        "ROOT",
        "format",
        "@tag",
        "@inaccessible",
    ] {
        assert!(!sdl.contains(hidden), "{hidden} leaked into:\n{sdl}");
    }
    assert!(sdl.contains("avatar(size: Int): String"), "{sdl}");
    assert!(sdl.contains("MEMBER"), "{sdl}");
}

#[test]
fn operations_are_validated_against_the_api_schema() {
    insta::assert_snapshot!(plan("inaccessible", "{ me { passwordHash } }"), @r#"error[GRAPHQL_VALIDATION_FAILED]: interface, union and object types must have a subselection set; type `User` does not have a field `passwordHash`"#);
}

#[test]
fn federation_1_supergraphs_with_core_and_owner() {
    let sg = supergraph("fed1");
    let products = sg.graph_by_name("products").unwrap();
    assert!(sg.type_in_graph("Product", products).is_some());
    insta::assert_snapshot!(plan("fed1", "{ topProducts { name reviews { body } } }"), @r#"
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
fn not_a_supergraph_is_rejected_with_a_code() {
    let err = router::supergraph::Supergraph::parse("type Query { a: Int }").unwrap_err();
    assert_eq!(err.code(), "SUPERGRAPH_NOT_FEDERATED");
    let err = router::supergraph::Supergraph::parse("type Query { a: Nope }").unwrap_err();
    assert_eq!(err.code(), "SUPERGRAPH_INVALID_SCHEMA");
}

#[tokio::test]
async fn inaccessible_elements_are_rejected_over_http_and_never_reach_a_subgraph() {
    let accounts = mock(|_| json!({ "data": { "me": { "name": "Ada" } } })).await;
    let sdl = with_urls(&fixture("inaccessible"), &[("accounts", &accounts.url)]);
    let app = router_app(&sdl, Duration::from_secs(2));
    let accept = [("accept", "application/graphql-response+json")];
    for query in [
        "{ me { passwordHash } }",
        "{ secret { value } }",
        r#"{ me { avatar(size: 1, format: "png") } }"#,
        "{ me { ... on Secret { value } } }",
    ] {
        let (status, _, body) = post(&app, json!({ "query": query }), &accept).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{query}: {body}"
        );
        assert!(body.get("data").is_none(), "{query}: {body}");
    }
    assert_eq!(accounts.count(), 0);
    // The same subgraph is reachable: accessible fields go through.
    let (status, _, body) = post(&app, json!({ "query": "{ me { name } }" }), &accept).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "me": { "name": "Ada" } } }));
    assert_eq!(accounts.queries(), ["query { me { name } }"]);
}

#[tokio::test]
async fn a_federation_1_supergraph_executes_across_subgraphs() {
    let products = mock(|_| {
        json!({ "data": { "topProducts": [
            { "name": "Table", "__typename": "Product", "upc": "1" },
            { "name": "Couch", "__typename": "Product", "upc": "2" } ] } })
    })
    .await;
    let reviews = mock(|_| {
        json!({ "data": { "_entities": [
            { "reviews": [{ "body": "Love it!" }, { "body": "Wobbly." }] },
            { "reviews": [] } ] } })
    })
    .await;
    let sdl = with_urls(
        &fixture("fed1"),
        &[("products", &products.url), ("reviews", &reviews.url)],
    );
    assert!(sdl.contains(&products.url) && sdl.contains(&reviews.url));
    let app = router_app(&sdl, Duration::from_secs(2));
    let query = "{ topProducts { name reviews { body } } }";
    let (status, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [
            { "name": "Table", "reviews": [{ "body": "Love it!" }, { "body": "Wobbly." }] },
            { "name": "Couch", "reviews": [] } ] } })
    );
    assert_eq!(
        products.queries(),
        ["query { topProducts { name __typename upc } }"]
    );
    assert_eq!(
        reviews.queries(),
        ["query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { body } } } }"]
    );
    assert_eq!(
        reviews.requests()[0]["variables"]["representations"],
        json!([{ "__typename": "Product", "upc": "1" }, { "__typename": "Product", "upc": "2" }])
    );
}
