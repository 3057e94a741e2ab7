//! `/ready` reports the backing services: with Redis configured and stopped the service is not
//! ready (while still answering GraphQL from the store), and ready again once Redis is back.

use kit::config::ServiceConfig;
use kit::lifecycle::Subgraph as _;
use kit::test_client::GqlClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn readiness_follows_redis_while_graphql_keeps_answering() {
    let Some(mut redis) = kit::testing::require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServiceConfig {
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: kit::testing::unique_prefix("accounts_ready"),
        ..ServiceConfig::default()
    };
    let accounts = accounts::Accounts::start(&config).await.expect("start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(kit::server::serve(
        listener,
        accounts.app(shutdown.clone()),
        shutdown.clone(),
    ));
    let ready = || async {
        reqwest::get(format!("{base}/ready"))
            .await
            .expect("ready")
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);

    redis.stop();
    assert_eq!(ready().await, 503);
    let client = GqlClient::new(format!("{base}/graphql"));
    let data = client
        .ok(
            "mutation { signUp(input: {email: \"r@example.com\", password: \"long enough!\", name: \"R\"}) { user { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["signUp"]["user"]["name"], "R");

    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ready().await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready again after Redis came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    server.await.expect("task").expect("serve");
}
