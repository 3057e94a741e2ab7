//! @override(from:) and progressive @override(label: "percent(N)").

mod common;
use common::subgraphs::{mock, Mock};
use common::{fixture, plan, plan_labels, post, router_app_with, supergraph, with_urls};
use serde_json::{json, Map, Value};
use std::time::Duration;

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
    assert_eq!(sg.override_labels, ["percent(25)", "beta-stock"]);
    let enabled = (0..2000)
        .filter(|_| !router::pipeline::roll_override_labels(&sg, &[]).is_empty())
        .count();
    // 25% of 2000 = 500; the bounds are more than 7 standard deviations wide.
    assert!((350..650).contains(&enabled), "{enabled} of 2000 enabled");
}

#[test]
fn configured_labels_are_always_enabled_and_percent_labels_still_rolled() {
    let sg = supergraph("override");
    let configured = ["beta-stock".to_owned(), "not-in-this-supergraph".to_owned()];
    let rolls: Vec<Vec<String>> = (0..400)
        .map(|_| router::pipeline::roll_override_labels(&sg, &configured))
        .collect();
    assert!(rolls.iter().all(|r| r.contains(&"beta-stock".to_owned())));
    // Only the supergraph's own labels are reported.
    assert!(rolls
        .iter()
        .flatten()
        .all(|l| sg.override_labels.contains(l)));
    let with_percent = rolls.iter().filter(|r| r.len() == 2).count();
    assert!((40..180).contains(&with_percent), "{with_percent} of 400");
}

#[test]
fn a_feature_flag_label_moves_the_field_only_when_enabled() {
    let query = "{ products { name stock } }";
    insta::assert_snapshot!(plan_labels("override", query, &[]), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { products { name stock } }
          },
        }
    "#);
    insta::assert_snapshot!(plan_labels("override", query, &["beta-stock"]), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { stock } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn the_plan_cache_keeps_one_plan_per_label_state() {
    use router::pipeline::{prepare_with, Caches};
    let sg = supergraph("override");
    let caches = Caches::new(16);
    let query = "{ products { stock } }";
    let plan = |caches: &Caches, labels: &[String]| {
        let variables = Default::default();
        let admission = Default::default();
        let prepared = prepare_with(&sg, caches, query, None, variables, labels, admission);
        prepared.unwrap().0.plan.to_string()
    };
    let off = |caches: &Caches| plan(caches, &[]);
    let on = |caches: &Caches| plan(caches, &["beta-stock".to_owned()]);
    // Alternating requests share one cache: a key without the label state would hand one
    // state's plan to the other.
    for _ in 0..20 {
        let plan = off(&caches);
        assert!(!plan.contains("pricing"), "{plan}");
        let plan = on(&caches);
        assert!(plan.contains("Fetch(service: \"pricing\")"), "{plan}");
    }
}

/// The override fixture against two mocks with `labels` configured. Each mock answers the
/// fields its query names, with values telling the two subgraphs apart (products: 5 in stock,
/// price 10; pricing: 9 in stock, price 20).
async fn override_app(labels: &[&str]) -> (axum::Router, Mock, Mock) {
    fn fields(query: &str, values: &[(&str, Value)]) -> Value {
        let named = |field: &str| {
            query
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == field)
        };
        let object: Map<String, Value> = values
            .iter()
            .filter(|(field, _)| named(field))
            .map(|(field, value)| (field.to_string(), value.clone()))
            .collect();
        Value::Object(object)
    }
    let products = mock(|body| {
        let query = body["query"].as_str().unwrap();
        let product = fields(
            query,
            &[
                ("name", json!("Lamp")),
                ("__typename", json!("Product")),
                ("id", json!("p1")),
                ("price", json!(10)),
                ("stock", json!(5)),
            ],
        );
        json!({ "data": { "products": [product] } })
    })
    .await;
    let pricing = mock(|body| {
        let query = body["query"].as_str().unwrap();
        let product = fields(
            query,
            &[
                ("price", json!(20)),
                ("currency", json!("EUR")),
                ("sku", json!("L-1")),
                ("stock", json!(9)),
            ],
        );
        json!({ "data": { "_entities": [product] } })
    })
    .await;
    let sdl = with_urls(
        &fixture("override"),
        &[("products", &products.url), ("pricing", &pricing.url)],
    );
    let settings = router::ExecutionSettings {
        subgraph_timeout: Duration::from_secs(2),
        override_labels: labels.iter().map(|l| l.to_string()).collect(),
        ..Default::default()
    };
    (router_app_with(&sdl, settings), products, pricing)
}

