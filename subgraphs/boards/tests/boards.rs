//! Board and membership operations through real HTTP, with every authorization and input rule.

mod common;

use common::{add_member, code, create_board, Server, CREATE_BOARD};
use serde_json::{json, Value};

const BOARD: &str = "query($id: ID!) { board(id: $id) { id name description owner { id } members { user { id } role } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateBoardInput!) { updateBoard(id: $id, input: $i) { id name description updatedAt } }";
const DELETE: &str = "mutation($id: ID!) { deleteBoard(id: $id) }";
const REMOVE: &str = "mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { members { user { id } } } }";
const MY_BOARDS: &str = "{ myBoards { id name } }";

#[tokio::test]
async fn create_read_update_and_delete_a_board() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let created = ada
        .client
        .ok(
            CREATE_BOARD,
            json!({"i": {"name": "  Roadmap ", "description": " Q3 "}}),
        )
        .await["createBoard"]
        .clone();
    assert_eq!(created["name"], "Roadmap", "trimmed");
    assert_eq!(created["description"], "Q3");
    assert_eq!(created["owner"], json!({"id": ada.id}), "a User reference");
    assert_eq!(created["members"][0]["user"]["id"], ada.id);
    assert_eq!(created["members"][0]["role"], "OWNER");
    let id = created["id"].as_str().expect("id");

    let read = ada.client.ok(BOARD, json!({"id": id})).await;
    assert_eq!(read["board"]["name"], "Roadmap");

    let updated = ada
        .client
        .ok(UPDATE, json!({"id": id, "i": {"name": "Plan"}}))
        .await;
    assert_eq!(updated["updateBoard"]["name"], "Plan");
    assert_eq!(updated["updateBoard"]["description"], "Q3", "absent keeps");
    let cleared = ada
        .client
        .ok(UPDATE, json!({"id": id, "i": {"description": null}}))
        .await;
    assert_eq!(
        cleared["updateBoard"]["description"],
        Value::Null,
        "null clears"
    );

    let mine = ada.client.ok(MY_BOARDS, json!({})).await;
    assert_eq!(mine["myBoards"], json!([{"id": id, "name": "Plan"}]));

    assert_eq!(
        ada.client.ok(DELETE, json!({"id": id})).await["deleteBoard"],
        true
    );
    let gone = ada.client.post(BOARD, json!({"id": id})).await;
    assert_eq!(gone["data"]["board"], Value::Null);
    assert_eq!(code(&gone), "NOT_FOUND");
    assert_eq!(
        ada.client.ok(MY_BOARDS, json!({})).await["myBoards"],
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn anonymous_callers_are_unauthenticated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let id = create_board(&ada, "B").await;
    let anonymous = &server.client;
    for (query, vars) in [
        (BOARD, json!({"id": id})),
        (MY_BOARDS, json!({})),
        (CREATE_BOARD, json!({"i": {"name": "x"}})),
        (UPDATE, json!({"id": id, "i": {"name": "x"}})),
        (DELETE, json!({"id": id})),
        (REMOVE, json!({"b": id, "u": ada.id})),
    ] {
        assert_eq!(
            anonymous.error_code(query, vars).await,
            "UNAUTHENTICATED",
            "{query}"
        );
    }
    let forged = anonymous.with_token("not.a.token");
    assert_eq!(
        forged.error_code(MY_BOARDS, json!({})).await,
        "UNAUTHENTICATED"
    );
    server.stop().await;
}

#[tokio::test]
async fn non_members_are_forbidden_and_members_cannot_administer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (owner, member, stranger) = (server.user(), server.user(), server.user());
    let id = create_board(&owner, "Team").await;
    add_member(&owner, &id, &member.id).await;

    let seen = stranger.client.post(BOARD, json!({"id": id})).await;
    assert_eq!(seen["data"]["board"], Value::Null, "null with the error");
    assert_eq!(code(&seen), "FORBIDDEN");
    assert_eq!(
        member.client.ok(BOARD, json!({"id": id})).await["board"]["id"],
        id
    );

    let other = server.user();
    let admin_ops = [
        (UPDATE, json!({"id": id, "i": {"name": "Mine"}})),
        (DELETE, json!({"id": id})),
        (common::ADD_MEMBER, json!({"b": id, "u": other.id})),
        (REMOVE, json!({"b": id, "u": member.id})),
    ];
    for (query, vars) in admin_ops {
        assert_eq!(
            member.client.error_code(query, vars.clone()).await,
            "FORBIDDEN",
            "member: {query}"
        );
        assert_eq!(
            stranger.client.error_code(query, vars).await,
            "FORBIDDEN",
            "stranger: {query}"
        );
    }
    let board = owner.client.ok(BOARD, json!({"id": id})).await;
    assert_eq!(board["board"]["name"], "Team", "nothing changed");
    assert_eq!(
        board["board"]["members"].as_array().expect("members").len(),
        2
    );
    server.stop().await;
}

