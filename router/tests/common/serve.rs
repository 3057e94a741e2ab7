//! One router served on a free port by `router::serve` (what `router serve` runs), its
//! supergraph composed from one mock subgraph, and JSON requests to it.

use super::subgraphs::mock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { hello: String user(id: ID!): User }
type User @key(fields: "id") { id: ID! name: String friends: [User] }
type Mutation { signIn(email: String!, password: String!): String }"#;

/// Serves `config` (its supergraph composed from one mock subgraph) on a free port.
pub async fn start(
    mut config: router::Config,
    dir: &std::path::Path,
) -> (String, CancellationToken) {
    let subgraph = mock(|_| json!({ "data": { "hello": "hi", "signIn": null } })).await;
    let inputs = [router::compose::SubgraphInput {
        name: "accounts".into(),
        url: subgraph.url.clone(),
        sdl: SDL.into(),
    }];
    let supergraph = router::compose::compose_text(&inputs).expect("composes");
    let path = dir.join(format!("supergraph-{}.graphql", rand_suffix()));
    std::fs::write(&path, supergraph).expect("write");
    config.supergraph = Some(path);
    serve(config).await
}

/// Serves `config` as it is on a free port: its `/graphql` URL, and what stops it.
pub async fn serve(config: router::Config) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(router::serve(config, listener, shutdown.clone()));
    (url, shutdown)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

pub async fn post(url: &str, body: Value) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("router answers");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.expect("json"))
}

pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The value of one series on the `/metrics` of the router at `graphql` (0 when absent).
pub async fn metric(graphql: &str, series: &str) -> f64 {
    let text = reqwest::get(graphql.replace("/graphql", "/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