const PRICING_STOCK: &str = "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { stock } } }";

#[tokio::test]
async fn the_overriding_subgraph_resolves_the_field_and_the_original_is_not_asked() {
    let (app, products, pricing) = override_app(&[]).await;
    let query = "{ products { name currency sku } }";
    let (_, _, body) = post(&app, json!({ "query": query }), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "products": [{ "name": "Lamp", "currency": "EUR", "sku": "L-1" }] } })
    );
    assert_eq!(
        products.queries(),
        ["query { products { name __typename id } }"]
    );
    assert_eq!(
        pricing.queries(),
        ["query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { currency sku } } }"]
    );
    assert_eq!(
        pricing.requests()[0]["variables"]["representations"],
        json!([{ "__typename": "Product", "id": "p1" }])
    );
}

#[tokio::test]
async fn a_configured_label_moves_the_field_and_without_it_the_field_stays() {
    let query = json!({ "query": "{ products { name stock } }" });

    let (app, products, pricing) = override_app(&[]).await;
    let (_, _, body) = post(&app, query.clone(), &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "products": [{ "name": "Lamp", "stock": 5 }] } })
    );
    assert_eq!(products.queries(), ["query { products { name stock } }"]);
    assert_eq!(pricing.count(), 0);

    let (app, products, pricing) = override_app(&["beta-stock"]).await;
    let (_, _, body) = post(&app, query, &[]).await;
    assert_eq!(
        body,
        json!({ "data": { "products": [{ "name": "Lamp", "stock": 9 }] } })
    );
    assert_eq!(
        products.queries(),
        ["query { products { name __typename id } }"]
    );
    assert_eq!(pricing.queries(), [PRICING_STOCK]);
}

#[tokio::test]
async fn a_configured_percent_label_always_moves_the_field() {
    let (app, products, pricing) = override_app(&["percent(25)"]).await;
    for _ in 0..20 {
        let (_, _, body) = post(&app, json!({ "query": "{ products { price } }" }), &[]).await;
        assert_eq!(body, json!({ "data": { "products": [{ "price": 20 }] } }));
    }
    assert_eq!(
        products.queries(),
        vec!["query { products { __typename id } }"; 20]
    );
    assert_eq!(pricing.count(), 20);
}

#[tokio::test]
async fn a_percent_label_moves_the_field_for_a_share_of_requests() {
    let (app, products, pricing) = override_app(&[]).await;
    let mut from_pricing = 0;
    for _ in 0..400 {
        let (_, _, body) = post(&app, json!({ "query": "{ products { price } }" }), &[]).await;
        match body["data"]["products"][0]["price"].as_i64() {
            Some(20) => from_pricing += 1,
            Some(10) => {}
            _ => panic!("unexpected response {body}"),
        }
    }
    // 25% of 400 = 100; the bounds are more than 5 standard deviations wide.
    assert!((50..150).contains(&from_pricing), "{from_pricing} of 400");
    assert_eq!(pricing.count(), from_pricing);
    let queries = products.queries();
    assert_eq!(queries.len(), 400);
    let kept = queries
        .iter()
        .filter(|q| *q == "query { products { price } }")
        .count();
    assert_eq!(kept, 400 - from_pricing);
}
