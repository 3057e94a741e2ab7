//! Golden file: the federation SDL this subgraph serves is checked in as `schema/chat.graphql`.
//! When it changes, the test rewrites the file and fails, so the change shows in review.

use std::sync::Arc;

#[tokio::test]
async fn federation_sdl_matches_the_checked_in_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = kit::store::Store::new(
        Arc::new(kit::store::EmbeddedStore::open(&dir.path().join("c.db")).expect("open")),
        kit::metrics::Metrics::new("chat"),
    );
    let metrics = kit::metrics::Metrics::new("chat");
    let events = kit::events::EmbeddedEventStream::open(&dir.path().join("events.db"), metrics)
        .expect("events");
    let service = chat::ChatService::new(
        &store,
        Arc::new(kit::events::InProcessPubSub::new()),
        Arc::new(events),
    )
    .await
    .expect("service");
    let sdl = chat::federation_sdl(&chat::build_schema(Arc::new(service)));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/chat.graphql");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != sdl {
        std::fs::write(&path, &sdl).expect("write golden file");
        panic!("schema/chat.graphql was stale and has been rewritten; review and commit it");
    }
}

/// Every name of the contract (`contract/chat.graphql`) is served, unrenamed.
#[tokio::test]
async fn the_contract_names_are_all_served() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/chat.graphql");
    let sdl = std::fs::read_to_string(path).expect("golden file exists");
    for needle in [
        "type ChatRoom @key(fields: \"id\")",
        "type Message @key(fields: \"id\")",
        "type Board @key(fields: \"id\")",
        "type User @key(fields: \"id\", resolvable: false)",
        "messages(last: Int = 50, before: String): MessageConnection!",
        "chatRoom: ChatRoom!",
        "chatRoom(id: ID!): ChatRoom",
        "myChatRooms: [ChatRoom!]!",
        "createChatRoom(name: String!, memberIds: [ID!]!): ChatRoom!",
        "sendMessage(roomId: ID!, body: String!): Message!",
        "editMessage(id: ID!, body: String!): Message!",
        "deleteMessage(id: ID!): Boolean!",
        "messageAdded(roomId: ID!): Message!",
        "hasPreviousPage: Boolean!",
        "startCursor: String",
        "editedAt: DateTime",
        "mentions: [User!]!",
    ] {
        assert!(
            sdl.contains(needle),
            "missing from the SDL: {needle}\n{sdl}"
        );
    }
}
