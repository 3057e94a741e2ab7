//! Task operations through real HTTP: every operation, who may do it, and the input rules.

mod common;

use common::{add_member, code, create_board, create_task, Server, CREATE_TASK, MOVE_TASK};
use serde_json::{json, Value};

const TASK: &str = "query($id: ID!) { task(id: $id) { id title description priority labels dueAt assignee { id } creator { id } board { id name } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { id title description priority labels dueAt } }";
const ASSIGN: &str =
    "mutation($id: ID!, $u: ID) { assignTask(id: $id, userId: $u) { id assignee { id } } }";
const DELETE: &str = "mutation($id: ID!) { deleteTask(id: $id) }";
const ASSIGNED: &str = "query($r: [_Any!]!, $s: TaskStatus, $f: Int, $after: String) { _entities(representations: $r) { ... on User { assignedTasks(status: $s, first: $f, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } } } }";

#[tokio::test]
async fn create_read_update_assign_and_delete_a_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    add_member(&ada, &board, &bob.id).await;
    let input = json!({
        "boardId": board, "title": " Write docs ", "description": " all of them ",
        "priority": "HIGH", "labels": [" docs ", "docs", "v1"], "dueAt": "2030-01-02T03:04:05Z",
        "assigneeId": bob.id,
    });
    let created = ada.client.ok(CREATE_TASK, json!({"i": input})).await["createTask"].clone();
    assert_eq!(created["title"], "Write docs");
    assert_eq!(created["description"], "all of them");
    assert_eq!(created["status"], "TODO", "default status");
    assert_eq!(created["priority"], "HIGH");
    assert_eq!(created["labels"], json!(["docs", "v1"]));
    assert_eq!(created["dueAt"], "2030-01-02T03:04:05+00:00");
    assert_eq!(created["assignee"], json!({"id": bob.id}));
    assert_eq!(created["creator"], json!({"id": ada.id}));
    assert_eq!(created["board"]["id"], board);
    let id = created["id"].as_str().expect("id");

    let read = bob.client.ok(TASK, json!({"id": id})).await["task"].clone();
    assert_eq!(read["board"]["name"], "B");

    let changes = json!({"title": "Docs", "description": null, "priority": "LOW", "labels": [], "dueAt": null});
    let updated =
        bob.client.ok(UPDATE, json!({"id": id, "i": changes})).await["updateTask"].clone();
    assert_eq!(
        updated,
        json!({"id": id, "title": "Docs", "description": null, "priority": "LOW", "labels": [], "dueAt": null})
    );
    let kept = bob.client.ok(UPDATE, json!({"id": id, "i": {}})).await["updateTask"].clone();
    assert_eq!(kept["title"], "Docs", "absent fields are kept");

    let unassigned = bob.client.ok(ASSIGN, json!({"id": id, "u": null})).await;
    assert_eq!(unassigned["assignTask"]["assignee"], Value::Null);
    let assigned = bob.client.ok(ASSIGN, json!({"id": id, "u": ada.id})).await;
    assert_eq!(assigned["assignTask"]["assignee"]["id"], ada.id);

    assert_eq!(
        bob.client.ok(DELETE, json!({"id": id})).await["deleteTask"],
        true
    );
    let gone = bob.client.post(TASK, json!({"id": id})).await;
    assert_eq!(
        (gone["data"]["task"].clone(), code(&gone)),
        (Value::Null, "NOT_FOUND")
    );
    assert_eq!(
        bob.client.error_code(DELETE, json!({"id": id})).await,
        "NOT_FOUND"
    );
    server.stop().await;
}

#[tokio::test]
async fn only_members_touch_tasks_and_anonymous_callers_are_unauthenticated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (owner, stranger) = (server.user(), server.user());
    let board = create_board(&owner, "B").await;
    let task = create_task(&owner, &board, "T", "TODO").await;
    let ops = [
        (TASK, json!({"id": task})),
        (CREATE_TASK, json!({"i": {"boardId": board, "title": "x"}})),
        (UPDATE, json!({"id": task, "i": {"title": "x"}})),
        (MOVE_TASK, json!({"id": task, "s": "DONE"})),
        (ASSIGN, json!({"id": task, "u": stranger.id})),
        (DELETE, json!({"id": task})),
    ];
    for (query, vars) in ops.iter().cloned() {
        assert_eq!(
            stranger.client.error_code(query, vars.clone()).await,
            "FORBIDDEN",
            "{query}"
        );
        assert_eq!(
            server.client.error_code(query, vars).await,
            "UNAUTHENTICATED",
            "{query}"
        );
    }
    let seen = stranger.client.post(TASK, json!({"id": task})).await;
    assert_eq!(seen["data"]["task"], Value::Null, "null with FORBIDDEN");
    let title = owner.client.ok(TASK, json!({"id": task})).await["task"]["title"].clone();
    assert_eq!(title, "T", "nothing changed");
    server.stop().await;
}

