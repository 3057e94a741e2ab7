//! Every accounts operation through real HTTP, including the ways a client can get it wrong.

use kit::lifecycle::Subgraph as _;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use kit::config::ServiceConfig;
use kit::metrics::Metrics;
use kit::test_client::GqlClient;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Server {
    base: String,
    client: GqlClient,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(data_dir: &Path) -> Self {
        let config = ServiceConfig {
            data_dir: data_dir.to_owned(),
            ..ServiceConfig::default()
        };
        let accounts = accounts::Accounts::start(&config)
            .await
            .expect("start accounts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let app = accounts.app(shutdown.clone());
        let handle = tokio::spawn(kit_serve(listener, app, shutdown.clone()));
        Self {
            client: GqlClient::new(format!("{base}/graphql")),
            base,
            metrics: accounts.infra.metrics.clone(),
            shutdown,
            handle,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("server task");
    }
}

async fn kit_serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: CancellationToken,
) {
    kit::server::serve(listener, app, shutdown)
        .await
        .expect("serve");
}

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken expiresAt user { id name email createdAt } } }";
const SIGN_IN: &str = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken refreshToken user { id email } } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { id email } } }";
const ME: &str = "{ me { id name email avatarUrl } }";

async fn sign_up(client: &GqlClient, email: &str, name: &str) -> Value {
    let data = client
        .ok(
            SIGN_UP,
            json!({"input": {"email": email, "password": "correct horse battery", "name": name}}),
        )
        .await;
    data["signUp"].clone()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

#[tokio::test]
async fn sign_up_returns_a_session_and_me_sees_own_email_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "  Ada@Example.com ", " Ada Lovelace ").await;
    assert_eq!(ada["user"]["name"], "Ada Lovelace");
    assert_eq!(
        ada["user"]["email"], "ada@example.com",
        "the signed-up user sees their own email in the payload"
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(ada["expiresAt"].as_str().expect("expiresAt"))
            .expect("rfc3339");
    let ttl = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (14 * 60..=15 * 60).contains(&ttl),
        "access token ttl {ttl}s"
    );

    let as_ada = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"));
    let me = as_ada.ok(ME, json!({})).await;
    assert_eq!(me["me"]["email"], "ada@example.com");
    assert_eq!(me["me"]["id"], ada["user"]["id"]);

    let bob = sign_up(&server.client, "bob@example.com", "Bob").await;
    let as_bob = server
        .client
        .with_token(bob["accessToken"].as_str().expect("token"));
    let seen = as_bob
        .ok(
            "query($id: ID!) { user(id: $id) { name email } }",
            json!({"id": ada["user"]["id"]}),
        )
        .await;
    assert_eq!(seen["user"], json!({"name": "Ada Lovelace", "email": null}));

    let anonymous = server.client.ok(ME, json!({})).await;
    assert_eq!(anonymous["me"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn sign_up_rejects_bad_input_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "long enough pw", "name": "A"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "name": "A"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "long enough pw", "name": "   "}),
            "name",
        ),
    ];
    for (input, field) in cases {
        let body = server.client.post(SIGN_UP, json!({ "input": input })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert_eq!(body["data"], Value::Null);
    }
    server.stop().await;
}

