//! The one-process stack: starts, serves, and stops cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kit::test_client::GqlClient;
use platform::{Platform, PlatformConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn config(dir: &std::path::Path) -> PlatformConfig {
    PlatformConfig::on_free_ports(dir)
}

#[tokio::test]
async fn platform_serves_accounts_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shutdown = CancellationToken::new();
    let platform = Platform::start(&config(dir.path()), shutdown.clone())
        .await
        .expect("start");
    let client = GqlClient::new(format!("{}/graphql", platform.urls.accounts));
    let data = client
        .ok(
            "mutation { signUp(input: {email: \"ada@example.com\", password: \"correct horse\", name: \"Ada\"}) { accessToken user { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["signUp"]["user"]["name"], "Ada");
    // Notifications verifies accounts' tokens through the published JWKS.
    let token = data["signUp"]["accessToken"].as_str().expect("token");
    let inbox =
        GqlClient::new(format!("{}/graphql", platform.urls.notifications)).with_token(token);
    let data = inbox
        .ok("{ notifications { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(data["notifications"]["edges"], json!([]));
    assert!(
        dir.path().join("accounts.db").exists(),
        "embedded store lives in the data dir"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), platform.wait())
        .await
        .expect("stops promptly")
        .expect("stops cleanly");
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = config(dir.path());
    config.accounts_port = taken.local_addr().expect("addr").port();
    let err = Platform::start(&config, CancellationToken::new())
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("accounts: cannot listen"), "{err}");
}

#[test]
fn the_example_config_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("platform.example.toml");
    let parsed: PlatformConfig = kit::config::load(
        Some(&path),
        PlatformConfig::ENV_PREFIX,
        &[],
        &Default::default(),
        Default::default(),
    )
    .expect("example config parses");
    assert_eq!(
        parsed,
        PlatformConfig::default(),
        "the example documents the defaults"
    );
}

#[test]
fn the_binary_prints_urls_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_platform"))
        .args([
            "--router-port",
            "0",
            "--accounts-port",
            "0",
            "--boards-port",
            "0",
            "--chat-port",
            "0",
            "--notifications-port",
            "0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("MONGODB_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn platform");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut urls = Vec::new();
    while urls.len() < 5 {
        let line = lines
            .next()
            .expect("platform exited before printing URLs")
            .expect("read");
        if let Some((name, url)) = line.split_once(" http://") {
            urls.push((name.trim().to_owned(), format!("http://{url}")));
        }
    }
    // Every port flag is honoured: nothing listens on the default 4000–4004.
    for (name, url) in &urls {
        let port: u16 = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/graphql")
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {url}"));
        assert!(
            !(4000..=4004).contains(&port),
            "{name} ignored its port flag: {url}"
        );
    }
    let url = urls[0].1.clone();
    assert_eq!(urls[0].0, "router");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/graphql"),
        "{url}"
    );
    let health = url.replace("/graphql", "/health");
    let status = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async { reqwest::get(&health).await.map(|r| r.status().as_u16()) })
        .expect("health");
    assert_eq!(status, 200);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}
