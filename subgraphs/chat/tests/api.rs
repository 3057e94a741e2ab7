//! Every chat query and mutation through real HTTP, with its authorization rules.

mod common;

use chat::model::NameDoc;
use common::*;
use kit::events::DomainEvent;
use serde_json::{json, Value};

const EDIT: &str = "mutation($id: ID!, $b: String!) { editMessage(id: $id, body: $b) { id body editedAt mentions { id } } }";
const DELETE: &str = "mutation($id: ID!) { deleteMessage(id: $id) }";
const MINE: &str = "{ myChatRooms { id name } }";

#[tokio::test]
async fn create_room_includes_the_creator_and_dedupes_members() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let data = ada
        .ok(
            CREATE,
            json!({"n": "  Launch  ", "m": ["bob", "bob", "ada"]}),
        )
        .await;
    let room = &data["createChatRoom"];
    assert_eq!(room["name"], "Launch");
    assert_eq!(room["members"], json!([{"id": "ada"}, {"id": "bob"}]));
    assert_eq!(room["board"], Value::Null);
    assert!(room["createdAt"].as_str().is_some_and(|t| t.contains('T')));

    let solo = ada.ok(CREATE, json!({"n": "Notes", "m": []})).await;
    assert_eq!(solo["createChatRoom"]["members"], json!([{"id": "ada"}]));

    for (name, members, field) in [
        ("   ", json!([]), "name"),
        (&*"n".repeat(101), json!([]), "name"),
        ("Ok", json!([" "]), "memberIds"),
    ] {
        let body = ada.post(CREATE, json!({"n": name, "m": members})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let anonymous = server.client.post(CREATE, json!({"n": "X", "m": []})).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    server.stop().await;
}

#[tokio::test]
async fn only_members_read_a_room_and_see_it_in_my_chat_rooms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let (ada, bob, eve) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "bob"),
        server.as_user(&tokens, "eve"),
    );
    let first = create_room(&ada, "First", &["bob"]).await;
    let second = create_room(&ada, "Second", &[]).await;

    let seen = bob.ok(ROOM, json!({"id": first})).await;
    assert_eq!(seen["chatRoom"]["name"], "First");
    let forbidden = eve.post(ROOM, json!({"id": first})).await;
    assert_eq!(code(&forbidden), "FORBIDDEN", "{forbidden}");
    assert_eq!(forbidden["data"]["chatRoom"], Value::Null);
    let anonymous = server.client.post(ROOM, json!({"id": first})).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let missing = ada.ok(ROOM, json!({"id": "no-such-room"})).await;
    assert_eq!(missing["chatRoom"], Value::Null);

    let names = |data: Value| -> Vec<String> {
        data["myChatRooms"]
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["name"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(names(ada.ok(MINE, json!({})).await), ["First", "Second"]);
    assert_eq!(names(bob.ok(MINE, json!({})).await), ["First"]);
    assert!(names(eve.ok(MINE, json!({})).await).is_empty());
    assert_eq!(
        code(&server.client.post(MINE, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert!(!second.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn sending_needs_membership_and_a_valid_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let (ada, eve) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "eve"),
    );
    let room = create_room(&ada, "Room", &["bob"]).await;

    let sent = send(&ada, &room, "  hello there \n").await;
    assert_eq!(sent["body"], "hello there");
    assert_eq!(sent["author"]["id"], "ada");
    assert_eq!(sent["room"]["id"], room.as_str());
    assert_eq!(sent["editedAt"], Value::Null);
    assert_eq!(sent["seq"], 1);
    let max = "x".repeat(4000);
    assert_eq!(
        send(&ada, &room, &format!(" {max} ")).await["body"],
        max.as_str()
    );

    for body in ["", "   \n\t ", &"y".repeat(4001)] {
        let reply = ada.post(SEND, json!({"r": room, "b": body})).await;
        assert_eq!(code(&reply), "BAD_USER_INPUT", "{reply}");
        assert_eq!(reply["errors"][0]["extensions"]["field"], "body");
    }
    let outsider = eve.post(SEND, json!({"r": room, "b": "let me in"})).await;
    assert_eq!(code(&outsider), "FORBIDDEN");
    let anonymous = server
        .client
        .post(SEND, json!({"r": room, "b": "hi"}))
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let nowhere = ada.post(SEND, json!({"r": "nope", "b": "hi"})).await;
    assert_eq!(code(&nowhere), "NOT_FOUND");

    let history = full_history(&ada, &room, 50).await;
    assert_eq!(
        history.len(),
        2,
        "refused sends must not be stored: {history:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn only_the_author_edits_or_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let (ada, bob, eve) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "bob"),
        server.as_user(&tokens, "eve"),
    );
    let room = create_room(&ada, "Room", &["bob"]).await;
    let id = send(&ada, &room, "first draft").await["id"].clone();

    let edited = ada.ok(EDIT, json!({"id": id, "b": " final @bob "})).await;
    assert_eq!(edited["editMessage"]["body"], "final @bob");
    assert!(edited["editMessage"]["editedAt"].is_string());
    assert_eq!(edited["editMessage"]["mentions"], json!([{"id": "bob"}]));

    assert_eq!(
        code(&bob.post(EDIT, json!({"id": id, "b": "hijack"})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&eve.post(EDIT, json!({"id": id, "b": "hijack"})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&server.client.post(EDIT, json!({"id": id, "b": "x"})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&ada.post(EDIT, json!({"id": id, "b": "  "})).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        code(&ada.post(EDIT, json!({"id": "nope", "b": "x"})).await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&bob.post(DELETE, json!({"id": id})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&server.client.post(DELETE, json!({"id": id})).await),
        "UNAUTHENTICATED"
    );

    let history = full_history(&bob, &room, 10).await;
    assert_eq!(
        history[0]["body"], "final @bob",
        "edits by others must not apply"
    );

    assert_eq!(
        ada.ok(DELETE, json!({"id": id})).await["deleteMessage"],
        true
    );
    assert!(full_history(&bob, &room, 10).await.is_empty());
    assert_eq!(
        code(&ada.post(DELETE, json!({"id": id})).await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&ada.post(EDIT, json!({"id": id, "b": "back"})).await),
        "NOT_FOUND"
    );
    server.stop().await;
}

#[tokio::test]
async fn history_pages_backwards_with_stable_cursors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &[]).await;
    for i in 1..=7 {
        send(&ada, &room, &format!("m{i}")).await;
    }
    let page = |last: i64, before: Option<String>| {
        let ada = ada.clone();
        let room = room.clone();
        async move {
            ada.ok(HISTORY, json!({"id": room, "last": last, "before": before}))
                .await["chatRoom"]["messages"]
                .clone()
        }
    };
    let bodies = |connection: &Value| -> Vec<String> {
        connection["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["body"].as_str().expect("body").to_owned())
            .collect()
    };
    let newest = page(3, None).await;
    assert_eq!(bodies(&newest), ["m5", "m6", "m7"], "newest last");
    assert_eq!(newest["pageInfo"]["hasPreviousPage"], true);
    let cursor = newest["pageInfo"]["startCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    assert_eq!(
        cursor,
        newest["edges"][0]["cursor"].as_str().expect("cursor")
    );

    // New messages and deletions after the page was read do not move the cursor.
    send(&ada, &room, "m8").await;
    let older = page(3, Some(cursor.clone())).await;
    assert_eq!(bodies(&older), ["m2", "m3", "m4"]);
    let oldest = page(
        3,
        older["pageInfo"]["startCursor"].as_str().map(str::to_owned),
    )
    .await;
    assert_eq!(bodies(&oldest), ["m1"]);
    assert_eq!(oldest["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(
        bodies(&page(3, Some(cursor.clone())).await),
        ["m2", "m3", "m4"]
    );

    let default_page = ada.ok(HISTORY, json!({"id": room})).await;
    assert_eq!(bodies(&default_page["chatRoom"]["messages"]).len(), 8);
    let empty = page(0, None).await;
    assert_eq!(empty["edges"], json!([]));
    assert_eq!(empty["pageInfo"]["startCursor"], Value::Null);
    for (last, before) in [
        (-1, None),
        (201, None),
        (5, Some("not-a-cursor".to_owned())),
    ] {
        let body = ada
            .post(HISTORY, json!({"id": room, "last": last, "before": before}))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    }
    server.stop().await;
}

/// Appends an accounts event and waits until chat's name directory holds `name` for `user`.
async fn account_event(server: &Server, kind: &str, user: &str, name: &str) -> DomainEvent {
    let event = DomainEvent::new(kind, user, json!({"userId": user, "name": name}));
    append_account(server, &event).await;
    wait_for_name(server, user, name).await;
    event
}

async fn append_account(server: &Server, event: &DomainEvent) {
    let events = &server.chat.infra.events;
    events.append("accounts", event).await.expect("append");
}

async fn wait_for_name(server: &Server, user: &str, name: &str) {
    let names = server.chat.infra.store.collection::<NameDoc>("names");
    eventually("name applied", || {
        let names = names.clone();
        async move {
            let doc = names.get(user).await.expect("get");
            doc.is_some_and(|d| d.name == name)
        }
    })
    .await;
}

#[tokio::test]
async fn mentions_resolve_against_room_members_at_send_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let registered = account_event(&server, "UserRegistered", "bob-id", "Bob Builder").await;
    account_event(&server, "UserRegistered", "eve", "Eve").await;
    account_event(&server, "UserRegistered", "ada", "Ada Lovelace").await;
    let room = create_room(&ada, "Room", &["bob-id"]).await;

    let text = "hey @BobBuilder and @BOB-ID, @eve @nobody mail ada@bob-id.com";
    let sent = send(&ada, &room, text).await;
    assert_eq!(
        sent["mentions"],
        json!([{"id": "bob-id"}]),
        "eve is not a member: {sent}"
    );
    assert_eq!(sent["body"], text, "unknown names stay plain text");
    let to_self = send(&ada, &room, "note to @ada_lovelace.").await;
    assert_eq!(to_self["mentions"], json!([{"id": "ada"}]));
    let both = send(&ada, &room, "@Ada.Lovelace @bob_builder").await;
    assert_eq!(both["mentions"], json!([{"id": "ada"}, {"id": "bob-id"}]));
    assert_eq!(
        send(&ada, &room, "no mentions @ all, @ad or @lovelace").await["mentions"],
        json!([])
    );

    // After a rename only the new name matches.
    account_event(&server, "UserRenamed", "bob-id", "Robert").await;
    assert_eq!(
        send(&ada, &room, "@bobbuilder?").await["mentions"],
        json!([])
    );
    assert_eq!(
        send(&ada, &room, "@robert!").await["mentions"],
        json!([{"id": "bob-id"}])
    );

    // A redelivered (older) registration does not undo the rename.
    append_account(&server, &registered).await;
    account_event(&server, "UserRegistered", "zed", "Zed").await;
    assert_eq!(
        send(&ada, &room, "@robert").await["mentions"],
        json!([{"id": "bob-id"}])
    );
    assert_eq!(
        send(&ada, &room, "@bobbuilder").await["mentions"],
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn stored_mentions_are_kept_when_names_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    account_event(&server, "UserRegistered", "bob", "Bob").await;
    let room = create_room(&ada, "Room", &["bob"]).await;
    let id = send(&ada, &room, "hi @bob").await["id"].clone();
    account_event(&server, "UserRenamed", "bob", "Robert").await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Message { mentions { id } } } }";
    let data = ada
        .ok(query, json!({"r": [{"__typename": "Message", "id": id}]}))
        .await;
    assert_eq!(data["_entities"][0]["mentions"], json!([{"id": "bob"}]));
    server.stop().await;
}

#[tokio::test]
async fn entities_are_loaded_through_dataloaders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let mut rooms = Vec::new();
    let mut messages = Vec::new();
    for i in 0..3 {
        let room = create_room(&ada, &format!("R{i}"), &[]).await;
        messages.push(send(&ada, &room, &format!("in {i}")).await["id"].clone());
        rooms.push(room);
    }
    let foreign = create_room(&server.as_user(&tokens, "eve"), "Eve's", &[]).await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on ChatRoom { id name } ... on Message { id body } } }";

    let mut reps: Vec<Value> = rooms
        .iter()
        .map(|id| json!({"__typename": "ChatRoom", "id": id}))
        .collect();
    reps.push(json!({"__typename": "ChatRoom", "id": "missing"}));
    let before = store_calls(&server.metrics, "find");
    let data = ada.ok(query, json!({"r": reps})).await;
    assert_eq!(
        store_calls(&server.metrics, "find") - before,
        1,
        "one query for all rooms"
    );
    assert_eq!(data["_entities"][1], json!({"id": rooms[1], "name": "R1"}));
    assert_eq!(data["_entities"][3], Value::Null);

    let reps: Vec<Value> = messages
        .iter()
        .map(|id| json!({"__typename": "Message", "id": id}))
        .collect();
    let before = store_calls(&server.metrics, "find");
    let data = ada.ok(query, json!({"r": reps})).await;
    assert_eq!(
        store_calls(&server.metrics, "find") - before,
        2,
        "one query for the messages, one for their rooms (authorization)"
    );
    assert_eq!(
        data["_entities"][2],
        json!({"id": messages[2], "body": "in 2"})
    );

    let denied = ada
        .post(
            query,
            json!({"r": [{"__typename": "ChatRoom", "id": foreign}]}),
        )
        .await;
    assert_eq!(code(&denied), "FORBIDDEN");
    assert_eq!(denied["data"]["_entities"][0], Value::Null);
    let eve = server.as_user(&tokens, "eve");
    let message = json!({"r": [{"__typename": "Message", "id": messages[0]}]});
    assert_eq!(code(&eve.post(query, message.clone()).await), "FORBIDDEN");
    assert_eq!(
        code(&server.client.post(query, message).await),
        "UNAUTHENTICATED"
    );
    server.stop().await;
}

#[tokio::test]
async fn message_posted_events_are_appended_for_notifications() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &["bob"]).await;
    let sent = send(&ada, &room, "ping @bob").await;

    let events = server.chat.infra.events.clone();
    events
        .ensure_group("chat", "test-notifications")
        .await
        .expect("group");
    let delivered = events
        .read_new(
            "chat",
            "test-notifications",
            "t",
            10,
            std::time::Duration::from_secs(2),
        )
        .await
        .expect("read");
    assert_eq!(delivered.len(), 1);
    let event = &delivered[0].event;
    assert_eq!(event.kind, "MessagePosted");
    assert_eq!(event.actor, "ada");
    assert_eq!(event.id, sent["id"].as_str().expect("id"));
    assert_eq!(
        event.payload,
        json!({"roomId": room, "roomName": "Room", "messageId": sent["id"], "authorId": "ada", "mentionedUserIds": ["bob"]})
    );
    server.stop().await;
}

#[tokio::test]
async fn http_surface_health_ready_metrics_and_get_queries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();
    assert_eq!(get("/health").await.expect("health").status(), 200);
    assert_eq!(get("/ready").await.expect("ready").status(), 200);
    let metrics = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("platform_store_call_duration_seconds_count"));
    let body: Value = http
        .get(format!(
            "{}/graphql?query=%7B%20myChatRooms%20%7B%20id%20%7D%20%7D",
            server.base
        ))
        .bearer_auth(tokens.token("ada"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!({"data": {"myChatRooms": []}}));
    let mutation = get("/graphql?query=mutation%20%7B%20deleteMessage(id%3A%20%22x%22)%20%7D")
        .await
        .expect("get");
    assert_eq!(mutation.status(), 405);
    server.stop().await;
}
