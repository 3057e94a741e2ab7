//! Hostile input, found by machines: generated documents, variables, supergraphs and HTTP
//! requests against the parts of the router that read untrusted bytes. Nothing panics, and
//! every refusal is a GraphQL error with an `extensions.code`.
//!
//! Bounded for the test command (proptest's default of 256 cases per property, small
//! inputs); a longer run: `PROPTEST_CASES=20000 cargo test -p router --test hostile_input`.

mod common;

use proptest::prelude::*;
use router::edge::limits::LimitsConfig;
use router::pipeline::{prepare_with, Admission, Caches};
use serde_json::{json, Map, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        // A failing case is printed, shrunk; nothing is written into the repository.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// GraphQL-ish token soup: real keywords, punctuation, fields of the demo supergraph,
/// directives, variables and odd strings, so many cases get past the lexer.
fn document() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{"),
        Just("}"),
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just(":"),
        Just("="),
        Just("!"),
        Just("..."),
        Just("query"),
        Just("mutation"),
        Just("subscription"),
        Just("fragment F on User"),
        Just("on"),
        Just("me"),
        Just("topProducts"),
        Just("name"),
        Just("reviews"),
        Just("body"),
        Just("author"),
        Just("username"),
        Just("id"),
        Just("__typename"),
        Just("__schema { types { name } }"),
        Just("__type(name: \"Query\")"),
        Just("@skip(if: $v)"),
        Just("@include(if: true)"),
        Just("$v"),
        Just("$v: Boolean"),
        Just("Int"),
        Just("String!"),
        Just("\"s\""),
        Just("\"\"\"b\"\"\""),
        Just("1"),
        Just("-1.5e3"),
        Just("null"),
        Just("true"),
        Just("#c\n"),
        Just("first: 5"),
        Just("a: me"),
        Just("...F"),
        Just("... on User"),
        Just("\u{feff}"),
    ];
    prop_oneof![
        prop::collection::vec(token, 0..80).prop_map(|t| t.join(" ")),
        "\\PC{0,200}",
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z$]{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A refused request names its reason with a code.
fn coded(error: &router::pipeline::RequestError) -> Result<(), TestCaseError> {
    prop_assert!(!error.code().is_empty());
    for e in error.to_graphql_errors() {
        prop_assert!(e["extensions"]["code"].is_string(), "{e}");
        prop_assert!(e["message"].is_string(), "{e}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_document_is_prepared_or_refused_with_a_code(text in document()) {
        let sg = common::supergraph("demo");
        let caches = Caches::new(8);
        let limits = LimitsConfig::default();
        let admission = Admission { limits: Some(&limits), grants: None };
        let variables = Map::from_iter([("v".to_owned(), json!(true))]);
        if let Err(error) = prepare_with(&sg, &caches, &text, None, variables, &[], admission) {
            coded(&error)?;
        }
    }

    #[test]
    fn any_variables_are_coerced_or_refused_with_a_code(values in prop::collection::vec(json_value(), 5)) {
        let sg = common::supergraph("demo");
        let caches = Caches::new(8);
        let query = "query Q($i: Int, $s: ID!, $b: Boolean!, $j: Int = 3) { me @include(if: $b) { id } user(id: $s) { id } topProducts(first: $i) { name } other: topProducts(first: $j) { name } }";
        let names = ["i", "s", "b", "j", "unknown"];
        let variables: Map<String, Value> =
            names.iter().map(|n| n.to_string()).zip(values).collect();
        match router::pipeline::prepare(&sg, &caches, query, None, variables) {
            Ok((_, coerced)) => prop_assert!(coerced["s"].is_string()),
            Err(error) => {
                prop_assert_eq!(error.code(), "BAD_USER_INPUT");
                coded(&error)?;
            }
        }
    }

    #[test]
    fn a_damaged_supergraph_is_parsed_or_refused(cuts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..40, document()), 1..4)) {
        let mut sdl = common::fixture("demo");
        for (at, len, insert) in cuts {
            let start = at.index(sdl.len());
            let start = (0..=start).rev().find(|&i| sdl.is_char_boundary(i)).unwrap_or(0);
            let end = (start + len).min(sdl.len());
            let end = (end..=sdl.len()).find(|&i| sdl.is_char_boundary(i)).unwrap_or(sdl.len());
            sdl.replace_range(start..end, &insert);
        }
        if let Err(error) = router::supergraph::Supergraph::parse(&sdl) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn any_http_request_gets_a_coded_answer(
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
        content_type in prop_oneof![
            Just("application/json"), Just("application/graphql-response+json"),
            Just("text/plain"), Just("application/json; charset=latin1"), Just(""),
        ],
        body in prop_oneof![
            json_value().prop_map(|v| v.to_string()),
            document().prop_map(|q| json!({ "query": q }).to_string()),
            (document(), json_value(), json_value()).prop_map(|(q, v, e)| {
                json!({ "query": q, "variables": v, "extensions": e, "operationName": "Q" }).to_string()
            }),
            "\\PC{0,100}",
        ],
        query_string in "[a-z=&%0-9{}]{0,40}",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, body) = runtime.block_on(async {
            let app = common::router_app(&common::fixture("demo"), std::time::Duration::from_millis(200));
            let mut request = axum::http::Request::builder()
                .method(method)
                .uri(format!("/graphql?{query_string}"))
                .header("accept", "application/graphql-response+json");
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            let request = request.body(axum::body::Body::from(body)).unwrap();
            let (status, _, body) = common::send(&app, request).await;
            (status, body)
        });
        // Subgraphs are unreachable here: what runs fails as a fetch, not as a crash.
        prop_assert!([200, 400, 403, 405, 406, 413, 415, 422, 502, 504].contains(&status), "{status}: {body}");
        if status != 200 {
            let errors = body["errors"].as_array();
            prop_assert!(errors.is_some_and(|e| !e.is_empty()), "{status}: {body}");
            for e in errors.into_iter().flatten() {
                prop_assert!(e["extensions"]["code"].is_string(), "{status}: {body}");
            }
        }
    }
}

/// A graphql-transport-ws client message: well-formed types with generated contents, or
/// anything at all.
fn ws_message() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just("connection_init"),
        Just("subscribe"),
        Just("complete"),
        Just("ping"),
        Just("pong"),
        Just("next"),
        Just("error"),
        Just("start"),
        Just(""),
    ];
    let payload = prop_oneof![
        json_value(),
        (document(), json_value()).prop_map(|(q, v)| json!({ "query": q, "variables": v })),
    ];
    prop_oneof![
        (kind, "[0-9a-z]{0,3}", payload)
            .prop_map(|(t, id, p)| json!({ "type": t, "id": id, "payload": p }).to_string()),
        json_value().prop_map(|v| v.to_string()),
        "\\PC{0,80}",
    ]
}

