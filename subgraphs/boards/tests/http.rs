//! The HTTP surface the kit wires up, as this subgraph serves it.

mod common;

use common::{code, Server};
use serde_json::json;

#[tokio::test]
async fn health_ready_metrics_and_get_queries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();
    assert_eq!(get("/health").await.expect("health").status(), 200);
    assert_eq!(get("/ready").await.expect("ready").status(), 200);
    let ada = server.user();
    let board = common::create_board(&ada, "B").await;

    let query = "/graphql?query=%7B%20myBoards%20%7B%20id%20%7D%20%7D";
    let anonymous: serde_json::Value = get(query).await.expect("get").json().await.expect("json");
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let response = http
        .get(format!("{}{query}", server.base))
        .bearer_auth(server.token(&ada.id))
        .send()
        .await
        .expect("get");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body, json!({"data": {"myBoards": [{"id": board}]}}));
    let mutation = get("/graphql?query=mutation%20%7B%20deleteBoard(id%3A%20%22x%22)%20%7D")
        .await
        .expect("get");
    assert_eq!(mutation.status(), 405);

    let mut deep = "id".to_owned();
    for _ in 0..4 {
        deep = format!("board {{ tasks {{ edges {{ node {{ {deep} }} }} }} }}");
    }
    let too_deep = format!("query($id: ID!) {{ task(id: $id) {{ {deep} }} }}");
    let body = ada.client.post(&too_deep, json!({"id": "x"})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");

    let text = server.metrics_text().await;
    assert!(text.contains("service=\"boards\""), "{text}");
    assert!(text.contains("platform_graphql_requests_total"), "{text}");
    assert!(text.contains("code=\"UNAUTHENTICATED\""), "{text}");
    server.stop().await;
}
