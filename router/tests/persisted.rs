//! Trusted documents through `router::serve`: automatic persisted queries (Apollo's APQ
//! protocol, by POST and by GET, in memory and shared by two routers through Redis) and
//! safelisting by a manifest (refusal, log-only mode, ids, reload without a restart).

mod common;

use common::serve::{code, post, start};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

const HELLO: &str = "{ hello }";
const USER: &str = "{ user(id: 1) { id } }";

fn sha(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn get(url: &str, params: &[(&str, String)]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .query(params)
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .expect("router answers");
    (response.status(), response.json().await.expect("json"))
}

#[tokio::test]
async fn apq_learns_a_document_once_and_runs_it_by_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop) = start(router::Config::default(), dir.path()).await;
    let hash = sha(HELLO);

    let (status, _, body) = post(&url, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::OK, "PERSISTED_QUERY_NOT_FOUND")
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (_, _, body) = post(&url, json!({ "query": HELLO, "extensions": apq(&hash) })).await;
    assert_eq!(body["data"]["hello"], "hi", "{body}");
    let (_, _, body) = post(&url, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(
        body["data"]["hello"], "hi",
        "the hash alone runs it now: {body}"
    );
    // graphql-ws clients must send a string: an empty `query` beside a hash is no document.
    let (_, _, body) = post(&url, json!({ "query": "", "extensions": apq(&hash) })).await;
    assert_eq!(body["data"]["hello"], "hi", "{body}");
    let extensions = apq(&hash).to_string();
    let (status, body) = get(&url, &[("extensions", extensions)]).await;
    assert_eq!(
        (status, &body["data"]["hello"]),
        (StatusCode::OK, &json!("hi"))
    );

    let wrong = json!({ "query": USER, "extensions": apq(&hash) });
    let (_, _, body) = post(&url, wrong).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_HASH_MISMATCH");
    assert!(body.get("data").is_none(), "nothing ran: {body}");
    let future =
        json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } });
    let (_, _, body) = post(&url, future).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_SUPPORTED");
    let (status, _, body) = post(&url, json!({ "variables": {} })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );
    stop.cancel();
}

#[tokio::test]
async fn apq_documents_are_shared_by_routers_sharing_redis() {
    let Some(redis) = common::redis::require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = router::Config::default();
    config.persisted_queries.redis_url = Some(redis.url.clone());
    config.persisted_queries.key_prefix = common::redis::unique_prefix("apq");
    let (first, stop_first) = start(config.clone(), dir.path()).await;
    let (second, stop_second) = start(config, dir.path()).await;
    let hash = sha(USER);
    let (_, _, body) = post(&second, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    let (_, _, body) = post(&first, json!({ "query": USER, "extensions": apq(&hash) })).await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, _, body) = post(&second, json!({ "extensions": apq(&hash) })).await;
    assert!(
        body["errors"].is_null(),
        "learned by the other router: {body}"
    );
    assert!(body["data"].is_object());
    stop_first.cancel();
    stop_second.cancel();
}

fn manifest(operations: &[(&str, &str)]) -> String {
    let operations: Vec<Value> = operations
        .iter()
        .map(|(id, body)| json!({ "id": id, "body": body, "name": id, "type": "query" }))
        .collect();
    json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations })
        .to_string()
}

fn safelisted(path: &std::path::Path, log_only: bool) -> router::Config {
    let mut config = router::Config::default();
    let safelist = &mut config.persisted_queries.safelist;
    safelist.enabled = true;
    safelist.log_only = log_only;
    safelist.manifest = Some(path.to_owned());
    safelist.reload_interval = Duration::from_millis(50);
    config
}

#[tokio::test]
async fn the_safelist_refuses_unlisted_operations_and_follows_its_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, manifest(&[("hello-1", HELLO)])).expect("manifest");
    let (url, stop) = start(safelisted(&path, false), dir.path()).await;

    let (_, _, body) = post(&url, json!({ "query": HELLO })).await;
    assert_eq!(body["data"]["hello"], "hi", "listed by its text: {body}");
    let (_, _, body) = post(&url, json!({ "documentId": "hello-1" })).await;
    assert_eq!(body["data"]["hello"], "hi", "listed by its id: {body}");
    let (status, _, body) = post(&url, json!({ "query": USER })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "PERSISTED_QUERY_NOT_IN_LIST")
    );
    let (status, _, body) = post(&url, json!({ "documentId": "nope" })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "PERSISTED_QUERY_NOT_IN_LIST")
    );
    // APQ cannot smuggle a document past the list.
    let register = json!({ "query": USER, "extensions": apq(&sha(USER)) });
    let (status, _, _) = post(&url, register).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, body) = post(&url, json!({ "extensions": apq(&sha(USER)) })).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_IN_LIST");

    // A new manifest is picked up without a restart.
    std::fs::write(&path, manifest(&[("hello-1", HELLO), ("user-1", USER)])).expect("manifest");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = post(&url, json!({ "documentId": "user-1" })).await;
        if status == StatusCode::OK {
            assert!(body["errors"].is_null(), "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the manifest was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
}

#[tokio::test]
async fn log_only_mode_runs_unlisted_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, manifest(&[("hello-1", HELLO)])).expect("manifest");
    let (url, stop) = start(safelisted(&path, true), dir.path()).await;
    let (status, _, body) = post(&url, json!({ "query": USER })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["errors"].is_null(), "{body}");
    stop.cancel();
}

#[tokio::test]
async fn without_apq_a_hash_alone_is_not_supported_and_a_safelist_needs_a_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = router::Config::default();
    config.persisted_queries.apq = false;
    let (url, stop) = start(config, dir.path()).await;
    let (_, _, body) = post(&url, json!({ "extensions": apq(&sha(HELLO)) })).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_SUPPORTED");
    stop.cancel();

    let mut config = router::Config::default();
    config.persisted_queries.safelist.enabled = true;
    assert!(router::http::Edge::new(&config).is_err());
}
