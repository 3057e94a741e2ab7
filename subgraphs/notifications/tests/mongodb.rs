//! The notification flows on the MongoDB backend. They need `MONGODB_URL` (MongoDB 6/7): without
//! it they are reported as ignored, by name, never as passed; the test command runs them with
//! `--ignored` when the variable is set. `inbox.rs` runs the same flows on the embedded backend.

use kit::lifecycle::Subgraph as _;
use std::time::Duration;

use auth::{TokenSigner, TokenVerifier};
use kit::config::ServiceConfig;
use kit::events::DomainEvent;
use kit::test_client::GqlClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
#[ignore = "needs MONGODB_URL (MongoDB 6/7); the test command runs these with --ignored when it is set"]
async fn inbox_privacy_and_idempotency_on_mongodb() {
    let url = std::env::var("MONGODB_URL").expect("MONGODB_URL names a MongoDB 6/7 server");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServiceConfig {
        data_dir: dir.path().to_owned(),
        mongodb_url: Some(url),
        mongodb_database: format!("notifications_{}", uuid_suffix()),
        ..ServiceConfig::default()
    };
    let signer = TokenSigner::ephemeral("platform-accounts", "platform");
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), signer.issuer(), signer.audience());
    let notifications = notifications::Notifications::start(&config, verifier)
        .await
        .expect("start")
        .with_reclaim_idle(Duration::from_secs(1));
    assert_eq!(notifications.infra.store.backend_name(), "mongodb");
    let shutdown = CancellationToken::new();
    kit::lifecycle::start_background(&notifications, &shutdown);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(kit::server::serve(
        listener,
        notifications.app(shutdown.clone()),
        shutdown.clone(),
    ));
    let client = |user: &str| {
        let (token, _) = signer
            .sign(user, chrono::Duration::minutes(5))
            .expect("sign");
        GqlClient::new(base.clone()).with_token(token)
    };

    let assigned = |task: &str| {
        DomainEvent::new(
            "TaskAssigned",
            "ada",
            json!({"boardId": "b", "taskId": task, "taskTitle": task, "assigneeId": "bob"}),
        )
    };
    let twice = assigned("t1");
    for event in [&twice, &twice, &assigned("t2")] {
        notifications
            .infra
            .events
            .append("boards", event)
            .await
            .expect("append");
    }
    let bob = client("bob");
    let query = "{ notifications { edges { node { id text } } } }";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let edges = loop {
        let data = bob.ok(query, json!({})).await;
        let edges = data["notifications"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if edges.len() >= 2 {
            break edges;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "notifications did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        bob.ok(query, json!({})).await["notifications"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "redelivery doubled a notification"
    );
    let id = edges[0]["node"]["id"].clone();
    let mark = "mutation($id: ID!) { markNotificationRead(id: $id) { read } }";
    assert_eq!(
        client("carol").error_code(mark, json!({"id": id})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        bob.ok(mark, json!({"id": id})).await["markNotificationRead"]["read"],
        true
    );
    assert_eq!(
        bob.ok("mutation { markAllNotificationsRead }", json!({}))
            .await["markAllNotificationsRead"],
        1
    );
    shutdown.cancel();
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}
