//! The entity cache through two routers sharing one Redis: an answer the subgraph declared
//! cacheable is fetched once for the fleet; private answers stay with their caller; a
//! mutation evicts what it changed before it is answered; operators evict through
//! `/invalidation`; with Redis down the subgraph answers.

mod common;

use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::Json;
use common::redis::{require_redis, unique_prefix, RedisServer};
use common::serve::{metric, serve};
use common::subgraphs::spawn_mock;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { user(id: ID!): User me: User uncached: String }
type Mutation { rename(name: String!): User }
type User @key(fields: "id") { id: ID! name: String }"#;

const KEY: &str = "operator-secret";

/// A subgraph that says what may be cached: `user` for everyone, `me` per caller, `uncached`
/// not at all; `rename` changes the name and asks for everything it answered to go.
#[derive(Clone, Default)]
struct Accounts {
    name: Arc<Mutex<String>>,
    calls: Arc<AtomicUsize>,
}

impl Accounts {
    async fn start() -> (Accounts, String) {
        let accounts = Accounts::default();
        *accounts.name.lock() = "Ada".into();
        let state = accounts.clone();
        let app = axum::Router::new().route(
            "/graphql",
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let state = state.clone();
                async move { state.answer(&headers, &body) }
            }),
        );
        (accounts, spawn_mock(app).await)
    }

    fn answer(
        &self,
        headers: &HeaderMap,
        body: &Value,
    ) -> ([(header::HeaderName, String); 1], Json<Value>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let query = body["query"].as_str().unwrap_or_default();
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start_matches("Bearer ").to_owned());
        let cache = |value: &str| [(header::CACHE_CONTROL, value.to_owned())];
        if query.contains("rename") {
            let name = body["variables"]
                .as_object()
                .and_then(|v| v.values().next())
                .and_then(Value::as_str)
                .unwrap_or("Grace")
                .to_owned();
            *self.name.lock() = name.clone();
            let invalidation = json!([{ "kind": "subgraph", "subgraph": "accounts" }]);
            let body = json!({
                "data": { "rename": { "name": name } },
                "extensions": { "invalidation": invalidation },
            });
            return (cache("no-store"), Json(body));
        }
        if query.contains("uncached") {
            return (cache(""), Json(json!({ "data": { "uncached": "fresh" } })));
        }
        if !query.contains("user(") {
            let me = token.map(|t| json!({ "name": format!("me-{t}") }));
            return (
                cache("max-age=60, private"),
                Json(json!({ "data": { "me": me } })),
            );
        }
        let name = self.name.lock().clone();
        let body = json!({ "data": { "user": { "name": name } } });
        (cache("max-age=60"), Json(body))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Two routers on one supergraph and one Redis.
struct Fleet {
    accounts: Accounts,
    routers: [String; 2],
    _dir: tempfile::TempDir,
    stops: Vec<tokio_util::sync::CancellationToken>,
}

impl Fleet {
    async fn start(redis: &RedisServer) -> Fleet {
        Fleet::start_with(redis, |_| {}).await
    }

    async fn start_with(redis: &RedisServer, adjust: impl FnOnce(&mut router::Config)) -> Fleet {
        let (accounts, url) = Accounts::start().await;
        let inputs = [router::compose::SubgraphInput {
            name: "accounts".into(),
            url,
            sdl: SDL.into(),
        }];
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("supergraph.graphql");
        let supergraph = router::compose::compose_text(&inputs).expect("composes");
        std::fs::write(&path, supergraph).expect("write");
        let mut config = router::Config {
            supergraph: Some(path),
            ..router::Config::default()
        };
        config.traffic.deduplicate_requests = false;
        config.entity_cache.redis_url = Some(redis.url.clone());
        config.entity_cache.key_prefix = unique_prefix("entities");
        config.entity_cache.invalidation_key = Some(KEY.into());
        adjust(&mut config);
        let (one, stop_one) = serve(config.clone()).await;
        let (two, stop_two) = serve(config).await;
        Fleet {
            accounts,
            routers: [one, two],
            _dir: dir,
            stops: vec![stop_one, stop_two],
        }
    }

