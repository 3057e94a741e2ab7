//! The plan cache: hits reuse the prepared operation, conditions and labels select plans,
//! capacity bounds the entries.

mod common;
use router::pipeline::{prepare, Caches};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn vars(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => panic!("object"),
    }
}

#[test]
fn identical_requests_reuse_the_cached_plan() {
    let sg = common::supergraph("demo");
    let caches = Caches::new(16);
    let q = "query($id: ID!) { user(id: $id) { name } }";
    let (a, _) = prepare(&sg, &caches, q, None, vars(json!({ "id": "1" }))).unwrap();
    let (b, _) = prepare(&sg, &caches, q, None, vars(json!({ "id": "2" }))).unwrap();
    assert!(
        Arc::ptr_eq(&a, &b),
        "variable values outside conditions share the plan"
    );
    assert_eq!(caches.plans.len(), 1);
}

#[test]
fn condition_values_select_different_plans() {
    let sg = common::supergraph("demo");
    let caches = Caches::new(16);
    let q = "query($r: Boolean!) { topProducts { name reviews @include(if: $r) { body } } }";
    let (with, _) = prepare(&sg, &caches, q, None, vars(json!({ "r": true }))).unwrap();
    let (without, _) = prepare(&sg, &caches, q, None, vars(json!({ "r": false }))).unwrap();
    assert!(with.plan.to_string().contains("reviews"));
    assert!(!without.plan.to_string().contains("reviews"));
    let (again, _) = prepare(&sg, &caches, q, None, vars(json!({ "r": true }))).unwrap();
    assert!(Arc::ptr_eq(&with, &again));
    assert_eq!(caches.plans.len(), 2);
}

#[test]
fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
    let sg = common::supergraph("demo");
    let caches = Caches::new(2);
    let queries = ["{ me { id } }", "{ me { name } }", "{ me { username } }"];
    let first = prepare(&sg, &caches, queries[0], None, Map::new())
        .unwrap()
        .0;
    for q in &queries[1..] {
        prepare(&sg, &caches, q, None, Map::new()).unwrap();
    }
    assert_eq!(caches.plans.len(), 2);
    let replanned = prepare(&sg, &caches, queries[0], None, Map::new())
        .unwrap()
        .0;
    assert!(
        !Arc::ptr_eq(&first, &replanned),
        "the oldest entry was evicted"
    );
}

#[test]
fn request_errors_are_not_cached() {
    let sg = common::supergraph("demo");
    let caches = Caches::new(4);
    assert!(prepare(&sg, &caches, "{ nope }", None, Map::new()).is_err());
    assert!(caches.documents.is_empty() && caches.plans.is_empty());
}

#[test]
fn differently_formatted_copies_of_an_operation_share_one_plan() {
    let sg = common::supergraph("demo");
    let caches = Caches::new(16);
    let (a, _) = prepare(&sg, &caches, "{ me { id name } }", None, Map::new()).unwrap();
    let spaced = "# a comment\nquery {\n  me {\n    id\n    name\n  }\n}\n";
    let (b, _) = prepare(&sg, &caches, spaced, None, Map::new()).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!((caches.documents.len(), caches.plans.len()), (2, 1));
}

/// Plans go to Redis as JSON (the fleet's second level): every kind of plan comes back
/// exactly as it was made, field for field.
#[test]
fn plans_round_trip_through_their_stored_form() {
    let cases = [
        (
            "demo",
            "{ topProducts { name reviews { body author { username } } } }",
        ),
        (
            "demo",
            "query($r: Boolean!) { me { id reviews @include(if: $r) { body } } }",
        ),
        (
            "context",
            "{ teams { posts { title } } users { name posts { id title } } }",
        ),
        (
            "requires",
            r#"{ products { insurance delivery(zip: "1") } }"#,
        ),
        ("abstract_types", "{ media { id title } }"),
        (
            "mutations",
            r#"mutation { a: signUp(name: "x") { id } postReview(body: "y") { body author { name } } }"#,
        ),
    ];
    for (fixture, query) in cases {
        let sg = common::supergraph(fixture);
        let variables = vars(json!({ "r": true }));
        let Ok(plan) = router::pipeline::plan_only(&sg, query, None, variables, &[]) else {
            panic!("{fixture}: {query} plans");
        };
        let stored = serde_json::to_vec(&plan).expect("serializes");
        let loaded: router::plan::QueryPlan = serde_json::from_slice(&stored).expect("loads");
        assert_eq!(
            format!("{loaded:?}"),
            format!("{plan:?}"),
            "{fixture}: {query}"
        );
    }
}
