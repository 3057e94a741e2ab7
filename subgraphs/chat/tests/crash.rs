//! A chat process killed between storing a message and appending its `MessagePosted` loses
//! nothing: the event was stored with the message, and the restarted process sends it, once.

use kit::test_client::GqlClient;
use kit::test_process::{serve_jwks, Crash, ServiceProcess};
use serde_json::json;

const ISSUER: &str = "test-accounts";
const AUDIENCE: &str = "test-platform";

#[tokio::test]
async fn an_event_survives_a_crash_between_the_write_and_the_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = auth::TokenSigner::ephemeral(ISSUER, AUDIENCE);
    let jwks_url = serve_jwks(&signer).await;
    let spawn = |fault: Option<&str>| {
        let mut env = vec![
            ("CHAT_JWKS_URL", jwks_url.as_str()),
            ("CHAT_JWT_ISSUER", ISSUER),
            ("CHAT_JWT_AUDIENCE", AUDIENCE),
        ];
        env.extend(fault.map(|fault| (kit::testing::FAULT_ENV, fault)));
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_chat"), "CHAT_", dir.path(), &env)
    };
    let (token, _) = signer
        .sign("ada", chrono::Duration::minutes(5))
        .expect("sign");
    let write = |url: String| async move {
        let ada = GqlClient::new(url).with_token(token);
        let room = ada
            .ok(
                "mutation { createChatRoom(name: \"Room\", memberIds: [\"bob\"]) { id } }",
                json!({}),
            )
            .await;
        let send = "mutation($room: ID!) { sendMessage(roomId: $room, body: \"hi @bob\") { id } }";
        let _ = ada
            .post(send, json!({"room": room["createChatRoom"]["id"]}))
            .await;
    };
    let crash = Crash {
        data_dir: dir.path(),
        service: "chat",
        collection: chat::model::MESSAGES,
        stream: chat::service::CHAT_STREAM,
    };
    let sent = crash.before_append(spawn, write).await;
    assert_eq!(sent.kind, "MessagePosted");
    assert_eq!(sent.payload["messageId"], sent.id.as_str());
    assert_eq!(sent.payload["mentionedUserIds"], json!(["bob"]));
}
