//! `[[subgraphs]]` in the router's config: composes from live subgraphs at start, recomposes
//! when a subgraph's SDL changes, and keeps the last good supergraph when a change does not
//! compose.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use parking_lot::Mutex;
use router::recompose::SubgraphSource;
use router::Config;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const LINK: &str =
    r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])"#;

/// A subgraph that only answers `{ _service { sdl } }`, with an SDL the test can change.
async fn sdl_server(sdl: Arc<Mutex<String>>) -> String {
    let app = axum::Router::new().route(
        "/graphql",
        post(move || {
            let sdl = sdl.lock().clone();
            async move { axum::Json(json!({"data": {"_service": {"sdl": sdl}}})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn query_fields(router: &str) -> Vec<String> {
    let body: Value = reqwest::Client::new()
        .post(router)
        .json(&json!({"query": "{ __type(name: \"Query\") { fields { name } } }"}))
        .send()
        .await
        .expect("router answers")
        .json()
        .await
        .expect("json");
    body["data"]["__type"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {body}"))
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn eventually(router: &str, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let fields = query_fields(router).await;
        if fields == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fields stayed {fields:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn recomposes_on_change_and_keeps_the_last_good_supergraph() {
    let sdl = Arc::new(Mutex::new(format!(
        "{LINK}\ntype Query {{ hello: String }}"
    )));
    let url = sdl_server(sdl.clone()).await;
    let config = Config {
        poll_interval: Duration::from_secs(1),
        startup_wait: Duration::from_secs(5),
        subgraphs: vec![SubgraphSource {
            name: "greetings".into(),
            url,
            sdl_file: None,
        }],
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(router::serve(config, listener, shutdown.clone()));
    eventually(&router, &["hello"]).await;

    *sdl.lock() = format!("{LINK}\ntype Query {{ hello: String world: Int }}");
    eventually(&router, &["hello", "world"]).await;

    // A change that does not compose is reported and ignored; the router keeps serving.
    *sdl.lock() = format!(
        "{LINK}\ntype Query {{ hello: String }} type Broken @key(fields: \"nope\") {{ id: ID }}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(query_fields(&router).await, ["hello", "world"]);

    shutdown.cancel();
    server.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn a_subgraph_that_never_answers_fails_the_start_clearly() {
    let config = Config {
        startup_wait: Duration::from_millis(300),
        subgraphs: vec![SubgraphSource {
            name: "gone".into(),
            url: "http://127.0.0.1:9/graphql".into(),
            sdl_file: None,
        }],
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = router::serve(config, listener, CancellationToken::new())
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("subgraph gone"), "{err}");
}

fn load(path: &std::path::Path) -> Result<Config, String> {
    router::config::load(Some(path), &Default::default(), Default::default())
        .map_err(|e| e.to_string())
}

#[test]
fn config_files_reject_unknown_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    std::fs::write(
        &path,
        "poll_interval = \"5s\"\n[[subgraphs]]\nname = \"a\"\nurl = \"http://a/graphql\"\n",
    )
    .expect("write");
    let config = load(&path).expect("valid");
    assert_eq!(config.subgraphs[0].name, "a");
    assert_eq!(config.listen.port(), 4000);
    std::fs::write(
        &path,
        "pol_interval = \"5s\"\n[[subgraphs]]\nname = \"a\"\nurl = \"http://a/graphql\"\n",
    )
    .expect("write");
    let err = load(&path).expect_err("typo accepted");
    assert!(err.contains("pol_interval"), "{err}");
}

#[test]
fn config_files_set_timeouts_and_override_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    let subgraph = "[[subgraphs]]\nname = \"a\"\nurl = \"http://a/graphql\"\n";
    std::fs::write(
        &path,
        format!("override_labels = [\"beta\"]\n{subgraph}[traffic]\nsubgraph_timeout = \"2s\"\n[traffic.subgraph_timeouts]\na = \"250ms\"\n"),
    )
    .expect("write");
    let execution = load(&path).expect("valid").execution();
    assert_eq!(execution.override_labels, ["beta"]);
    assert_eq!(execution.subgraph_timeout, Duration::from_secs(2));
    assert_eq!(execution.subgraph_timeouts["a"], Duration::from_millis(250));
    std::fs::write(
        &path,
        format!("{subgraph}[traffic.subgraph_timeouts]\na = \"soon\"\n"),
    )
    .expect("write");
    let err = load(&path).expect_err("bad duration accepted");
    assert!(err.contains("a:") && err.contains("\"soon\""), "{err}");
}

#[tokio::test]
async fn a_jwt_table_makes_the_router_verify_tokens() {
    let signer = auth::TokenSigner::ephemeral("issuer", "audience");
    let jwks = serde_json::to_value(signer.jwks()).expect("jwks");
    let keys = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    let keys_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url = format!(
        "http://{}/.well-known/jwks.json",
        keys_listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(keys_listener, keys).await });
    let url = sdl_server(Arc::new(Mutex::new(format!(
        "{LINK}\ntype Query {{ hello: String }}"
    ))))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    std::fs::write(
        &path,
        format!("[jwt]\njwks_url = \"{jwks_url}\"\nissuer = \"issuer\"\naudience = \"audience\"\n[[subgraphs]]\nname = \"greetings\"\nurl = \"{url}\"\n"),
    )
    .expect("write");
    let mut config = load(&path).expect("a [jwt] table is valid");
    config.startup_wait = Duration::from_secs(5);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(router::serve(config, listener, shutdown.clone()));
    eventually(&router, &["hello"]).await;
    let ask = |token: String| {
        let router = router.clone();
        async move {
            reqwest::Client::new()
                .post(&router)
                .bearer_auth(token)
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .expect("router answers")
        }
    };
    let forged = ask("not.a.token".into()).await;
    assert_eq!(forged.status(), 401);
    let body: Value = forged.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (token, _) = signer
        .sign("user-1", chrono::Duration::minutes(5))
        .expect("sign");
    let valid = ask(token).await;
    assert_eq!(valid.status(), 200);
    shutdown.cancel();
}
