//! The launcher's router knows the live UI's operations by id (the UI's persisted-document
//! manifest), and with `safelist` runs nothing else.

mod common;

use common::Stack;
use serde_json::{json, Map, Value};

/// The live UI's manifest as the platform serves it: sha256 -> document.
async fn ui_manifest(stack: &Stack) -> Map<String, Value> {
    let url = format!("{}/persisted-documents.json", stack.platform.urls.router);
    let manifest: Value = reqwest::get(url)
        .await
        .expect("manifest")
        .json()
        .await
        .expect("JSON");
    manifest.as_object().expect("an id -> document map").clone()
}

/// The id of the UI's operation named `name`.
fn id_of(manifest: &Map<String, Value>, name: &str) -> String {
    let (id, _) = manifest
        .iter()
        .find(|(_, doc)| {
            doc.as_str().is_some_and(|d| {
                d.contains(&format!(" {name}(")) || d.contains(&format!(" {name} {{"))
            })
        })
        .unwrap_or_else(|| panic!("the UI has an operation {name}: {manifest:?}"));
    id.clone()
}

async fn post(stack: &Stack, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(stack.graphql_url()).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("router answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn by_hash(id: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": id}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_operations_run_by_id_with_or_without_the_safelist() {
    for safelist in [false, true] {
        let stack = Stack::start_with(|config| config.safelist = safelist).await;
        let manifest = ui_manifest(&stack).await;
        let sign_up = json!({
            "documentId": id_of(&manifest, "SignUp"),
            "variables": {"input": {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}},
        });
        let (_, signed_up) = post(&stack, None, sign_up).await;
        let token = signed_up["data"]["signUp"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("signed up: {signed_up}"));
        let my_boards = id_of(&manifest, "MyBoards");

        // By APQ hash, by `documentId`, and with the empty `query` graphql-ws clients send.
        for body in [
            json!({"extensions": by_hash(&my_boards)}),
            json!({"documentId": my_boards}),
            json!({"query": "", "extensions": by_hash(&my_boards)}),
        ] {
            let (status, answer) = post(&stack, Some(token), body).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["data"]["myBoards"], json!([]), "{answer}");
        }
        // The listed text itself runs too; another document only without the safelist.
        let text = manifest[&my_boards].as_str().expect("document");
        let (_, answer) = post(&stack, Some(token), json!({"query": text})).await;
        assert_eq!(answer["data"]["myBoards"], json!([]), "{answer}");
        let (status, answer) = post(&stack, None, json!({"query": "{ __typename }"})).await;
        if safelist {
            assert_eq!(status, 403, "{answer}");
            assert_eq!(
                answer["errors"][0]["extensions"]["code"],
                "PERSISTED_QUERY_NOT_IN_LIST"
            );
        } else {
            assert_eq!(answer["data"]["__typename"], "Query", "{answer}");
        }
    }
}