    async fn query(&self, router: usize, query: &str, token: Option<&str>) -> Value {
        let mut request = reqwest::Client::new()
            .post(&self.routers[router])
            .json(&json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("router answers");
        response.json().await.expect("json")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stops.iter().for_each(|s| s.cancel());
    }
}

/// The router's `entity_cache_total` for one subgraph and outcome.
async fn outcome_of(router: &str, subgraph: &str, outcome: &str) -> f64 {
    let series = format!(
        r#"platform_router_entity_cache_total{{service="router",subgraph="{subgraph}",outcome="{outcome}"}}"#
    );
    metric(router, &series).await
}

/// The same for the `accounts` subgraph.
async fn outcome(router: &str, outcome: &str) -> f64 {
    outcome_of(router, "accounts", outcome).await
}

/// Stores happen after the answer: waits until `router` has stored `n` entries of `subgraph`.
async fn stored_of(router: &str, subgraph: &str, n: f64) {
    for _ in 0..100 {
        if outcome_of(router, subgraph, "stored").await >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("nothing stored");
}

async fn stored(router: &str, n: f64) {
    stored_of(router, "accounts", n).await
}

const USER: &str = "{ user(id: 1) { name } }";

#[tokio::test]
async fn a_cacheable_answer_is_fetched_once_for_the_fleet() {
    let Some(redis) = require_redis() else { return };
    let fleet = Fleet::start(&redis).await;
    let first = fleet.query(0, USER, None).await;
    assert_eq!(first, json!({ "data": { "user": { "name": "Ada" } } }));
    stored(&fleet.routers[0], 1.0).await;
    let second = fleet.query(1, USER, None).await;
    assert_eq!(second, first);
    assert_eq!(fleet.accounts.calls(), 1, "the second router asked nobody");
    assert_eq!(outcome(&fleet.routers[1], "hit").await, 1.0);

    // What the subgraph did not declare cacheable is asked every time.
    for _ in 0..2 {
        let body = fleet.query(0, "{ uncached }", None).await;
        assert_eq!(body["data"]["uncached"], "fresh");
    }
    assert_eq!(fleet.accounts.calls(), 3);
}

#[tokio::test]
async fn a_type_ttl_caches_what_the_subgraph_left_unsaid() {
    let Some(redis) = require_redis() else { return };
    let fleet = Fleet::start_with(&redis, |config| {
        let policy = router::entity_cache::TypePolicy {
            ttl: std::time::Duration::from_secs(30),
            private: false,
        };
        config.entity_cache.types.insert("Query".into(), policy);
    })
    .await;
    fleet.query(0, "{ uncached }", None).await;
    stored(&fleet.routers[0], 1.0).await;
    let body = fleet.query(1, "{ uncached }", None).await;
    assert_eq!(body["data"]["uncached"], "fresh");
    assert_eq!(fleet.accounts.calls(), 1, "cached for the configured ttl");
    // The subgraph's own header still decides: `rename` says no-store, and mutations are
    // never cached anyway; `user` keeps its max-age.
    fleet.query(0, USER, None).await;
    assert_eq!(fleet.accounts.calls(), 2);
}

#[tokio::test]
async fn private_answers_stay_with_their_caller() {
    let Some(redis) = require_redis() else { return };
    let fleet = Fleet::start(&redis).await;
    let me = "{ me { name } }";
    let ada = fleet.query(0, me, Some("ada")).await;
    assert_eq!(ada["data"]["me"]["name"], "me-ada");
    stored(&fleet.routers[0], 1.0).await;
    let bob = fleet.query(1, me, Some("bob")).await;
    assert_eq!(bob["data"]["me"]["name"], "me-bob", "never ada's answer");
    assert_eq!(fleet.accounts.calls(), 2);
    let again = fleet.query(1, me, Some("ada")).await;
    assert_eq!(again, ada, "ada's own answer, from the cache");
    assert_eq!(fleet.accounts.calls(), 2);
    // Without credentials a private answer has nobody to belong to: never stored.
    for _ in 0..2 {
        let anonymous = fleet.query(0, me, None).await;
        assert_eq!(anonymous["data"]["me"], Value::Null);
    }
    assert_eq!(fleet.accounts.calls(), 4);
}

#[tokio::test]
async fn a_mutation_evicts_what_it_changed_before_it_is_answered() {
    let Some(redis) = require_redis() else { return };
    let fleet = Fleet::start(&redis).await;
    fleet.query(0, USER, None).await;
    stored(&fleet.routers[0], 1.0).await;
    let renamed = fleet
        .query(1, "mutation { rename(name: \"Grace\") { name } }", None)
        .await;
    assert_eq!(renamed["data"]["rename"]["name"], "Grace", "{renamed}");
    // Right after the acknowledgement, through the other router: never the old name.
    let read = fleet.query(0, USER, None).await;
    assert_eq!(read["data"]["user"]["name"], "Grace");
    assert!(outcome(&fleet.routers[1], "invalidated").await >= 1.0);
}

#[tokio::test]
async fn operators_evict_through_the_invalidation_endpoint() {
    let Some(redis) = require_redis() else { return };
    let fleet = Fleet::start(&redis).await;
    fleet.query(0, USER, None).await;
    stored(&fleet.routers[0], 1.0).await;
    let endpoint = fleet.routers[1].replace("/graphql", "/invalidation");
    let client = reqwest::Client::new();
    let item = json!([{ "kind": "type", "subgraph": "accounts", "type": "Query" }]);

    let refused = client
        .post(&endpoint)
        .json(&item)
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 401);
    let wrong = client.post(&endpoint).bearer_auth("guess").json(&item);
    assert_eq!(wrong.send().await.expect("send").status(), 401);
    let bad = client
        .post(&endpoint)
        .bearer_auth(KEY)
        .json(&json!([{ "kind": "all" }]));
    let bad = bad.send().await.expect("send");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    let evicted = client.post(&endpoint).bearer_auth(KEY).json(&item);
    let evicted: Value = evicted
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(evicted, json!({ "count": 1 }));
    *fleet.accounts.name.lock() = "Grace".into();
    let read = fleet.query(0, USER, None).await;
    assert_eq!(read["data"]["user"]["name"], "Grace");
    assert_eq!(fleet.accounts.calls(), 2);
}

#[tokio::test]
async fn with_redis_down_the_subgraph_answers() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let fleet = Fleet::start(&redis).await;
    redis.stop();
    for _ in 0..2 {
        let body = fleet.query(0, USER, None).await;
        assert_eq!(body, json!({ "data": { "user": { "name": "Ada" } } }));
    }
    assert_eq!(fleet.accounts.calls(), 2);
    assert!(outcome(&fleet.routers[0], "error").await >= 2.0);
}

