//! GraphQL over HTTP: methods, media types, status codes, health, serving and hot reload.

mod common;
use axum::body::Body;
use axum::http::Request;
use common::{fixture, post, router_app, send, Demo};
use serde_json::json;
use std::time::Duration;

const GQL: &str = "application/graphql-response+json";

fn app() -> axum::Router {
    router_app(&fixture("mutations"), Duration::from_secs(1))
}

#[tokio::test]
async fn parse_and_validation_failures_are_400_only_under_graphql_response_json() {
    let app = app();
    for query in ["{ me { ", "{ me { id nope } }"] {
        let (status, ctype, body) = post(&app, json!({ "query": query }), &[("accept", GQL)]).await;
        assert_eq!(
            (status, ctype.as_str()),
            (400, "application/graphql-response+json; charset=utf-8")
        );
        assert!(body.get("data").is_none());
        assert!(body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .starts_with("GRAPHQL_"));
        let (status, ctype, body) = post(
            &app,
            json!({ "query": query }),
            &[("accept", "application/json")],
        )
        .await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/json; charset=utf-8")
        );
        assert!(body["errors"].is_array());
        let (status, ctype, _) = post(&app, json!({ "query": query }), &[]).await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/json; charset=utf-8")
        );
    }
    let (_, _, body) = post(&app, json!({ "query": "{ me { " }), &[]).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    let (_, _, body) = post(&app, json!({ "query": "{ me { id nope } }" }), &[]).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(
        body["errors"][0]["locations"],
        json!([{ "line": 1, "column": 11 }])
    );
}

#[tokio::test]
async fn malformed_requests_are_rejected() {
    let app = app();
    let raw = |content_type: &str, body: &str, accept: &str| {
        Request::post("/graphql")
            .header("content-type", content_type)
            .header("accept", accept)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    assert_eq!(
        send(&app, raw("application/json", "{not json", GQL))
            .await
            .0,
        400
    );
    assert_eq!(
        send(
            &app,
            raw("application/json", "{\"variables\":{}}", "application/json")
        )
        .await
        .0,
        400
    );
    // A simple (form or text) request is refused as a possible CSRF before anything else.
    let (status, _, body) = send(&app, raw("text/plain", "{ me { id } }", GQL)).await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (400, &json!("CSRF_ERROR"))
    );
    let mut preflighted = raw("text/plain", "{ me { id } }", GQL);
    preflighted
        .headers_mut()
        .insert("apollo-require-preflight", "true".parse().unwrap());
    assert_eq!(send(&app, preflighted).await.0, 415);
    assert_eq!(
        send(
            &app,
            raw(
                "application/json",
                "{\"query\":\"{ __typename }\"}",
                "text/html"
            )
        )
        .await
        .0,
        406
    );
    let (status, _, body) = send(
        &app,
        raw(
            "application/json",
            "{\"query\":\"{ __typename }\"}",
            "application/graphql-response+json",
        ),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": { "__typename": "Query" } }))
    );
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = app();
    let get = |qs: &str| {
        Request::get(format!("/graphql?{qs}"))
            .header("accept", GQL)
            .header("apollo-require-preflight", "true")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = send(&app, get("query=%7B__typename%7D")).await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": { "__typename": "Query" } }))
    );
    let mutation = "query=mutation%7BsignUp(name%3A%22x%22)%7Bid%7D%7D";
    let response = tower::ServiceExt::oneshot(app.clone(), get(mutation))
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED",
        "the same code as the subgraphs"
    );
    let (status, _, _) = send(&app, get("query=%7Bme%7Bid%7D%7D&variables=%7Bbad")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn health_is_up_once_a_supergraph_is_loaded() {
    let (status, _, body) =
        send(&app(), Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body), (200, json!({ "status": "UP" })));
}

#[tokio::test]
async fn variables_are_coerced_and_bad_ones_rejected() {
    let app = app();
    let query = "mutation($n: String!) { signUp(name: $n) { id } }";
    let (status, _, body) = post(
        &app,
        json!({ "query": query, "variables": { "n": 3 } }),
        &[("accept", GQL)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn serve_reloads_the_supergraph_and_shuts_down() {
    let demo = Demo::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supergraph.graphql");
    let original = demo.supergraph();
    // Start with `User.name` inaccessible-by-absence: a supergraph without the field.
    std::fs::write(
        &path,
        original.replace("  name: String @join__field(graph: ACCOUNTS)\n", ""),
    )
    .unwrap();
    let mut config = router::Config::new(&path);
    config.reload_interval = Duration::from_millis(50);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let token = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(router::serve(config, listener, token.clone()));
    let client = reqwest::Client::new();
    let ask = || async {
        let response = client
            .post(&url)
            .json(&json!({ "query": "{ me { name } }" }))
            .send()
            .await
            .unwrap();
        response.json::<serde_json::Value>().await.unwrap()
    };
    assert_eq!(
        ask().await["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    std::fs::write(&path, &original).unwrap();
    let mut reloaded = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if ask().await == json!({ "data": { "me": { "name": "Ada Lovelace" } } }) {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "the new supergraph was picked up");
    // An invalid file keeps the previous supergraph.
    std::fs::write(&path, "type Query { broken: Nope }").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ask().await,
        json!({ "data": { "me": { "name": "Ada Lovelace" } } })
    );
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn accept_quality_values_decide_the_media_type() {
    let app = app();
    let body = json!({ "query": "{ me { " });
    let (status, ctype, _) = post(
        &app,
        body.clone(),
        &[(
            "accept",
            "application/json;q=0.5, application/graphql-response+json",
        )],
    )
    .await;
    assert_eq!(
        (status, ctype.as_str()),
        (400, "application/graphql-response+json; charset=utf-8")
    );
    let (status, ctype, _) = post(
        &app,
        body.clone(),
        &[(
            "accept",
            "application/graphql-response+json;q=0.2, application/json",
        )],
    )
    .await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/json; charset=utf-8")
    );
    let (status, _, _) = post(&app, body, &[("accept", "application/json;q=0")]).await;
    assert_eq!(status, 406);
}

#[tokio::test]
async fn browsers_get_the_playground_unless_it_is_switched_off() {
    use router::execute::fetch::SubgraphClient;
    use std::sync::Arc;
    let sdl = fixture("demo");
    for enabled in [true, false] {
        let config = router::Config {
            playground: router::config::PlaygroundConfig { enabled },
            ..Default::default()
        };
        let client = Arc::new(SubgraphClient::new());
        let state = router::RouterState::new(&sdl, client, config.execution()).unwrap();
        let edge = router::http::Edge::new(&config).unwrap();
        let app = router::app(Arc::new(router::AppState::with_edge(state, edge)));
        let get = |path: &str| {
            Request::get(path)
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap()
        };
        let (status, ctype, _) = send(&app, get("/graphql")).await;
        let (asset, _, _) = send(&app, get("/playground")).await;
        if enabled {
            assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
            assert_eq!(asset, 200);
        } else {
            assert_eq!(
                (status, asset),
                (406, 404),
                "switched off: plain GraphQL over HTTP"
            );
        }
    }
}
