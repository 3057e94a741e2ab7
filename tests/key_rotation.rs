//! Rotating accounts' signing key with live tokens, the README's procedure step by step:
//! publish the next key, sign with it while the previous one stays published, then drop the
//! previous one. Tokens keep working through the router exactly while their key is published.

use std::path::{Path, PathBuf};

use base64::Engine;
use kit::test_client::GqlClient;
use platform::{Platform, PlatformConfig};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const ME: &str = "{ me { name } }";

async fn start(
    dir: &Path,
    key: Option<PathBuf>,
    published: Vec<PathBuf>,
) -> (Platform, CancellationToken) {
    let config = PlatformConfig {
        jwt_key_file: key,
        jwt_verify_key_files: published,
        ..PlatformConfig::on_free_ports(dir)
    };
    let shutdown = CancellationToken::new();
    let platform = Platform::start(&config, shutdown.clone())
        .await
        .expect("platform starts");
    (platform, shutdown)
}

async fn stop(platform: Platform, shutdown: CancellationToken) {
    shutdown.cancel();
    platform.wait().await.expect("clean stop");
}

fn router(platform: &Platform) -> GqlClient {
    GqlClient::new(format!("{}/graphql", platform.urls.router))
}

/// The `kid` a token was signed with.
fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("JWT");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let header: Value = serde_json::from_slice(&header).expect("JSON");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn sign_in(platform: &Platform) -> String {
    let data = router(platform)
        .ok(
            "mutation { signIn(email: \"ada@example.com\", password: \"correct horse battery\") { accessToken } }",
            json!({}),
        )
        .await;
    data["signIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn me(platform: &Platform, token: &str) -> Value {
    router(platform).with_token(token).post(ME, json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tokens_survive_a_signing_key_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let current = dir.path().join("keys").join("jwt-ed25519.pem");
    let next = dir.path().join("keys").join("next.pem");

    let (platform, shutdown) = start(dir.path(), None, Vec::new()).await;
    let signed_up = router(&platform)
        .ok(
            "mutation { signUp(input: {email: \"ada@example.com\", password: \"correct horse battery\", name: \"Ada\"}) { accessToken } }",
            json!({}),
        )
        .await;
    let first = signed_up["signUp"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    stop(platform, shutdown).await;

    // 1. The next key is generated and published; the current one still signs.
    auth::TokenSigner::load_or_generate(&next, "platform-accounts", "platform").expect("next key");
    let (platform, shutdown) = start(dir.path(), None, vec![next.clone()]).await;
    assert_eq!(me(&platform, &first).await["data"]["me"]["name"], "Ada");
    assert_eq!(kid(&sign_in(&platform).await), kid(&first));
    stop(platform, shutdown).await;

    // 2. The next key signs; the previous one stays published, so live tokens still work.
    let (platform, shutdown) = start(dir.path(), Some(next.clone()), vec![current.clone()]).await;
    assert_eq!(me(&platform, &first).await["data"]["me"]["name"], "Ada");
    let rotated = sign_in(&platform).await;
    assert_ne!(kid(&rotated), kid(&first), "signed with the next key");
    assert_eq!(me(&platform, &rotated).await["data"]["me"]["name"], "Ada");
    stop(platform, shutdown).await;

    // 3. Once the previous key's tokens have expired, it is dropped: they are refused.
    let (platform, shutdown) = start(dir.path(), Some(next), Vec::new()).await;
    let refused = me(&platform, &first).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    assert_eq!(me(&platform, &rotated).await["data"]["me"]["name"], "Ada");
    stop(platform, shutdown).await;
}