const PROFILES_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { users(ids: [ID!]!): [User] }
type User @key(fields: "id") { id: ID! }"#;

const BIOS_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Mutation { setBio(id: ID!, bio: String!): Boolean }
type User @key(fields: "id") { id: ID! bio: String }"#;

/// A subgraph resolving `User.bio` by `_entities`, cacheable for a minute, recording which
/// users each request asked for; `setBio` evicts that one user.
#[derive(Clone, Default)]
struct Bios {
    asked: Arc<Mutex<Vec<Vec<String>>>>,
    bios: Arc<Mutex<std::collections::HashMap<String, String>>>,
}

impl Bios {
    fn answer(&self, body: &Value) -> ([(header::HeaderName, String); 1], Json<Value>) {
        let variables = &body["variables"];
        if let Some(id) = variables["id"].as_str().filter(|_| {
            body["query"]
                .as_str()
                .unwrap_or_default()
                .contains("setBio")
        }) {
            let bio = variables["bio"].as_str().unwrap_or_default().to_owned();
            self.bios.lock().insert(id.to_owned(), bio);
            let invalidation = json!([{ "kind": "entity", "subgraph": "bios", "type": "User", "key": { "id": id } }]);
            let body = json!({ "data": { "setBio": true }, "extensions": { "invalidation": invalidation } });
            return ([(header::CACHE_CONTROL, "no-store".into())], Json(body));
        }
        let reps = variables["representations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ids: Vec<String> = reps
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        self.asked.lock().push(ids.clone());
        let bios = self.bios.lock();
        let entities: Vec<Value> = ids
            .iter()
            .map(
                |id| json!({ "bio": bios.get(id).cloned().unwrap_or_else(|| format!("bio {id}")) }),
            )
            .collect();
        let body = json!({ "data": { "_entities": entities } });
        ([(header::CACHE_CONTROL, "max-age=60".into())], Json(body))
    }
}

#[tokio::test]
async fn entities_are_cached_one_by_one_and_evicted_by_key() {
    let Some(redis) = require_redis() else { return };
    let profiles = spawn_mock(axum::Router::new().route(
        "/graphql",
        post(|Json(body): Json<Value>| async move {
            let ids = body["variables"]
                .as_object()
                .and_then(|v| v.values().next())
                .cloned();
            let users: Vec<Value> = ids
                .and_then(|ids| ids.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .map(|id| json!({ "__typename": "User", "id": id }))
                .collect();
            Json(json!({ "data": { "users": users } }))
        }),
    ))
    .await;
    let bios = Bios::default();
    let state = bios.clone();
    let bios_url = spawn_mock(axum::Router::new().route(
        "/graphql",
        post(move |Json(body): Json<Value>| {
            let state = state.clone();
            async move { state.answer(&body) }
        }),
    ))
    .await;
    let inputs = [
        ("profiles", profiles, PROFILES_SDL),
        ("bios", bios_url, BIOS_SDL),
    ]
    .map(|(name, url, sdl)| router::compose::SubgraphInput {
        name: name.into(),
        url,
        sdl: sdl.into(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("supergraph.graphql");
    std::fs::write(
        &path,
        router::compose::compose_text(&inputs).expect("composes"),
    )
    .expect("write");
    let mut config = router::Config {
        supergraph: Some(path),
        ..router::Config::default()
    };
    config.entity_cache.redis_url = Some(redis.url.clone());
    config.entity_cache.key_prefix = unique_prefix("entities");
    let (url, stop) = serve(config).await;
    let query = |ids: &[&str]| {
        let (url, ids) = (url.clone(), json!(ids));
        async move {
            let body = json!({ "query": "query($ids: [ID!]!) { users(ids: $ids) { id bio } }", "variables": { "ids": ids } });
            let response = reqwest::Client::new()
                .post(&url)
                .json(&body)
                .send()
                .await
                .expect("send");
            response.json::<Value>().await.expect("json")
        }
    };
    let first = query(&["1", "2"]).await;
    assert_eq!(
        first["data"]["users"][1],
        json!({ "id": "2", "bio": "bio 2" }),
        "{first}"
    );
    stored_of(&url, "bios", 2.0).await;
    let second = query(&["2", "3"]).await;
    assert_eq!(
        second["data"]["users"],
        json!([{ "id": "2", "bio": "bio 2" }, { "id": "3", "bio": "bio 3" }])
    );
    assert_eq!(
        bios.asked.lock().clone(),
        [vec!["1", "2"], vec!["3"]],
        "user 2 came from the cache"
    );
    stored_of(&url, "bios", 3.0).await;
    let all_cached = query(&["3", "1"]).await;
    assert_eq!(all_cached["data"]["users"][0]["bio"], "bio 3");
    assert_eq!(
        bios.asked.lock().len(),
        2,
        "no request for entities all cached"
    );

    let set = json!({
        "query": "mutation($id: ID!, $bio: String!) { setBio(id: $id, bio: $bio) }",
        "variables": { "id": "2", "bio": "new" },
    });
    let set: Value = reqwest::Client::new()
        .post(&url)
        .json(&set)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(set["data"]["setBio"], true, "{set}");
    let after = query(&["1", "2"]).await;
    assert_eq!(after["data"]["users"][1]["bio"], "new");
    assert_eq!(
        bios.asked.lock().last().cloned(),
        Some(vec!["2".to_owned()]),
        "only user 2 was evicted"
    );
    stop.cancel();
}
