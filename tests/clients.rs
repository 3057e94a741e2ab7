//! The client libraries frontends use, unchanged, against the router: Apollo Client (graphql-ws
//! link and multipart HTTP) and urql (graphql-ws exchange and fetch with SSE), run by Node from
//! `clients/compat` (dependencies pinned by its package-lock.json), plus the graphql-sse
//! reference client and the GraphQL-over-HTTP server audit (graphql-http).

use std::path::Path;

mod common;

use common::{ensure_node_modules, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_and_urql_subscribe_through_the_router_unchanged() {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/compat");
    ensure_node_modules(&compat, "graphql-http");

    let stack = Stack::start().await;
    let url = stack.graphql_url();
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let board = stack.board(&ada, "Compat", &bob).await;

    let output = tokio::process::Command::new("node")
        .arg("compat.mjs")
        .current_dir(&compat)
        .env("ROUTER_URL", &url)
        .env("SUBSCRIBER_TOKEN", &bob.token)
        .env("ACTOR_TOKEN", &ada.token)
        .env("ACTOR_NAME", "Ada")
        .env("BOARD_ID", &board)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    drop(stack);
    assert!(
        output.status.success(),
        "client compatibility failed:\n{stdout}\n{stderr}"
    );
    for client in [
        "apollo-client graphql-ws",
        "apollo-client multipart",
        "urql graphql-ws",
        "urql fetch (sse)",
        "graphql-sse",
    ] {
        assert!(
            stdout.contains(&format!("ok   {client}: ")),
            "{client} did not report success:\n{stdout}"
        );
    }
}

/// graphql-http's server audit, the GraphQL-over-HTTP spec's reference checks, against the
/// router with its edge on (CSRF prevention, limits, rate limits). With a preflight-forcing
/// header, as the platform's clients send, every audit passes, SHOULDs and MAYs included.
/// Without one, the only departures are MAY audits of GET requests: CSRF prevention refuses
/// a GET that a browser could send cross-site without a preflight (see router/README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_over_http_audit_passes_with_the_edge_on() {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/compat");
    ensure_node_modules(&compat, "graphql-http");
    let stack = Stack::start().await;
    let output = tokio::process::Command::new("node")
        .arg("audit.mjs")
        .current_dir(&compat)
        .env("ROUTER_URL", stack.graphql_url())
        .output()
        .await
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "audit failed to run:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the audit prints JSON");
    let departures = |run: &str| -> Vec<String> {
        let audits = report[run].as_array().expect("a list of audits");
        assert!(audits.len() > 50, "{run}: the whole audit ran");
        audits
            .iter()
            .filter(|a| a["status"] != "ok")
            .map(|a| format!("{} {} {}: {}", a["status"], a["id"], a["name"], a["reason"]))
            .collect()
    };
    let preflighted = departures("preflighted");
    assert!(preflighted.is_empty(), "{preflighted:#?}");
    let plain = departures("plain");
    assert!(!plain.is_empty(), "CSRF prevention refuses plain GETs");
    for departure in &plain {
        assert!(
            departure.starts_with("\"notice\"")
                && departure.contains("\"MAY ")
                && departure.contains("GET"),
            "only MAY audits of GET requests may differ: {departure}"
        );
    }
}
