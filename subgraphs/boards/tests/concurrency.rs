//! Concurrent writers: membership changes are compare-and-swap (none is lost), and tasks
//! appended at the same moment (tied positions) still order and move correctly.

mod common;

use common::{add_member, column, create_board, create_task, move_task, Server};
use futures::future::join_all;
use serde_json::json;

#[tokio::test]
async fn concurrent_member_additions_are_all_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let owner = server.user();
    let board = create_board(&owner, "Busy").await;
    let users: Vec<String> = (0..10).map(|_| server.user().id).collect();
    join_all(users.iter().map(|u| add_member(&owner, &board, u))).await;
    let query = "query($id: ID!) { board(id: $id) { members { user { id } } } }";
    let data = owner.client.ok(query, json!({"id": board})).await;
    let mut members: Vec<String> = data["board"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["user"]["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(members.remove(0), owner.id, "owner first");
    members.sort();
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(members, expected, "no addition lost to a concurrent one");
    for user in &users {
        let mine = server
            .actor(user)
            .client
            .ok("{ myBoards { id } }", json!({}))
            .await;
        assert_eq!(mine["myBoards"][0]["id"], board);
    }
    server.stop().await;
}

#[tokio::test]
async fn tasks_appended_together_order_deterministically_and_move_between_ties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let created = join_all((0..8).map(|i| {
        let ada = ada.clone();
        let board = board.clone();
        async move { create_task(&ada, &board, &format!("t{i}"), "TODO").await }
    }))
    .await;
    let order = column(&ada, &board, "TODO").await;
    let mut sorted = created.clone();
    sorted.sort();
    let mut seen = order.clone();
    seen.sort();
    assert_eq!(seen, sorted, "every task listed once");
    assert_eq!(column(&ada, &board, "TODO").await, order, "stable order");

    // Moving between two tasks that may share a position must still land between them.
    for _ in 0..5 {
        let order = column(&ada, &board, "TODO").await;
        let (task, before) = (order[order.len() - 1].clone(), order[1].clone());
        move_task(&ada, &task, "TODO", Some(&before)).await;
        let mut expected = order.clone();
        expected.pop();
        expected.insert(1, task);
        assert_eq!(column(&ada, &board, "TODO").await, expected);
    }
    server.stop().await;
}