/// Panics raised in the router's own code while these tests run (in any task).
static ROUTER_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One router for every WebSocket case, with a hook counting the router's panics.
fn ws_router() -> &'static (tokio::runtime::Runtime, String) {
    static ROUTER: std::sync::OnceLock<(tokio::runtime::Runtime, String)> =
        std::sync::OnceLock::new();
    ROUTER.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().contains("router/src"))
            {
                ROUTER_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            previous(info);
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("ws://{}/graphql", listener.local_addr().unwrap());
            let app = common::router_app(
                &common::fixture("demo"),
                std::time::Duration::from_millis(200),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        });
        (runtime, url)
    })
}

/// Sends `messages` on one connection; the close code the router ended it with, if it did.
async fn ws_session(url: &str, messages: Vec<String>) -> Option<u16> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    for message in messages {
        if socket.send(Message::text(message)).await.is_err() {
            break;
        }
    }
    let deadline = tokio::time::sleep(std::time::Duration::from_millis(300));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return None,
            frame = socket.next() => match frame {
                Some(Ok(Message::Close(Some(close)))) => return Some(close.code.into()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases / 4, ..config() })]

    #[test]
    fn any_websocket_conversation_ends_cleanly(messages in prop::collection::vec(ws_message(), 1..6)) {
        let (runtime, url) = ws_router();
        let closed = runtime.block_on(ws_session(url, messages));
        if let Some(code) = closed {
            prop_assert!(![1011, 4500].contains(&code), "closed with an internal error: {code}");
        }
        prop_assert_eq!(ROUTER_PANICS.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}

/// Found by the property above: apollo-compiler's rendered diagnostics panicked on an error
/// next to a multi-byte character, so a bad supergraph (a hot reload) brought the task down.
#[test]
fn a_supergraph_error_beside_multibyte_text_is_an_error() {
    let sdl = common::fixture("demo").replacen(
        "directive @join__type(graph: join__Graph!",
        "directive @join__type(g:[:A\u{16AC0}{&__Graph!",
        1,
    );
    let error = router::supergraph::Supergraph::parse(&sdl).expect_err("invalid");
    assert!(error.to_string().contains("(at "), "{error}");
}
