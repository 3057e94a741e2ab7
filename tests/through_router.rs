//! The whole platform through the router: real mutations on boards and chat lead to stored and
//! streamed notifications, and queries cross every subgraph.

use std::time::Duration;

mod common;

use common::Stack;
use kit::test_client::{GqlClient, Subscription};
use serde_json::{json, Value};

async fn wait_for_notifications(client: &GqlClient, count: usize) -> Value {
    let query = "{ me { unreadNotificationCount notifications { edges { node { kind text actor { name } task { title } board { name } message { body } } } } } }";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let data = client.ok(query, json!({})).await;
        if data["me"]["notifications"]["edges"]
            .as_array()
            .map_or(0, Vec::len)
            >= count
        {
            return data["me"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "notifications did not arrive: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn board_and_chat_activity_reaches_the_inbox_through_the_router() {
    let stack = Stack::start().await;
    let ada_user = stack.sign_up("Ada").await;
    let bob_user = stack.sign_up("Bob").await;
    let (ada, bob, bob_id) = (&ada_user.client, &bob_user.client, &bob_user.id);
    // Subscribed through the router, like every client.
    let mut live = Subscription::start(
        &stack.platform.urls.router,
        &bob_user.token,
        "subscription { notificationAdded { kind text } }",
    )
    .await;

    let board = stack.board(&ada_user, "Launch", &bob_user).await;
    ada.ok(
        "mutation($b: ID!, $u: ID) { createTask(input: {boardId: $b, title: \"Fix login\", assigneeId: $u}) { id } }",
        json!({"b": board, "u": bob_id}),
    )
    .await;

    // The board's room follows membership (chat consumes boards' events); Ada mentions Bob.
    let room_query = "query($b: ID!) { board(id: $b) { chatRoom { id members { name } } } }";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let room = loop {
        let data = ada.post(room_query, json!({"b": board})).await;
        let members = data["data"]["board"]["chatRoom"]["members"]
            .as_array()
            .map_or(0, Vec::len);
        if members == 2 {
            break data["data"]["board"]["chatRoom"]["id"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "board room not in sync: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sent = ada
        .ok("mutation($r: ID!) { sendMessage(roomId: $r, body: \"@Bob please review\") { id author { name } mentions { name } } }", json!({"r": room}))
        .await;
    assert_eq!(
        sent["sendMessage"]["author"]["name"], "Ada",
        "author resolved from accounts"
    );
    assert_eq!(sent["sendMessage"]["mentions"], json!([{"name": "Bob"}]));

    let inbox = wait_for_notifications(bob, 3).await;
    assert_eq!(inbox["unreadNotificationCount"], 3);
    let nodes: Vec<Value> = inbox["notifications"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let by_kind = |kind: &str| {
        nodes
            .iter()
            .find(|n| n["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind}: {nodes:?}"))
    };
    let assigned = by_kind("TASK_ASSIGNED");
    assert_eq!(assigned["text"], "Ada assigned you “Fix login”");
    assert_eq!(
        assigned["task"]["title"], "Fix login",
        "task title resolved from boards"
    );
    assert_eq!(assigned["actor"]["name"], "Ada");
    let added = by_kind("BOARD_MEMBER_ADDED");
    assert_eq!(added["text"], "Ada added you to “Launch”");
    assert_eq!(added["board"]["name"], "Launch");
    let mentioned = by_kind("MENTIONED");
    assert_eq!(
        mentioned["message"]["body"], "@Bob please review",
        "message resolved from chat"
    );

    let mut streamed = Vec::new();
    for _ in 0..3 {
        let message = live.next().await;
        assert_eq!(message["type"], "next", "{message}");
        streamed.push(
            message["payload"]["data"]["notificationAdded"]["kind"]
                .as_str()
                .expect("kind")
                .to_owned(),
        );
    }
    streamed.sort();
    assert_eq!(
        streamed,
        ["BOARD_MEMBER_ADDED", "MENTIONED", "TASK_ASSIGNED"]
    );
    assert_eq!(
        wait_for_notifications(ada, 0).await["unreadNotificationCount"],
        0,
        "the actor is not notified"
    );
}

#[tokio::test]
async fn one_query_crosses_accounts_boards_and_chat() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await.client;
    ada.ok(
        "mutation { createBoard(input: {name: \"Roadmap\"}) { id } }",
        json!({}),
    )
    .await;
    let data = ada
        .ok(
            "{ me { name email boards { name owner { name } members { role user { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["me"],
        json!({"name": "Ada", "email": "ada@example.com", "boards": [{"name": "Roadmap", "owner": {"name": "Ada"}, "members": [{"role": "OWNER", "user": {"name": "Ada"}}]}]})
    );
    let anonymous = stack.router().post("{ me { name } }", json!({})).await;
    assert_eq!(anonymous["data"]["me"], Value::Null);
    assert!(stack.platform.supergraph.contains("join__Graph"));
}
