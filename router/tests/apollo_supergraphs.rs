//! Supergraphs composed by Apollo's own composition (checked in by the composition work under
//! `tests/fixtures/apollo-compose/`): the router reads them and plans against them.

mod common;
use router::supergraph::Supergraph;

fn apollo(name: &str) -> Supergraph {
    let path = format!(
        "{}/tests/fixtures/apollo-compose/{name}/apollo.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    let sdl = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Supergraph::parse(&sdl).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn plan(name: &str, query: &str) -> String {
    match router::pipeline::plan_only(&apollo(name), query, None, Default::default(), &[]) {
        Ok(plan) => plan.to_string(),
        Err(e) => format!("error[{}]: {e}", e.code()),
    }
}

#[test]
fn every_apollo_composed_supergraph_parses_with_a_valid_api_schema() {
    for name in [
        "abstract_types",
        "classic",
        "interface_object",
        "override_inaccessible",
        "platform",
    ] {
        let sg = apollo(name);
        let sdl = sg.api_schema.to_string();
        assert!(
            !sdl.contains("join__") && !sdl.contains("@inaccessible"),
            "{name}:\n{sdl}"
        );
    }
}

#[test]
fn interface_object_field_through_apollo_supergraph() {
    insta::assert_snapshot!(plan("interface_object", r#"{ media(id: "1") { title averageRating } }"#), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "library") {
              query { media(id: "1") { __typename title id } }
            },
            Flatten(path: "media") {
              Fetch(service: "ratings") {
                { ... on Media { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Media { __typename averageRating } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn root_field_returning_an_interface_object_finds_the_concrete_type() {
    insta::assert_snapshot!(plan("interface_object", "{ topRated { __typename title } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "ratings") {
              query { topRated { __typename id } }
            },
            Flatten(path: "topRated.@") {
              Fetch(service: "library") {
                { ... on Media { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Media { __typename title } } }
              },
            },
          },
        }
    "#);
}

#[tokio::test]
async fn apollo_composed_classic_supergraph_serves_the_demo_subgraphs() {
    use serde_json::json;
    let demo = common::Demo::start().await;
    let path = format!(
        "{}/tests/fixtures/apollo-compose/classic/apollo.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    let sdl = common::with_urls(
        &std::fs::read_to_string(path).unwrap(),
        &[
            ("users", &demo.accounts.url),
            ("inventory", &demo.inventory.url),
            ("products", &demo.products.url),
            ("reviews", &demo.reviews.url),
        ],
    );
    let app = common::router_app(&sdl, std::time::Duration::from_secs(5));
    let query = "{ topProducts(first: 2) { name inStock shippingEstimate reviews { author { name username reviews { product { name inStock } } } } } }";
    let (status, _, body) = common::post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200);
    let ada = json!({ "name": "Ada Lovelace", "username": "@ada", "reviews": [
        { "product": { "name": "Table", "inStock": true } },
        { "product": { "name": "Couch", "inStock": false } } ] });
    let alan = json!({ "name": "Alan Turing", "username": "@complete", "reviews": [
        { "product": { "name": "Chair", "inStock": true } },
        { "product": { "name": "Table", "inStock": true } } ] });
    assert_eq!(
        body,
        json!({ "data": { "topProducts": [
        { "name": "Table", "inStock": true, "shippingEstimate": 50, "reviews": [ { "author": ada }, { "author": alan } ] },
        { "name": "Couch", "inStock": false, "shippingEstimate": 0, "reviews": [ { "author": ada } ] } ] } })
    );
    // [users, inventory, products, reviews]: three steps, six requests.
    assert_eq!(demo.counts(), [1, 2, 2, 1]);
}

#[test]
fn platform_supergraph_batches_sibling_user_paths() {
    let q = "{ myBoards { name tasks(first: 5) { edges { node { title assignee { name email } creator { name } } } } } }";
    insta::assert_snapshot!(plan("platform", q), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "boards") {
              query { myBoards { name tasks(first: 5) { edges { node { title assignee { __typename id } creator { __typename id } } } } } }
            },
            Flatten(paths: "myBoards.@.tasks.edges.@.node.assignee", "myBoards.@.tasks.edges.@.node.creator") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name email } } }
              },
            },
          },
        }
    "#);
}
