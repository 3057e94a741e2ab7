//! An accounts process killed between storing a new user and appending `UserRegistered` loses
//! nothing: the event was stored with the user, and the restarted process sends it, once.

use kit::test_client::GqlClient;
use kit::test_process::{Crash, ServiceProcess};
use serde_json::json;

#[tokio::test]
async fn an_event_survives_a_crash_between_the_write_and_the_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spawn = |fault: Option<&str>| {
        let env: Vec<_> = fault
            .map(|fault| (kit::testing::FAULT_ENV, fault))
            .into_iter()
            .collect();
        ServiceProcess::spawn(
            env!("CARGO_BIN_EXE_accounts"),
            "ACCOUNTS_",
            dir.path(),
            &env,
        )
    };
    let write = |url: String| async move {
        let sign_up = "mutation { signUp(input: {email: \"ada@example.com\", password: \"correct horse battery\", name: \"Ada Lovelace\"}) { accessToken } }";
        let _ = GqlClient::new(url).post(sign_up, json!({})).await;
    };
    let crash = Crash {
        data_dir: dir.path(),
        service: "accounts",
        collection: accounts::model::USERS,
        stream: accounts::service::EVENTS_STREAM,
    };
    let sent = crash.before_append(spawn, write).await;
    assert_eq!(sent.kind, "UserRegistered");
    assert_eq!(sent.payload["name"], "Ada Lovelace");
    assert_eq!(sent.actor, sent.payload["userId"].as_str().expect("id"));
}
