//! Shared helpers for the router's integration tests.
#![allow(dead_code)]

use router::supergraph::Supergraph;

/// Reads `tests/fixtures/<name>.graphql`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Parses a fixture supergraph.
pub fn supergraph(name: &str) -> Supergraph {
    Supergraph::parse(&fixture(name)).expect("fixture supergraph parses")
}

/// Plans `query` against fixture `name` and prints the plan.
pub fn plan(name: &str, query: &str) -> String {
    plan_with(name, query, serde_json::json!({}))
}

/// Like [`plan`], with variables.
pub fn plan_with(name: &str, query: &str, variables: serde_json::Value) -> String {
    let sg = supergraph(name);
    let serde_json::Value::Object(variables) = variables else {
        panic!("variables must be an object")
    };
    match router::pipeline::plan_only(&sg, query, None, variables) {
        Ok(plan) => plan.to_string(),
        Err(e) => format!("error[{}]: {e}", e.code()),
    }
}
