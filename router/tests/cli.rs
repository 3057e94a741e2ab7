//! The `router` binary: `router plan` prints the plan; `router serve` applies its flags; bad
//! input fails with a message.

mod common;

use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn router() -> Command {
    Command::new(env!("CARGO_BIN_EXE_router"))
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn plan_prints_the_query_plan() {
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            "{ me { name } }",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap(), @r#"
        QueryPlan {
          Fetch(service: "accounts") {
            query { me { name } }
          },
        }
    "#);
}

#[test]
fn plan_reads_the_query_from_a_file_and_honours_variables() {
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("q.graphql");
    std::fs::write(
        &query,
        "query($x: Boolean!) { me { name @include(if: $x) id } }",
    )
    .unwrap();
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            query.to_str().unwrap(),
            "--variables",
            r#"{"x": false}"#,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("query { me { id } }"));
}

#[test]
fn invalid_operation_fails_with_the_validation_error() {
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            "{ nope }",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}

/// A `router serve` child process, killed when the test ends.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{base}/health")).await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("router serve did not become healthy at {base}");
}

#[tokio::test]
async fn serve_gives_a_subgraph_its_own_timeout() {
    let demo = common::Demo::start().await;
    // Both answer in 300 ms: within the default, beyond inventory's own timeout.
    demo.products.delay_ms.store(300, Ordering::SeqCst);
    demo.inventory.delay_ms.store(300, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let supergraph = dir.path().join("supergraph.graphql");
    std::fs::write(&supergraph, demo.supergraph()).unwrap();
    let port = free_port();
    let _router = Serving(
        router()
            .args(["serve", "--supergraph", supergraph.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--subgraph-timeout",
                "5s",
                "--subgraph-timeout",
                "inventory=100ms",
            ])
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({ "query": "{ topProducts(first: 1) { name inStock } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"],
        serde_json::json!({ "topProducts": [{ "name": "Table", "inStock": null }] })
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["extensions"]["code"], "SUBREQUEST_TIMEOUT");
    assert_eq!(errors[0]["extensions"]["serviceName"], "inventory");
}

#[test]
fn serve_rejects_a_bad_subgraph_timeout_clearly() {
    for (value, expected) in [
        ("inventory=fast", "invalid duration \"fast\""),
        ("=2s", "the subgraph name is empty"),
        ("0ms", "longer than 0"),
    ] {
        let output = router()
            .args([
                "serve",
                "--supergraph",
                &fixture("demo"),
                "--subgraph-timeout",
                value,
            ])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{value} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--subgraph-timeout") && stderr.contains(expected),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn serve_config_honours_listen_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = dir.path().join("greetings.graphql");
    std::fs::write(
        &sdl,
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\ntype Query { hello: String }\n",
    )
    .unwrap();
    // The file names port 1; the flag wins.
    let config = dir.path().join("router.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:1\"\n[[subgraphs]]\nname = \"greetings\"\nurl = \"http://127.0.0.1:1/graphql\"\nsdl_file = \"{}\"\n",
            sdl.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut serving = Serving(
        router()
            .args(["serve", "--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    let killed = Command::new("kill")
        .args(["-TERM", &serving.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = serving.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}
