//! The board read cache on a real, throwaway Redis: repeated reads are served from it (hits
//! counted in `/metrics`), every write is visible on the very next read, and reads survive
//! Redis going away.

mod common;

use common::{add_member, code, create_board, create_task, Actor, Backing, Server};
use kit::testing::{require_redis, unique_prefix};
use serde_json::{json, Value};

const VIEW: &str = "query($id: ID!) { board(id: $id) { name description members { user { id } } tasks { totalCount edges { node { id title status assignee { id } labels } } } } }";

async fn view(actor: &Actor, board: &str) -> Value {
    actor.client.ok(VIEW, json!({"id": board})).await["board"].clone()
}

#[tokio::test]
async fn every_write_is_visible_on_the_very_next_read() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let backing = Backing::redis(&redis.url, &unique_prefix("boards_cache"));
    let server = Server::start_with(dir.path(), backing).await;
    server.wait_ready().await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    let task = create_task(&ada, &board, "T", "TODO").await;

    view(&ada, &board).await;
    let (hits, finds) = (
        server.cache_count("board", "hit").await,
        server.store_calls("find"),
    );
    let tasks_hits = server.cache_count("board_tasks", "hit").await;
    view(&ada, &board).await;
    assert_eq!(
        server.cache_count("board", "hit").await,
        hits + 1,
        "board served from the cache"
    );
    assert_eq!(
        server.cache_count("board_tasks", "hit").await,
        tasks_hits + 1,
        "task list too"
    );
    assert_eq!(
        server.store_calls("find"),
        finds,
        "a cached read touches no store"
    );

    type Check = fn(&Value, &str) -> bool;
    let steps: Vec<(&str, Value, Check)> = vec![
        ("mutation($b: ID!) { updateBoard(id: $b, input: {name: \"Renamed\"}) { id } }", json!({}),
            |v, _| v["name"] == "Renamed"),
        ("mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }", json!({}),
            |v, bob| v["members"][1]["user"]["id"] == bob),
        ("mutation($b: ID!) { createTask(input: {boardId: $b, title: \"New\"}) { id } }", json!({}),
            |v, _| v["tasks"]["totalCount"] == 2),
        ("mutation($t: ID!) { updateTask(id: $t, input: {title: \"T2\", labels: [\"x\"]}) { id } }", json!({}),
            |v, _| v["tasks"]["edges"][0]["node"]["title"] == "T2"),
        ("mutation($t: ID!) { moveTask(id: $t, status: DONE) { id } }", json!({}),
            |v, _| v["tasks"]["edges"][1]["node"]["status"] == "DONE"),
        ("mutation($t: ID!, $u: ID) { assignTask(id: $t, userId: $u) { id } }", json!({}),
            |v, bob| v["tasks"]["edges"][1]["node"]["assignee"]["id"] == bob),
        ("mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { id } }", json!({}),
            |v, _| v["members"].as_array().is_some_and(|m| m.len() == 1) && v["tasks"]["edges"][1]["node"]["assignee"].is_null()),
        ("mutation($t: ID!) { deleteTask(id: $t) }", json!({}),
            |v, _| v["tasks"]["totalCount"] == 1),
    ];
    for (mutation, _, check) in steps {
        let before = view(&ada, &board).await;
        let vars = json!({"b": board, "t": task, "u": bob.id});
        ada.client.ok(mutation, vars).await;
        let after = view(&ada, &board).await;
        assert!(
            check(&after, &bob.id),
            "{mutation}\nbefore: {before}\nafter: {after}"
        );
    }
    ada.client
        .ok(
            "mutation($b: ID!) { deleteBoard(id: $b) }",
            json!({"b": board}),
        )
        .await;
    assert_eq!(
        code(&ada.client.post(VIEW, json!({"id": board})).await),
        "NOT_FOUND"
    );
    assert!(
        server.cache_count("board", "hit").await >= hits + 8,
        "reads between writes hit"
    );
    server.stop().await;
}

#[tokio::test]
async fn reads_and_writes_work_while_redis_is_down() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let backing = Backing::redis(&redis.url, &unique_prefix("boards_down"));
    let server = Server::start_with(dir.path(), backing).await;
    server.wait_ready().await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    view(&ada, &board).await;
    redis.stop();
    let bypasses = server.cache_count("board", "bypass").await;
    ada.client
        .ok(
            "mutation($b: ID!) { updateBoard(id: $b, input: {name: \"Offline\"}) { id } }",
            json!({"b": board}),
        )
        .await;
    assert_eq!(view(&ada, &board).await["name"], "Offline");
    assert!(
        server.cache_count("board", "bypass").await > bypasses,
        "served by bypassing Redis"
    );
    server.stop().await;
}

#[tokio::test]
async fn members_added_after_a_cached_read_are_let_in_at_once() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let backing = Backing::redis(&redis.url, &unique_prefix("boards_members"));
    let server = Server::start_with(dir.path(), backing).await;
    server.wait_ready().await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    assert_eq!(
        bob.client.error_code(VIEW, json!({"id": board})).await,
        "FORBIDDEN"
    );
    add_member(&ada, &board, &bob.id).await;
    assert_eq!(
        view(&bob, &board).await["name"],
        "B",
        "membership cache invalidated"
    );
    server.stop().await;
}
