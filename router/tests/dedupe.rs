//! Inbound deduplication: identical queries in flight share one execution (not only its
//! subgraph requests), never across different headers, and never across a mutation that
//! this router answered in between.

mod common;
use common::subgraphs::spawn_mock;
use common::{fixture, post, router_app_with, with_urls, Demo};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn settings(dedupe: bool) -> router::ExecutionSettings {
    router::ExecutionSettings {
        subgraph_timeout: Duration::from_secs(5),
        dedupe_requests: dedupe,
        ..Default::default()
    }
}

/// `{ me { name reviews { body } } }` twice, the second sent while the first waits for
/// reviews (after its accounts fetch has answered); returns both bodies.
async fn overlapping(app: &axum::Router, second_auth: &str) -> (Value, Value) {
    let body = json!({ "query": "{ me { name reviews { body } } }" });
    let first = post(app, body.clone(), &[("authorization", "Bearer a")]);
    let second = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        post(app, body.clone(), &[("authorization", second_auth)]).await
    };
    let (first, second) = tokio::join!(first, second);
    (first.2, second.2)
}

#[tokio::test]
async fn a_query_sent_mid_execution_joins_the_whole_execution() {
    let demo = Demo::start().await;
    demo.reviews.delay_ms.store(400, Ordering::SeqCst);
    let app = router_app_with(&demo.supergraph(), settings(true));
    let (first, second) = overlapping(&app, "Bearer a").await;
    assert_eq!(first, second);
    assert_eq!(first["data"]["me"]["name"], "Ada Lovelace");
    assert_eq!(
        (demo.accounts.count(), demo.reviews.count()),
        (1, 1),
        "the second request started nothing: it joined the first execution"
    );
}

#[tokio::test]
async fn without_deduplication_only_subgraph_requests_in_flight_are_shared() {
    let demo = Demo::start().await;
    demo.reviews.delay_ms.store(400, Ordering::SeqCst);
    let app = router_app_with(&demo.supergraph(), settings(false));
    let (first, second) = overlapping(&app, "Bearer a").await;
    assert_eq!(first, second);
    assert_eq!(
        (demo.accounts.count(), demo.reviews.count()),
        (2, 1),
        "accounts had answered the first request, so the second asked again"
    );
}

#[tokio::test]
async fn different_authorization_never_shares_an_execution() {
    let demo = Demo::start().await;
    demo.reviews.delay_ms.store(400, Ordering::SeqCst);
    let app = router_app_with(&demo.supergraph(), settings(true));
    overlapping(&app, "Bearer b").await;
    assert_eq!((demo.accounts.count(), demo.reviews.count()), (2, 2));
}

/// An accounts subgraph for the `mutations` fixture: queries answer after 300 ms with the
/// name as of their arrival (`v<writes>`), mutations at once, each bumping the version.
async fn versioned_accounts() -> (String, Arc<Mutex<(u32, u32)>>) {
    let state: Arc<Mutex<(u32, u32)>> = Arc::default(); // (writes, queries received)
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let state = shared.clone();
            async move {
                let query = body["query"].as_str().unwrap_or_default().to_owned();
                if query.starts_with("mutation") {
                    let writes = {
                        let mut state = state.lock();
                        state.0 += 1;
                        state.0
                    };
                    return axum::Json(
                        json!({ "data": { "rename": { "name": format!("v{writes}") } } }),
                    );
                }
                let writes = {
                    let mut state = state.lock();
                    state.1 += 1;
                    state.0
                };
                tokio::time::sleep(Duration::from_millis(300)).await;
                axum::Json(json!({ "data": { "me": { "name": format!("v{writes}") } } }))
            }
        }),
    );
    (spawn_mock(app).await, state)
}

#[tokio::test]
async fn a_query_sent_after_a_mutation_was_answered_never_joins_older_work() {
    let (url, state) = versioned_accounts().await;
    let reviews = spawn_mock(axum::Router::new()).await;
    let sdl = with_urls(
        &fixture("mutations"),
        &[("accounts", &url), ("reviews", &reviews)],
    );
    let app = router_app_with(&sdl, settings(true));
    let query = json!({ "query": "{ me { name } }" });
    let later = |mutate: bool| {
        let (app, query) = (&app, query.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            if mutate {
                let rename = json!({ "query": "mutation { rename(name: \"z\") { name } }" });
                let (status, _, body) = post(app, rename, &[]).await;
                assert_eq!(
                    (status, &body["data"]["rename"]["name"]),
                    (200, &json!("v1"))
                );
            }
            post(app, query, &[]).await.2
        }
    };

    // No write in between: the later query joins the earlier one's execution.
    let (first, second) = tokio::join!(post(&app, query.clone(), &[]), later(false));
    assert_eq!(
        (&first.2, &second),
        (&second, &json!({ "data": { "me": { "name": "v0" } } }))
    );
    assert_eq!(state.lock().1, 1);

    // A mutation answered in between: the later query reads what was written.
    let (first, second) = tokio::join!(post(&app, query.clone(), &[]), later(true));
    assert_eq!(first.2, json!({ "data": { "me": { "name": "v0" } } }));
    assert_eq!(second, json!({ "data": { "me": { "name": "v1" } } }));
    assert_eq!(state.lock().1, 3);
}
