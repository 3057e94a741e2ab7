//! What the platform benchmarks share: knobs from the environment, and the platform binary
//! started on free loopback ports.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// `name` from the environment as a number, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Free ports for the router and the four subgraphs, in that order.
pub fn ports() -> anyhow::Result<Vec<u16>> {
    (0..5).map(|_| free_port()).collect()
}

/// The platform binary on `ports` with its data in `data_dir`: embedded store and events,
/// warnings only, stdout dropped. The caller adds to it and spawns it.
pub fn platform(data_dir: &Path, ports: &[u16]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_platform"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--router-port", &ports[0].to_string()])
        .args(["--accounts-port", &ports[1].to_string()])
        .args(["--boards-port", &ports[2].to_string()])
        .args(["--chat-port", &ports[3].to_string()])
        .args(["--notifications-port", &ports[4].to_string()])
        .env("RUST_LOG", "warn")
        .env_remove("MONGODB_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null());
    command
}

/// A GraphQL POST to `url`, with `token` as a Bearer token when given; the answer's body.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = http
        .post(url)
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?.json().await?)
}
