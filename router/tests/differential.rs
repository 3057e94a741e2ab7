//! Differential tests against the reference implementation: for each case under
//! `tests/differential/fixtures/` (its subgraphs are the Apollo-equivalence fixture of the
//! same name, `tests/fixtures/apollo-compose/<case>/`), Apollo Gateway (`@apollo/gateway`, which plans with
//! `@apollo/query-planner`) and our router serve the same supergraph (composed by Apollo's
//! composition) over the same running subgraphs (`@apollo/subgraph`, deterministic data from
//! `values.mjs`), and every operation gets the same answer from both: the same `data`, in
//! the same order, errors in both or in neither, and values nulled for clients
//! (`extensions.valueCompletion`) in both or in neither.
//!
//! The corpus is the case's `operations.graphql` (named operations; variables per operation in
//! `variables.json`) plus operations generated from the API schema (`generate.rs`). A
//! divergence fails the test unless the case's `known.json` names the operation with the
//! reason (an Apollo bug, with the spec text); a known entry that stops diverging fails too.
//!
//! Where the reference itself is wrong (`requires_args`), the expected answer is computed
//! from the fixture subgraphs directly instead.

mod common;
#[path = "differential/generate.rs"]
mod generate;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const GENERATED_PER_CASE: usize = 150;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// Installs the pinned packages when they are not there yet (`npm ci`).
fn ensure_node_modules(dir: &Path) {
    if dir.join("node_modules/@apollo/gateway").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("npm is installed (Node.js is part of the toolchain this repo needs)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// The reference side of one case, running (`harness.mjs`); stops when dropped.
struct Reference {
    _child: tokio::process::Child,
    gateway: String,
    supergraph: String,
    subgraphs: Value,
}

async fn reference(case: &Path) -> Reference {
    let mut child = tokio::process::Command::new("node")
        .arg("harness.mjs")
        .arg(case)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the reference starts within 60 s")
    .expect("reads the reference's first line");
    let ready: Value = serde_json::from_str(&line)
        .unwrap_or_else(|_| panic!("{}: the reference did not start", case.display()));
    Reference {
        _child: child,
        gateway: ready["gateway"].as_str().unwrap().to_owned(),
        supergraph: ready["supergraph"].as_str().unwrap().to_owned(),
        subgraphs: ready["subgraphs"].clone(),
    }
}

struct Case {
    name: String,
    query: String,
    operation: Option<String>,
    variables: Value,
}

/// The hand-written operations of a case, one request per named operation.
fn written(dir: &Path) -> Vec<Case> {
    let Ok(text) = std::fs::read_to_string(dir.join("operations.graphql")) else {
        return Vec::new();
    };
    let variables: Value = std::fs::read_to_string(dir.join("variables.json"))
        .map(|t| serde_json::from_str(&t).expect("variables.json parses"))
        .unwrap_or(json!({}));
    let document = apollo_compiler::ast::Document::parse(&text, "operations.graphql")
        .expect("operations.graphql parses");
    document
        .definitions
        .iter()
        .filter_map(|d| d.as_operation_definition())
        .map(|op| {
            let name = op.name.as_ref().expect("operations are named").to_string();
            Case {
                variables: variables.get(&name).cloned().unwrap_or(json!({})),
                name: name.clone(),
                query: text.clone(),
                operation: Some(name),
            }
        })
        .collect()
}

fn generated(supergraph: &str, seed: u64) -> Vec<Case> {
    let sg = router::supergraph::Supergraph::parse(supergraph).expect("supergraph parses");
    generate::operations(&sg.api_schema, seed, GENERATED_PER_CASE)
        .into_iter()
        .enumerate()
        .map(|(i, g)| Case {
            name: format!("generated-{seed}-{i}"),
            query: g.query,
            operation: None,
            variables: g.variables,
        })
        .collect()
}

/// How the two answers differ, if they do.
fn divergence(ours: &Value, theirs: &Value) -> Option<&'static str> {
    if ours["data"] != theirs["data"] {
        return Some("data");
    }
    // Map equality ignores key order; the printed form does not.
    let printed = |v: &Value| serde_json::to_string(&v["data"]).unwrap();
    if printed(ours) != printed(theirs) {
        return Some("field order");
    }
    let has_errors = |v: &Value| v.get("errors").is_some_and(|e| !e.is_null());
    if has_errors(ours) != has_errors(theirs) {
        return Some("errors");
    }
    let nulled = |v: &Value| v.pointer("/extensions/valueCompletion").is_some();
    if nulled(ours) != nulled(theirs) {
        return Some("extensions.valueCompletion");
    }
    None
}

async fn run_case(dir: &Path, client: &reqwest::Client) -> Vec<String> {
    let case = dir.file_name().unwrap().to_string_lossy().to_string();
    let reference = reference(dir).await;
    // Federation semantics only: the gateway has no operation limits or demand control.
    let settings = router::ExecutionSettings {
        subgraph_timeout: Duration::from_secs(10),
        demand_control: router::edge::cost::DemandControlConfig {
            enabled: false,
            ..Default::default()
        },
        limits: router::edge::limits::LimitsConfig {
            max_aliases: 1000,
            max_height: 10_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let app = common::router_app_with(&reference.supergraph, settings);
    let known: Value = std::fs::read_to_string(dir.join("known.json"))
        .map(|t| serde_json::from_str(&t).expect("known.json parses"))
        .unwrap_or(json!({}));
    let mut corpus = written(dir);
    // DIFFERENTIAL_SEED explores other generated operations (known.json names the default's).
    let seed = std::env::var("DIFFERENTIAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    corpus.extend(generated(&reference.supergraph, seed));
    let mut failures = Vec::new();
    let mut seen_known = Vec::new();
    let mut with_errors = 0;
    for op in &corpus {
        let body =
            json!({"query": op.query, "operationName": op.operation, "variables": op.variables});
        let (_, _, ours) = common::post(&app, body.clone(), &[]).await;
        let theirs: Value = client
            .post(&reference.gateway)
            .json(&body)
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("the gateway answers JSON");
        with_errors += usize::from(theirs.get("errors").is_some());
        let Some(how) = divergence(&ours, &theirs) else {
            continue;
        };
        if known.get(&op.name).is_some() {
            seen_known.push(op.name.clone());
            continue;
        }
        failures.push(format!(
            "{case}/{} ({how} differs)\n  operation: {}\n  variables: {}\n  ours:      {ours}\n  reference: {theirs}",
            op.name,
            if op.operation.is_some() { op.name.as_str() } else { op.query.as_str() },
            op.variables,
        ));
    }
    for name in known.as_object().into_iter().flat_map(|m| m.keys()) {
        if !seen_known.contains(name) {
            failures.push(format!(
                "{case}/{name}: listed in known.json but no longer diverges"
            ));
        }
    }
    eprintln!(
        "{case}: {} operations ({with_errors} with errors from the reference), {} divergences",
        corpus.len(),
        failures.len()
    );
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_answered_as_apollo_gateway_answers_it() {
    ensure_node_modules(&root());
    let client = reqwest::Client::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures exist")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    if let Ok(only) = std::env::var("DIFFERENTIAL_CASE") {
        cases.retain(|p| p.ends_with(&only));
    }
    let mut failures = Vec::new();
    for case in &cases {
        failures.extend(run_case(case, &client).await);
    }
    assert!(
        failures.is_empty(),
        "{} divergences from Apollo Gateway:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

async fn post_json(client: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = client.post(url).json(&body).send().await.expect("answers");
    response.json().await.expect("answers JSON")
}

/// `usd` requires `price(currency: "USD")` and `eur` requires `price(currency: "EUR")`:
/// each must be computed from its own price. Apollo Gateway fetches one of the two and
/// sends it for both (or fails the subgraph query when the client also selects `price`),
/// so the expected values come from asking the subgraphs themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_requiring_one_field_with_different_arguments_get_their_own_values() {
    ensure_node_modules(&root());
    let client = reqwest::Client::new();
    let reference = reference(Path::new("requires_args")).await;
    let prices = reference.subgraphs["prices"].as_str().unwrap();
    let labels = reference.subgraphs["labels"].as_str().unwrap();
    let query = r#"{ products { id usd: price(currency: "USD") eur: price(currency: "EUR") } }"#;
    let truth = post_json(&client, prices, json!({ "query": query })).await;
    let mut expected = Vec::new();
    for product in truth["data"]["products"].as_array().unwrap() {
        let mut labelled = json!({ "id": product["id"] });
        for currency in ["usd", "eur"] {
            let representation =
                json!({"__typename": "Product", "id": product["id"], "price": product[currency]});
            let body = json!({
                "query": format!("query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on Product {{ {currency} }} }} }}"),
                "variables": { "r": [representation] },
            });
            let answer = post_json(&client, labels, body).await;
            labelled[currency] = answer["data"]["_entities"][0][currency].clone();
        }
        labelled["price"] = product["eur"].clone();
        expected.push(labelled);
    }
    assert!(expected.len() > 1, "the fixture returns products: {truth}");

    let app = common::router_app(&reference.supergraph, Duration::from_secs(10));
    let both = json!({"query": "{ products { id usd eur } }"});
    let (_, _, ours) = common::post(&app, both, &[]).await;
    let without_price: Vec<Value> = expected
        .iter()
        .map(|p| json!({"id": p["id"], "usd": p["usd"], "eur": p["eur"]}))
        .collect();
    assert_eq!(ours, json!({ "data": { "products": without_price } }));

    // The client's own `price` with other arguments is a third, separate value.
    let with_price = json!({"query": r#"{ products { id usd eur price(currency: "EUR") } }"#});
    let (_, _, ours) = common::post(&app, with_price, &[]).await;
    assert_eq!(ours, json!({ "data": { "products": expected } }));
}
