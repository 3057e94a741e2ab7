//! Starting a subgraph's infrastructure: every subgraph waits for backing services that come
//! up after it (`Infra::connect_with_retry`) instead of failing at once.

use std::time::Duration;

use kit::config::ServiceConfig;
use kit::infra::Infra;
use kit::testing::{require_redis, unique_prefix};

#[tokio::test]
async fn a_service_waits_for_a_redis_that_comes_up_after_it() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    redis.stop();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServiceConfig {
        redis_url: Some(redis.url.clone()),
        redis_prefix: unique_prefix("infra"),
        data_dir: dir.path().to_owned(),
        ..ServiceConfig::default()
    };
    let plain = Infra::connect(&config, "infra-test").await;
    assert!(plain.is_err(), "without Redis one attempt fails");
    let connecting = tokio::spawn(async move {
        Infra::connect_with_retry(&config, "infra-test")
            .await
            .is_ok()
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !connecting.is_finished(),
        "still retrying while Redis is down"
    );
    redis.restart();
    let connected = tokio::time::timeout(Duration::from_secs(15), connecting).await;
    assert!(
        matches!(connected, Ok(Ok(true))),
        "connected once Redis came up: {connected:?}"
    );
}
