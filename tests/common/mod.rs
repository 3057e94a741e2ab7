//! The whole platform in this process on free ports, for the end-to-end tests.
#![allow(dead_code)]

pub mod dashboard;
pub mod procs;

use kit::test_client::GqlClient;
use platform::{Platform, PlatformConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A running platform; stopped when dropped.
pub struct Stack {
    pub platform: Platform,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

/// A signed-up user.
pub struct User {
    pub id: String,
    pub token: String,
    /// A router client sending the user's token.
    pub client: GqlClient,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`Stack::start`] with `adjust` applied to the launcher's configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut PlatformConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = PlatformConfig::on_free_ports(dir.path());
        adjust(&mut config);
        let shutdown = CancellationToken::new();
        let platform = Platform::start(&config, shutdown.clone())
            .await
            .expect("start platform");
        Self {
            platform,
            shutdown,
            _dir: dir,
        }
    }

    /// The router's `/graphql` URL.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.platform.urls.router)
    }

    /// An anonymous router client.
    pub fn router(&self) -> GqlClient {
        GqlClient::new(self.graphql_url())
    }

    pub async fn sign_up(&self, name: &str) -> User {
        let data = self
            .router()
            .ok(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
                json!({"i": {"email": format!("{}@example.com", name.to_lowercase()), "password": "correct horse battery", "name": name}}),
            )
            .await;
        let id = data["signUp"]["user"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let token = data["signUp"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        User {
            id,
            client: self.router().with_token(token.clone()),
            token,
        }
    }

    /// A board named `name` created by `owner`, with `member` added.
    pub async fn board(&self, owner: &User, name: &str, member: &User) -> String {
        let board = owner
            .client
            .ok(
                "mutation($n: String!) { createBoard(input: {name: $n}) { id } }",
                json!({"n": name}),
            )
            .await["createBoard"]["id"]
            .as_str()
            .expect("board id")
            .to_owned();
        owner
            .client
            .ok(
                "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }",
                json!({"b": board, "u": member.id}),
            )
            .await;
        board
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Installs a Node project's pinned packages (`npm ci`) unless `node_modules/<probe>` is there.
pub fn ensure_node_modules(dir: &std::path::Path, probe: &str) {
    if dir.join("node_modules").join(probe).exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is installed (Node.js is part of the toolchain this repo needs)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}