#[tokio::test]
async fn duplicate_emails_are_refused_case_insensitively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    sign_up(&server.client, "dup@example.com", "First").await;
    let body = server
        .client
        .post(SIGN_UP, json!({"input": {"email": "DUP@example.com ", "password": "another password", "name": "Second"}}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(
        !message.contains("First"),
        "leaks the existing account: {message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn sign_in_checks_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let ok = server
        .client
        .ok(
            SIGN_IN,
            json!({"e": "ADA@example.com", "p": "correct horse battery"}),
        )
        .await;
    assert_eq!(ok["signIn"]["user"]["id"], ada["user"]["id"]);
    assert_eq!(ok["signIn"]["user"]["email"], "ada@example.com");

    let wrong = server
        .client
        .post(
            SIGN_IN,
            json!({"e": "ada@example.com", "p": "wrong password!"}),
        )
        .await;
    let unknown = server
        .client
        .post(
            SIGN_IN,
            json!({"e": "nobody@example.com", "p": "wrong password!"}),
        )
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"], unknown["errors"][0]["message"],
        "reveals which emails exist"
    );
    server.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let first = ada["refreshToken"].as_str().expect("refresh").to_owned();

    let rotated = server.client.ok(REFRESH, json!({"t": first})).await["refreshSession"].clone();
    let second = rotated["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(rotated["user"]["id"], ada["user"]["id"]);
    assert_eq!(rotated["user"]["email"], "ada@example.com");
    let me = server
        .client
        .with_token(rotated["accessToken"].as_str().expect("access"))
        .ok(ME, json!({}))
        .await;
    assert_eq!(me["me"]["id"], ada["user"]["id"]);

    // Replaying the first token is reuse: refused, and the newer token dies with it.
    let replay = server.client.post(REFRESH, json!({"t": first})).await;
    assert_eq!(code(&replay), "UNAUTHENTICATED");
    let after = server.client.post(REFRESH, json!({"t": second})).await;
    assert_eq!(
        code(&after),
        "UNAUTHENTICATED",
        "family was not revoked: {after}"
    );

    // Another sign-in is another family and unaffected.
    let again = server
        .client
        .ok(
            SIGN_IN,
            json!({"e": "ada@example.com", "p": "correct horse battery"}),
        )
        .await;
    let token = again["signIn"]["refreshToken"].as_str().expect("refresh");
    server.client.ok(REFRESH, json!({"t": token})).await;

    let garbage = server.client.post(REFRESH, json!({"t": "garbage"})).await;
    assert_eq!(code(&garbage), "UNAUTHENTICATED");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_yield_one_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let token = ada["refreshToken"].as_str().expect("refresh").to_owned();
    let attempts = (0..8).map(|_| {
        let client = server.client.clone();
        let token = token.clone();
        tokio::spawn(async move { client.post(REFRESH, json!({"t": token})).await })
    });
    let results = futures::future::join_all(attempts).await;
    let successes = results
        .iter()
        .filter(|r| r.as_ref().expect("task")["errors"].is_null())
        .count();
    assert_eq!(successes, 1);
    server.stop().await;
}

#[tokio::test]
async fn sign_out_revokes_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let token = ada["refreshToken"].as_str().expect("refresh");
    let out = "mutation($t: String!) { signOut(refreshToken: $t) }";
    assert_eq!(
        server.client.ok(out, json!({"t": token})).await["signOut"],
        true
    );
    assert_eq!(
        server.client.ok(out, json!({"t": token})).await["signOut"],
        false
    );
    assert_eq!(
        server.client.ok(out, json!({"t": "unknown"})).await["signOut"],
        false
    );
    let refresh = server.client.post(REFRESH, json!({"t": token})).await;
    assert_eq!(code(&refresh), "UNAUTHENTICATED");

    // Signing out with a token already exchanged revokes its session: true, and the newer
    // token is dead too.
    let bob = sign_up(&server.client, "bob@example.com", "Bob").await;
    let first = bob["refreshToken"].as_str().expect("refresh");
    let rotated = server.client.ok(REFRESH, json!({"t": first})).await;
    let second = rotated["refreshSession"]["refreshToken"]
        .as_str()
        .expect("rotated");
    assert_eq!(
        server.client.ok(out, json!({"t": first})).await["signOut"],
        true
    );
    let refresh = server.client.post(REFRESH, json!({"t": second})).await;
    assert_eq!(code(&refresh), "UNAUTHENTICATED");
    server.stop().await;
}

#[tokio::test]
async fn update_profile_needs_a_user_and_valid_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let update =
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { name avatarUrl email } }";
    let anonymous = server
        .client
        .post(update, json!({"i": {"name": "X"}}))
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let as_ada = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"));
    let updated = as_ada
        .ok(
            update,
            json!({"i": {"name": "  Countess  ", "avatarUrl": "https://img.example.com/ada.png"}}),
        )
        .await;
    assert_eq!(
        updated["updateProfile"],
        json!({"name": "Countess", "avatarUrl": "https://img.example.com/ada.png", "email": "ada@example.com"})
    );
    let cleared = as_ada.ok(update, json!({"i": {"avatarUrl": ""}})).await;
    assert_eq!(cleared["updateProfile"]["avatarUrl"], Value::Null);
    assert_eq!(cleared["updateProfile"]["name"], "Countess");
    let bad = as_ada
        .post(update, json!({"i": {"avatarUrl": "javascript:alert(1)"}}))
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let empty = as_ada.post(update, json!({"i": {"name": ""}})).await;
    assert_eq!(code(&empty), "BAD_USER_INPUT");
    server.stop().await;
}

