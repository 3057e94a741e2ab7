//! A boards process killed between storing a board and appending its `BoardCreated` loses
//! nothing: the event was stored with the board, and the restarted process sends it, once.

mod common;

use auth::TokenSigner;
use common::{AUD, ISS};
use kit::test_client::GqlClient;
use kit::test_process::{serve_jwks, Crash, ServiceProcess};
use serde_json::json;

#[tokio::test]
async fn an_event_survives_a_crash_between_the_write_and_the_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = TokenSigner::ephemeral(ISS, AUD);
    let jwks_url = serve_jwks(&signer).await;
    let spawn = |fault: Option<&str>| {
        let mut env = vec![
            ("BOARDS_JWKS_URL", jwks_url.as_str()),
            ("BOARDS_JWT_ISSUER", ISS),
            ("BOARDS_JWT_AUDIENCE", AUD),
        ];
        env.extend(fault.map(|fault| (kit::testing::FAULT_ENV, fault)));
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_boards"), "BOARDS_", dir.path(), &env)
    };
    let (token, _) = signer
        .sign("ada", chrono::Duration::minutes(5))
        .expect("sign");
    let write = |url: String| async move {
        let ada = GqlClient::new(url).with_token(token);
        let create = "mutation { createBoard(input: {name: \"Survivor\"}) { id } }";
        let _ = ada.post(create, json!({})).await;
    };
    let crash = Crash {
        data_dir: dir.path(),
        service: "boards",
        collection: boards::model::BOARDS,
        stream: boards::events::STREAM,
    };
    let sent = crash.before_append(spawn, write).await;
    assert_eq!(sent.kind, "BoardCreated");
    assert_eq!(sent.payload["name"], "Survivor");
    assert_eq!(sent.actor, "ada");
}