#[tokio::test]
async fn members_are_added_once_and_removed_but_never_the_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (owner, bob) = (server.user(), server.user());
    let id = create_board(&owner, "Team").await;
    add_member(&owner, &id, &bob.id).await;
    add_member(&owner, &id, &bob.id).await;
    let board = owner.client.ok(BOARD, json!({"id": id})).await["board"].clone();
    let members: Vec<(&str, &str)> = board["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["user"]["id"].as_str().expect("id"),
                m["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(
        members,
        vec![(owner.id.as_str(), "OWNER"), (bob.id.as_str(), "MEMBER")]
    );
    assert_eq!(
        bob.client.ok(MY_BOARDS, json!({})).await["myBoards"][0]["id"],
        id
    );

    let owner_out = owner
        .client
        .post(REMOVE, json!({"b": id, "u": owner.id}))
        .await;
    assert_eq!(code(&owner_out), "BAD_USER_INPUT");
    assert_eq!(owner_out["errors"][0]["extensions"]["field"], "userId");
    let stranger = server.user();
    let not_member = owner
        .client
        .post(REMOVE, json!({"b": id, "u": stranger.id}))
        .await;
    assert_eq!(code(&not_member), "NOT_FOUND");
    let malformed = owner
        .client
        .post(common::ADD_MEMBER, json!({"b": id, "u": "bob"}))
        .await;
    assert_eq!(code(&malformed), "NOT_FOUND", "user ids are uuids");

    let removed = owner.client.ok(REMOVE, json!({"b": id, "u": bob.id})).await;
    assert_eq!(
        removed["removeBoardMember"]["members"],
        json!([{"user": {"id": owner.id}}])
    );
    assert_eq!(
        bob.client.error_code(BOARD, json!({"id": id})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        bob.client.ok(MY_BOARDS, json!({})).await["myBoards"],
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn board_input_rules_name_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let cases = [
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "ok", "description": "d".repeat(10_001)}),
            "description",
        ),
    ];
    for (input, field) in cases {
        let body = ada.client.post(CREATE_BOARD, json!({"i": input})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let max = ada
        .client
        .ok(CREATE_BOARD, json!({"i": {"name": "é".repeat(100)}}))
        .await;
    let id = max["createBoard"]["id"].as_str().expect("id");
    let body = ada
        .client
        .post(UPDATE, json!({"id": id, "i": {"name": ""}}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "name");
    server.stop().await;
}

#[tokio::test]
async fn malformed_and_unknown_board_ids_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let long = "x".repeat(5000);
    for id in [
        "",
        "nope",
        "'; DROP TABLE boards; --",
        long.as_str(),
        "0190f0a0-0000-7000-8000-000000000000",
    ] {
        let body = ada.client.post(BOARD, json!({"id": id})).await;
        assert_eq!(body["data"]["board"], Value::Null);
        assert_eq!(code(&body), "NOT_FOUND", "{id:.20}");
        for (query, vars) in [
            (UPDATE, json!({"id": id, "i": {"name": "x"}})),
            (DELETE, json!({"id": id})),
            (common::ADD_MEMBER, json!({"b": id, "u": ada.id})),
        ] {
            assert_eq!(
                ada.client.error_code(query, vars).await,
                "NOT_FOUND",
                "{query}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn user_boards_are_visible_to_the_user_themself_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let id = create_board(&ada, "Ada's").await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id boards { id name } } } }";
    let reps = json!({"r": [{"__typename": "User", "id": ada.id}]});
    let own = ada.client.ok(query, reps.clone()).await;
    assert_eq!(
        own["_entities"][0]["boards"],
        json!([{"id": id, "name": "Ada's"}])
    );
    let others = bob.client.ok(query, reps.clone()).await;
    assert_eq!(others["_entities"][0], json!({"id": ada.id, "boards": []}));
    let anonymous = server.client.ok(query, reps).await;
    assert_eq!(anonymous["_entities"][0]["boards"], json!([]));
    server.stop().await;
}