#[tokio::test]
async fn search_users_by_name_or_email_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada Lovelace").await;
    sign_up(&server.client, "grace@navy.mil", "Grace Hopper").await;
    sign_up(&server.client, "alan@example.com", "Alan Turing").await;
    let search = "query($q: String!, $n: Int) { searchUsers(query: $q, first: $n) { name } }";
    let as_ada = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"));
    let names = |data: Value| -> Vec<String> {
        data["searchUsers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["name"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(
        names(as_ada.ok(search, json!({"q": "a"})).await),
        ["Ada Lovelace", "Alan Turing"]
    );
    assert_eq!(
        names(as_ada.ok(search, json!({"q": "GRACE@"})).await),
        ["Grace Hopper"]
    );
    assert_eq!(
        names(as_ada.ok(search, json!({"q": "a", "n": 1})).await),
        ["Ada Lovelace"]
    );
    assert!(names(as_ada.ok(search, json!({"q": "zzz"})).await).is_empty());
    let anonymous = server.client.post(search, json!({"q": "a"})).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    server.stop().await;
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let user_id = ada["user"]["id"].as_str().expect("id");
    let config = ServiceConfig::default();
    let real = auth::TokenSigner::load_or_generate(
        &dir.path().join("keys/jwt-ed25519.pem"),
        &config.jwt_issuer,
        &config.jwt_audience,
    )
    .expect("key");
    let (expired, _) = real
        .sign(user_id, chrono::Duration::minutes(-10))
        .expect("sign");
    let (foreign, _) = auth::TokenSigner::ephemeral(&config.jwt_issuer, &config.jwt_audience)
        .sign(user_id, chrono::Duration::minutes(10))
        .expect("sign");
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = b64(json!({"sub": user_id, "iss": config.jwt_issuer, "aud": config.jwt_audience, "exp": exp, "iat": 0, "jti": "x"}).to_string().as_bytes());
    let none = format!(
        "{}.{claims}.",
        b64(json!({"alg": "none", "kid": real.kid()})
            .to_string()
            .as_bytes())
    );
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(real.kid().to_owned());
    let public = real.jwks().keys[0].x.clone();
    let hmac = jsonwebtoken::encode(
        &hs_header,
        &json!({"sub": user_id, "iss": config.jwt_issuer, "aud": config.jwt_audience, "exp": exp, "iat": 0, "jti": "x"}),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("encode");
    let update = "mutation { updateProfile(input: {name: \"Mallory\"}) { name } }";
    for (label, token) in [
        ("expired", expired),
        ("foreign key", foreign),
        ("alg none", none),
        ("hmac", hmac),
        ("garbage", "garbage".to_owned()),
    ] {
        let as_forger = server.client.with_token(token);
        let me = as_forger.post(ME, json!({})).await;
        assert_eq!(me["data"]["me"], Value::Null, "{label}: {me}");
        assert_eq!(code(&me), "UNAUTHENTICATED", "{label}: {me}");
        let body = as_forger.post(update, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{label}: {body}");
    }
    let me = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"))
        .ok(ME, json!({}))
        .await;
    assert_eq!(me["me"]["name"], "Ada", "profile changed by a forged token");
    server.stop().await;
}

/// `platform_store_call_duration_seconds_count` for one operation, from `/metrics`.
fn store_calls(metrics: &Metrics, op: &str) -> u64 {
    let needle = format!("op=\"{op}\"");
    metrics
        .render()
        .lines()
        .filter(|l| {
            l.starts_with("platform_store_call_duration_seconds_count") && l.contains(&needle)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn entities_are_loaded_in_one_store_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            sign_up(
                &server.client,
                &format!("u{i}@example.com"),
                &format!("User {i}"),
            )
            .await["user"]["id"]
                .clone(),
        );
    }
    let reps: Vec<Value> = ids
        .iter()
        .chain(std::iter::once(&json!("no-such-user")))
        .map(|id| json!({"__typename": "User", "id": id}))
        .collect();
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } } }";
    let before = store_calls(&server.metrics, "find");
    let data = server.client.ok(query, json!({"r": reps})).await;
    assert_eq!(
        store_calls(&server.metrics, "find") - before,
        1,
        "one query for all representations"
    );
    let entities = data["_entities"].as_array().expect("list");
    assert_eq!(entities.len(), 4);
    assert_eq!(entities[1], json!({"id": ids[1], "name": "User 1"}));
    assert_eq!(entities[3], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn http_surface_health_ready_metrics_jwks_and_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();
    assert_eq!(get("/health").await.expect("health").status(), 200);
    assert_eq!(get("/ready").await.expect("ready").status(), 200);
    let jwks: Value = get("/.well-known/jwks.json")
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(jwks["keys"][0].get("d").is_none(), "private key exposed");

    let response = get("/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D")
        .await
        .expect("get");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({"data": {"me": null}}));

    let mutation = get("/graphql?query=mutation%20%7B%20signOut(refreshToken%3A%20%22x%22)%20%7D")
        .await
        .expect("get");
    assert_eq!(mutation.status(), 405);

    let bad = server.client.post("{ me { nope } }", json!({})).await;
    assert_eq!(code(&bad), "GRAPHQL_VALIDATION_FAILED");
    let unparsable = server.client.post("{ me { ", json!({})).await;
    assert_eq!(code(&unparsable), "GRAPHQL_PARSE_FAILED");

    let text = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("platform_graphql_requests_total"), "{text}");
    assert!(
        text.contains("code=\"GRAPHQL_VALIDATION_FAILED\""),
        "{text}"
    );
    assert!(
        text.contains("platform_graphql_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("platform_store_call_duration_seconds_count"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn data_and_keys_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    server.stop().await;

    let server = Server::start(dir.path()).await;
    let me = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"))
        .ok(ME, json!({}))
        .await;
    assert_eq!(
        me["me"]["name"], "Ada",
        "old access token must still verify after restart"
    );
    server
        .client
        .ok(
            SIGN_IN,
            json!({"e": "ada@example.com", "p": "correct horse battery"}),
        )
        .await;
    server.stop().await;
}

async fn ws_connect(
    base: &str,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/graphql", base.replace("http", "ws"))
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().expect("header"));
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

#[tokio::test]
async fn websocket_init_verifies_the_token() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let token = ada["accessToken"].as_str().expect("token");

    for (protocol, ack) in [
        ("graphql-transport-ws", "connection_ack"),
        ("graphql-ws", "connection_ack"),
    ] {
        let mut socket = ws_connect(&server.base, protocol).await;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("send");
        let reply = socket.next().await.expect("reply").expect("message");
        let reply: Value = serde_json::from_str(reply.to_text().expect("text")).expect("json");
        assert_eq!(reply["type"], ack, "{protocol}: {reply}");
    }

    let mut socket = ws_connect(&server.base, "graphql-transport-ws").await;
    let init = json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged.token.here"}});
    socket
        .send(Message::text(init.to_string()))
        .await
        .expect("send");
    let closed = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(closed.expect("close frame").code), 4403);
    server.stop().await;
}

