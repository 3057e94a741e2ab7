//! Relay pagination of `Board.tasks`: order, `totalCount`, the cap on `first`, filters, and
//! keyset cursors that neither repeat nor skip tasks when others are inserted meanwhile.

mod common;

use common::{
    add_member, code, create_board, create_task, move_task, Actor, Server, BOARD_TASKS, CREATE_TASK,
};
use serde_json::{json, Value};

struct Page {
    ids: Vec<String>,
    has_next: bool,
    end_cursor: Value,
    total: u64,
}

async fn page(actor: &Actor, vars: Value) -> Page {
    let data = actor.client.ok(BOARD_TASKS, vars).await;
    let tasks = &data["board"]["tasks"];
    Page {
        ids: tasks["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect(),
        has_next: tasks["pageInfo"]["hasNextPage"]
            .as_bool()
            .expect("hasNextPage"),
        end_cursor: tasks["pageInfo"]["endCursor"].clone(),
        total: tasks["totalCount"].as_u64().expect("totalCount"),
    }
}

#[tokio::test]
async fn pages_walk_the_board_in_order_with_a_total_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut expected = Vec::new();
    for (i, status) in [
        "DONE",
        "TODO",
        "IN_PROGRESS",
        "TODO",
        "DONE",
        "TODO",
        "IN_REVIEW",
    ]
    .iter()
    .enumerate()
    {
        let id = create_task(&ada, &board, &format!("t{i}"), status).await;
        expected.push((status.to_owned(), id));
    }
    let rank = |s: &str| {
        ["TODO", "IN_PROGRESS", "IN_REVIEW", "DONE"]
            .iter()
            .position(|x| *x == s)
    };
    expected.sort_by_key(|(s, _)| rank(s));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let p = page(&ada, json!({"id": board, "f": 3, "after": after})).await;
        assert_eq!(p.total, 7, "totalCount counts every page");
        seen.extend(p.ids);
        if !p.has_next {
            break;
        }
        after = p.end_cursor;
    }
    assert_eq!(
        seen, expected,
        "columns in enum order, creation order within"
    );
    server.stop().await;
}

#[tokio::test]
async fn cursors_neither_repeat_nor_skip_across_inserts_moves_and_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut original = Vec::new();
    for i in 0..6 {
        original.push(create_task(&ada, &board, &format!("t{i}"), "TODO").await);
    }
    let first = page(&ada, json!({"id": board, "f": 3})).await;
    assert_eq!(first.ids, original[..3]);

    // Meanwhile: one task lands in front of the cursor, two after it, and the cursor's own
    // task is deleted.
    let front = create_task(&ada, &board, "front", "TODO").await;
    move_task(&ada, &front, "TODO", Some(&original[0])).await;
    let (x, y) = tokio::join!(
        create_task(&ada, &board, "x", "TODO"),
        create_task(&ada, &board, "y", "TODO")
    );
    let delete = "mutation($id: ID!) { deleteTask(id: $id) }";
    ada.client.ok(delete, json!({"id": original[2]})).await;

    let rest = page(
        &ada,
        json!({"id": board, "f": 10, "after": first.end_cursor}),
    )
    .await;
    assert_eq!(
        &rest.ids[..3],
        &original[3..],
        "continues right after the cursor"
    );
    let mut appended = rest.ids[3..].to_vec();
    appended.sort();
    let mut new = vec![x, y];
    new.sort();
    assert_eq!(
        appended, new,
        "tasks inserted after the cursor show up once"
    );
    assert!(
        !rest.ids.contains(&front),
        "an insert before the cursor does not shift the page"
    );
    assert_eq!(rest.total, 8);
    assert!(!rest.has_next);
    server.stop().await;
}

#[tokio::test]
async fn first_is_capped_at_100_and_bad_arguments_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "Big").await;
    for i in 0..105 {
        create_task(&ada, &board, &format!("t{i}"), "TODO").await;
    }
    let p = page(&ada, json!({"id": board, "f": 1000})).await;
    assert_eq!((p.ids.len(), p.has_next, p.total), (100, true, 105));
    let rest = page(&ada, json!({"id": board, "after": p.end_cursor})).await;
    assert_eq!((rest.ids.len(), rest.has_next), (5, false));
    let default = page(&ada, json!({"id": board})).await;
    assert_eq!(default.ids.len(), 50, "first defaults to 50");

    for (vars, field) in [
        (json!({"id": board, "f": -1}), "first"),
        (json!({"id": board, "after": "garbage"}), "after"),
        (json!({"id": board, "after": "aTE6eA"}), "after"),
    ] {
        let body = ada.client.post(BOARD_TASKS, vars).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    server.stop().await;
}

#[tokio::test]
async fn status_and_assignee_filters_page_and_count_only_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    add_member(&ada, &board, &bob.id).await;
    let mut bobs = Vec::new();
    for i in 0..5 {
        let status = if i % 2 == 0 { "TODO" } else { "DONE" };
        let mut input = json!({"boardId": board, "title": format!("t{i}"), "status": status});
        if i < 3 {
            input["assigneeId"] = json!(bob.id);
        }
        let id = ada.client.ok(CREATE_TASK, json!({"i": input})).await["createTask"]["id"].clone();
        if i < 3 {
            bobs.push((status, id.as_str().expect("id").to_owned()));
        }
    }
    let todo = page(&ada, json!({"id": board, "s": "TODO"})).await;
    assert_eq!(todo.total, 3);
    let assigned = page(&ada, json!({"id": board, "a": bob.id, "f": 1})).await;
    assert_eq!((assigned.total, assigned.has_next), (3, true));
    let both = page(&ada, json!({"id": board, "a": bob.id, "s": "DONE"})).await;
    let expected: Vec<String> = bobs
        .iter()
        .filter(|(s, _)| *s == "DONE")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(both.ids, expected);
    server.stop().await;
}