#[tokio::test]
async fn task_input_rules_name_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, outsider) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    let labels_21: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let cases = [
        (json!({"title": " "}), "title"),
        (json!({"title": "t".repeat(201)}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(10_001)}),
            "description",
        ),
        (json!({"title": "ok", "labels": labels_21}), "labels"),
        (json!({"title": "ok", "labels": ["l".repeat(41)]}), "labels"),
        (json!({"title": "ok", "labels": ["  "]}), "labels"),
        (
            json!({"title": "ok", "assigneeId": outsider.id}),
            "assigneeId",
        ),
        (
            json!({"title": "ok", "assigneeId": "not-a-user"}),
            "assigneeId",
        ),
    ];
    for (mut input, field) in cases {
        input["boardId"] = json!(board);
        let body = ada.client.post(CREATE_TASK, json!({"i": input})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let edge = json!({"boardId": board, "title": "t".repeat(200), "description": "d".repeat(10_000),
        "labels": (0..20).map(|i| "l".repeat(30) + &i.to_string()).collect::<Vec<_>>()});
    let task = ada.client.ok(CREATE_TASK, json!({"i": edge})).await["createTask"]["id"].clone();

    let update_cases = [
        (json!({"title": ""}), "title"),
        (json!({"description": "d".repeat(10_001)}), "description"),
        (json!({"labels": ["x".repeat(41)]}), "labels"),
    ];
    for (input, field) in update_cases {
        let body = ada
            .client
            .post(UPDATE, json!({"id": task, "i": input}))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let body = ada
        .client
        .post(ASSIGN, json!({"id": task, "u": outsider.id}))
        .await;
    assert_eq!(
        (
            code(&body),
            body["errors"][0]["extensions"]["field"].clone()
        ),
        ("BAD_USER_INPUT", json!("userId"))
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_and_unknown_task_ids_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let task = create_task(&ada, &board, "T", "TODO").await;
    for id in [
        "",
        "zzz",
        "0190f0a0-0000-7000-8000-000000000000",
        &"9".repeat(10_000),
    ] {
        for (query, vars) in [
            (TASK, json!({"id": id})),
            (UPDATE, json!({"id": id, "i": {"title": "x"}})),
            (MOVE_TASK, json!({"id": id, "s": "DONE"})),
            (ASSIGN, json!({"id": id, "u": null})),
            (DELETE, json!({"id": id})),
        ] {
            assert_eq!(
                ada.client.error_code(query, vars).await,
                "NOT_FOUND",
                "{query}"
            );
        }
        let body = ada
            .client
            .post(MOVE_TASK, json!({"id": task, "s": "TODO", "b": id}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "beforeTaskId {id:.10}");
        let body = ada
            .client
            .post(CREATE_TASK, json!({"i": {"boardId": id, "title": "x"}}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "boardId {id:.10}");
    }
    server.stop().await;
}

#[tokio::test]
async fn removing_a_member_unassigns_their_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    add_member(&ada, &board, &bob.id).await;
    let task = create_task(&ada, &board, "T", "TODO").await;
    ada.client
        .ok(ASSIGN, json!({"id": task, "u": bob.id}))
        .await;
    let remove = "mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { id } }";
    ada.client
        .ok(remove, json!({"b": board, "u": bob.id}))
        .await;
    let read = ada.client.ok(TASK, json!({"id": task})).await;
    assert_eq!(read["task"]["assignee"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn assigned_tasks_show_only_boards_the_caller_shares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob, carol) = (server.user(), server.user(), server.user());
    let shared = create_board(&ada, "Shared").await;
    let private = create_board(&bob, "Bob's").await;
    add_member(&ada, &shared, &bob.id).await;
    add_member(&ada, &shared, &carol.id).await;
    let mut bob_tasks = Vec::new();
    for (board, actor, title) in [
        (&shared, &ada, "s1"),
        (&private, &bob, "p1"),
        (&shared, &ada, "s2"),
    ] {
        let input = json!({"boardId": board, "title": title, "assigneeId": bob.id});
        let data = actor.client.ok(CREATE_TASK, json!({"i": input})).await;
        bob_tasks.push(data["createTask"]["id"].as_str().expect("id").to_owned());
    }
    create_task(&ada, &shared, "unassigned", "TODO").await;
    let reps = json!([{"__typename": "User", "id": bob.id}]);
    let titles = |data: &Value| -> Vec<String> {
        data["_entities"][0]["assignedTasks"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["title"].as_str().expect("title").to_owned())
            .collect()
    };
    let own = bob.client.ok(ASSIGNED, json!({"r": reps})).await;
    assert_eq!(titles(&own), vec!["s1", "p1", "s2"], "creation order");
    assert_eq!(own["_entities"][0]["assignedTasks"]["totalCount"], 3);
    let seen_by_carol = carol.client.ok(ASSIGNED, json!({"r": reps})).await;
    assert_eq!(
        titles(&seen_by_carol),
        vec!["s1", "s2"],
        "not Bob's private board"
    );

    let first = bob.client.ok(ASSIGNED, json!({"r": reps, "f": 2})).await;
    let info = &first["_entities"][0]["assignedTasks"]["pageInfo"];
    assert_eq!(info["hasNextPage"], true);
    let next = bob
        .client
        .ok(
            ASSIGNED,
            json!({"r": reps, "f": 2, "after": info["endCursor"]}),
        )
        .await;
    assert_eq!(titles(&next), vec!["s2"]);
    move_to_done(&ada, &bob_tasks[0]).await;
    let done = bob
        .client
        .ok(ASSIGNED, json!({"r": reps, "s": "DONE"}))
        .await;
    assert_eq!(titles(&done), vec!["s1"]);
    let anonymous = server.client.ok(ASSIGNED, json!({"r": reps})).await;
    assert_eq!(anonymous["_entities"][0]["assignedTasks"]["totalCount"], 0);
    server.stop().await;
}

async fn move_to_done(actor: &common::Actor, task: &str) {
    common::move_task(actor, task, "DONE", None).await;
}