#[tokio::test]
async fn profile_changes_are_published_as_domain_events() {
    use kit::events::EventStream;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = sign_up(&server.client, "ada@example.com", "Ada").await;
    let as_ada = server
        .client
        .with_token(ada["accessToken"].as_str().expect("token"));
    as_ada
        .ok(
            "mutation { updateProfile(input: {name: \"Countess\"}) { name } }",
            json!({}),
        )
        .await;
    as_ada
        .ok(
            "mutation { updateProfile(input: {avatarUrl: \"https://x.io/a.png\"}) { name } }",
            json!({}),
        )
        .await;

    let events =
        kit::events::EmbeddedEventStream::open(&dir.path().join("events.db"), Metrics::new("t"))
            .expect("open");
    events
        .ensure_group("accounts", "test")
        .await
        .expect("group");
    let delivered = events
        .read_new(
            "accounts",
            "test",
            "c",
            10,
            std::time::Duration::from_millis(10),
        )
        .await
        .expect("read");
    let seen: Vec<(String, Value)> = delivered
        .iter()
        .map(|d| (d.event.kind.clone(), d.event.payload.clone()))
        .collect();
    let id = ada["user"]["id"].clone();
    assert_eq!(
        seen,
        [
            (
                "UserRegistered".to_owned(),
                json!({"userId": id, "name": "Ada"})
            ),
            (
                "UserRenamed".to_owned(),
                json!({"userId": id, "name": "Countess"})
            ),
        ],
        "an avatar change is not a rename"
    );
    assert_eq!(delivered[0].event.actor, id.as_str().expect("id"));
    server.stop().await;
}
