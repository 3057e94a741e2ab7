//! The client libraries frontends use, unchanged, against the router: Apollo Client (graphql-ws
//! link and multipart HTTP) and urql (graphql-ws exchange and fetch with SSE), run by Node from
//! `clients/compat` (dependencies pinned by its package-lock.json).

use std::path::Path;
use std::process::Command;

use kit::test_client::GqlClient;
use platform::{Platform, PlatformConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Installs the pinned packages when they are not there yet (`npm ci`).
fn ensure_node_modules(dir: &Path) {
    if dir.join("node_modules/@apollo/client").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is installed (Node.js is part of the toolchain this repo needs)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_and_urql_subscribe_through_the_router_unchanged() {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/compat");
    ensure_node_modules(&compat);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = PlatformConfig {
        router_port: 0,
        accounts_port: 0,
        boards_port: 0,
        chat_port: 0,
        notifications_port: 0,
        data_dir: dir.path().to_owned(),
        ..PlatformConfig::default()
    };
    let shutdown = CancellationToken::new();
    let platform = Platform::start(&config, shutdown.clone())
        .await
        .expect("start platform");
    let url = format!("{}/graphql", platform.urls.router);
    let router = GqlClient::new(url.clone());
    let sign_up = |name: &'static str| {
        let router = router.clone();
        async move {
            let data = router
                .ok(
                    "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
                    json!({"i": {"email": format!("{name}@example.com"), "password": "correct horse battery", "name": name}}),
                )
                .await;
            (
                data["signUp"]["user"]["id"].as_str().unwrap().to_owned(),
                data["signUp"]["accessToken"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_, ada_token) = sign_up("Ada").await;
    let (bob_id, bob_token) = sign_up("Bob").await;
    let ada = router.with_token(ada_token.clone());
    let board = ada
        .ok(
            "mutation { createBoard(input: {name: \"Compat\"}) { id } }",
            json!({}),
        )
        .await["createBoard"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ada.ok(
        "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }",
        json!({"b": board, "u": bob_id}),
    )
    .await;

    let output = tokio::process::Command::new("node")
        .arg("compat.mjs")
        .current_dir(&compat)
        .env("ROUTER_URL", &url)
        .env("SUBSCRIBER_TOKEN", &bob_token)
        .env("ACTOR_TOKEN", &ada_token)
        .env("BOARD_ID", &board)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    shutdown.cancel();
    assert!(
        output.status.success(),
        "client compatibility failed:\n{stdout}\n{stderr}"
    );
    for client in [
        "apollo-client graphql-ws",
        "apollo-client multipart",
        "urql graphql-ws",
        "urql fetch (sse)",
    ] {
        assert!(
            stdout.contains(&format!("ok   {client}: ")),
            "{client} did not report success:\n{stdout}"
        );
    }
    assert!(stdout.contains("\"name\":\"Ada\""), "{stdout}");
}
