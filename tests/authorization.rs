//! The platform's access rules as its subgraph schemas declare them (`@authenticated`,
//! `@requiresScopes`), enforced by the router before any subgraph is called, with the scopes
//! accounts puts in its tokens.

use std::collections::BTreeSet;

mod common;

use base64::Engine;
use common::Stack;
use kit::test_client::{GqlClient, Subscription};
use serde_json::{json, Value};

const SIGN_IN: &str = "mutation($e: String!, $s: [String!]) { signIn(email: $e, password: \"correct horse battery\", scopes: $s) { accessToken refreshToken } }";
const CREATE_BOARD: &str = "mutation { createBoard(input: {name: \"Plans\"}) { id } }";
const MY_BOARDS: &str = "{ myBoards { name } }";

/// The `scope` claim of an access token (its payload is not verified here: the router does).
fn scope_claim(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["scope"].as_str().expect("a scope claim").to_owned()
}

fn unauthorized_at(body: &Value, path: &str) {
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "UNAUTHORIZED_FIELD_OR_TYPE",
        "{body}"
    );
    assert_eq!(error["path"], json!([path]), "{body}");
}

async fn sign_in(stack: &Stack, scopes: Value) -> (GqlClient, String, String) {
    let data = stack
        .router()
        .ok(SIGN_IN, json!({"e": "ada@example.com", "s": scopes}))
        .await;
    let token = data["signIn"]["accessToken"].as_str().expect("token");
    let refresh = data["signIn"]["refreshToken"].as_str().expect("refresh");
    (
        stack.router().with_token(token),
        token.to_owned(),
        refresh.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_and_sign_in_decide_what_reaches_the_subgraphs() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    assert_eq!(scope_claim(&ada.token), "boards:write chat:write");
    ada.client.ok(CREATE_BOARD, json!({})).await;

    // Anonymous: the protected field is null with the router's error; the rest still runs.
    let anonymous = stack
        .router()
        .post("{ board(id: \"b1\") { id } me { id } }", json!({}))
        .await;
    assert_eq!(anonymous["data"], json!({"board": null, "me": null}));
    unauthorized_at(&anonymous, "board");

    // A token without scopes reads but does not write: the mutation never reaches boards.
    let (reader, token, refresh) = sign_in(&stack, json!([])).await;
    assert_eq!(scope_claim(&token), "");
    assert_eq!(
        reader.ok(MY_BOARDS, json!({})).await,
        json!({"myBoards": [{"name": "Plans"}]})
    );
    let refused = reader.post(CREATE_BOARD, json!({})).await;
    assert_eq!(refused["data"], Value::Null, "{refused}");
    unauthorized_at(&refused, "createBoard");
    let send = "mutation { sendMessage(roomId: \"r1\", body: \"hi\") { id } }";
    unauthorized_at(&reader.post(send, json!({})).await, "sendMessage");
    assert_eq!(
        ada.client.ok(MY_BOARDS, json!({})).await["myBoards"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the refused mutation created nothing"
    );

    // A refreshed session keeps the scopes it was signed in with.
    let renewed = stack
        .router()
        .ok(
            "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }",
            json!({"r": refresh}),
        )
        .await;
    let renewed = renewed["refreshSession"]["accessToken"]
        .as_str()
        .expect("token");
    assert_eq!(scope_claim(renewed), "");
    unauthorized_at(
        &stack
            .router()
            .with_token(renewed)
            .post(CREATE_BOARD, json!({}))
            .await,
        "createBoard",
    );

    // One scope: boards may be written, chat may not.
    let (boards_only, token, _) = sign_in(&stack, json!(["boards:write"])).await;
    assert_eq!(scope_claim(&token), "boards:write");
    boards_only.ok(CREATE_BOARD, json!({})).await;
    let room = "mutation { createChatRoom(name: \"x\", memberIds: []) { id } }";
    unauthorized_at(&boards_only.post(room, json!({})).await, "createChatRoom");

    let unknown = stack
        .router()
        .error_code(SIGN_IN, json!({"e": "ada@example.com", "s": ["admin"]}))
        .await;
    assert_eq!(unknown, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_scopes_still_subscribes_to_what_it_may_read() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    let board = ada.client.ok(CREATE_BOARD, json!({})).await["createBoard"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, token, _) = sign_in(&stack, json!([])).await;
    let query =
        format!("subscription {{ taskChanged(boardId: \"{board}\") {{ kind task {{ title }} }} }}");
    let mut live = Subscription::start(&stack.platform.urls.router, &token, &query).await;
    ada.client
        .ok(
            "mutation($b: ID!) { createTask(input: {boardId: $b, title: \"Write\"}) { id } }",
            json!({"b": board}),
        )
        .await;
    let event = live.next_data().await;
    assert_eq!(event["taskChanged"]["task"]["title"], "Write", "{event}");
}

/// Every scope a subgraph requires is one accounts can issue: a scope nobody holds would
/// lock the field for everyone.
#[test]
fn every_required_scope_is_issued_by_accounts() {
    let supergraph = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql"),
    )
    .expect("supergraph");
    let required: BTreeSet<&str> = supergraph
        .split("@requiresScopes(scopes: ")
        .skip(1)
        .flat_map(|rest| {
            let list = &rest[..rest.find(")").expect("closed")];
            list.split('"').skip(1).step_by(2)
        })
        .collect();
    let issued: BTreeSet<&str> = accounts::validate::SCOPES.into_iter().collect();
    assert!(!required.is_empty(), "the subgraphs declare scopes");
    assert!(required.is_subset(&issued), "{required:?} vs {issued:?}");
}
