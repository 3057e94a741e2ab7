//! Subscriptions through the router: planning, the three client transports (WebSocket with
//! both subprotocols, SSE, multipart), entity completion per event, deduplication, cleanup,
//! upstream failures and reconnection, and the protocols' limits and close codes.
//!
//! The live subgraph serves `reviewAdded` over `graphql-transport-ws` behind a TCP proxy the
//! tests can cut; `Review.author` and `Review.product` are completed from the in-repo
//! accounts and products subgraphs over HTTP.

mod common;

use async_graphql::futures_util::Stream;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{
    Context, Data, ErrorExtensions, Object, Schema, SimpleObject, Subscription, ID,
};
use async_graphql_axum::{GraphQL, GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use router::execute::fetch::SubgraphClient;
use router::subscription::SubscriptionSettings;
use router::{AppState, ExecutionSettings, RouterState};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

// ---- the live subgraph ------------------------------------------------------------------

#[derive(SimpleObject, Clone)]
#[graphql(unresolvable = "upc")]
struct Product {
    upc: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(unresolvable = "id")]
struct User {
    id: ID,
}

#[derive(SimpleObject, Clone)]
struct Review {
    id: ID,
    body: String,
    product: Product,
    author: User,
}

struct LiveQuery;

#[Object(name = "Query")]
impl LiveQuery {
    async fn live(&self) -> bool {
        true
    }
}

/// The `Authorization` a WebSocket connection was initialised with.
struct InitAuthorization(Option<String>);

#[derive(Clone, Default)]
struct Counters {
    /// `reviewAdded` streams currently open in the subgraph.
    active: Arc<AtomicUsize>,
    /// `reviewAdded` streams ever opened.
    opened: Arc<AtomicUsize>,
    /// WebSocket connections accepted.
    connections: Arc<AtomicUsize>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
}

struct StreamGuard(Arc<AtomicUsize>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct LiveSubscription;

#[Subscription(name = "Subscription")]
impl LiveSubscription {
    /// Reviews as they are published; only for callers initialised with `Bearer good`.
    async fn review_added(
        &self,
        ctx: &Context<'_>,
        upc: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = Review>> {
        let auth = ctx
            .data_opt::<InitAuthorization>()
            .and_then(|a| a.0.clone());
        if auth.as_deref() != Some("Bearer good") {
            return Err(async_graphql::Error::new("not allowed")
                .extend_with(|_, e| e.set("code", "FORBIDDEN")));
        }
        let counters = ctx.data::<Counters>()?.clone();
        counters.active.fetch_add(1, Ordering::SeqCst);
        counters.opened.fetch_add(1, Ordering::SeqCst);
        let guard = StreamGuard(counters.active.clone());
        let receiver = ctx.data::<broadcast::Sender<Review>>()?.subscribe();
        Ok(futures::stream::unfold(
            (receiver, guard, upc),
            |(mut receiver, guard, upc)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(review) if upc.as_ref().is_none_or(|u| *u == review.product.upc) => {
                            return Some((review, (receiver, guard, upc)))
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        ))
    }
}

type LiveSchema = Schema<LiveQuery, async_graphql::EmptyMutation, LiveSubscription>;

struct Live {
    /// The subgraph's own address (the proxy forwards to it).
    addr: std::net::SocketAddr,
    publish: broadcast::Sender<Review>,
    counters: Counters,
}

impl Live {
    async fn start() -> Live {
        let (publish, _) = broadcast::channel(64);
        let counters = Counters::default();
        let schema = Schema::build(LiveQuery, async_graphql::EmptyMutation, LiveSubscription)
            .enable_federation()
            .enable_subscription_in_federation()
            .data(publish.clone())
            .data(counters.clone())
            .finish();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route(
                "/graphql",
                axum::routing::get(live_websocket).post_service(GraphQL::new(schema.clone())),
            )
            .with_state((schema.clone(), counters.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Live {
            addr,
            publish,
            counters,
        }
    }

    fn publish(&self, id: &str, body: &str, upc: &str, author: &str) {
        let review = Review {
            id: ID(id.into()),
            body: body.into(),
            product: Product { upc: upc.into() },
            author: User {
                id: ID(author.into()),
            },
        };
        let _ = self.publish.send(review);
    }

    fn active(&self) -> usize {
        self.counters.active.load(Ordering::SeqCst)
    }

    fn opened(&self) -> usize {
        self.counters.opened.load(Ordering::SeqCst)
    }
}

async fn live_websocket(
    State((schema, counters)): State<(LiveSchema, Counters)>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    counters.connections.fetch_add(1, Ordering::SeqCst);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let auth = payload
                        .get("authorization")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    counters.authorizations.lock().push(auth.clone());
                    let mut data = Data::default();
                    data.insert(InitAuthorization(auth));
                    Ok(data)
                })
                .serve()
                .await
        })
        .into_response()
}

// ---- a TCP proxy the tests can cut ------------------------------------------------------

struct Proxy {
    addr: std::net::SocketAddr,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    refusing: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (list, refuse) = (connections.clone(), refusing.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().push(task);
            }
        });
        Proxy {
            addr,
            connections,
            refusing,
        }
    }

    /// Drops every open connection, as a subgraph restart would.
    fn cut(&self) {
        for task in self.connections.lock().drain(..) {
            task.abort();
        }
    }

    fn refuse(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }
}

// ---- the federation ---------------------------------------------------------------------

struct Federation {
    live: Live,
    proxy: Proxy,
    accounts: common::subgraphs::TestSubgraph,
    app: Arc<AppState>,
    supergraph: String,
    /// The router's `ws://…/graphql` and `http://…/graphql`.
    ws_url: String,
    http_url: String,
}

fn fast_settings() -> SubscriptionSettings {
    SubscriptionSettings {
        reconnect_base: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(200),
        reconnect_attempts: 5,
        connect_timeout: Duration::from_secs(2),
        ..SubscriptionSettings::default()
    }
}

impl Federation {
    async fn start() -> Federation {
        Federation::start_with(fast_settings(), None).await
    }

    async fn start_with(
        subscriptions: SubscriptionSettings,
        verifier: Option<Arc<auth::TokenVerifier>>,
    ) -> Federation {
        let live = Live::start().await;
        let proxy = Proxy::start(live.addr).await;
        let accounts = common::subgraphs::accounts().await;
        let products = common::subgraphs::products().await;
        let sources = [
            ("live", format!("http://{}/graphql", proxy.addr)),
            ("accounts", accounts.url.clone()),
            ("products", products.url.clone()),
        ]
        .map(|(name, url)| router::recompose::SubgraphSource {
            name: name.into(),
            url,
            sdl_file: None,
        });
        let mut inputs = router::recompose::fetch_all(&sources).await.unwrap();
        // The shared demo subgraphs name their root types `AccountsQuery`/`ProductsQuery`,
        // which async-graphql's federation SDL does not declare as roots.
        for input in &mut inputs {
            for root in ["AccountsQuery", "ProductsQuery"] {
                input.sdl = input.sdl.replace(&format!("type {root} "), "type Query ");
            }
        }
        let supergraph = router::compose::compose(&inputs).unwrap_or_else(|e| {
            let sdls: Vec<&str> = inputs.iter().map(|i| i.sdl.as_str()).collect();
            panic!(
                "the test subgraphs compose: {e:?}\n{}",
                sdls.join("\n----\n")
            )
        });
        let settings = ExecutionSettings {
            subscriptions,
            ..Default::default()
        };
        let state =
            RouterState::new(&supergraph, Arc::new(SubgraphClient::new()), settings).unwrap();
        let app = Arc::new(AppState::new(state, Vec::new()).with_verifier(verifier));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = router::app(app.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Federation {
            live,
            proxy,
            accounts,
            app,
            supergraph,
            ws_url: format!("ws://{addr}/graphql"),
            http_url: format!("http://{addr}/graphql"),
        }
    }

    /// A `graphql-transport-ws` client of the allowed caller subscribed to every review
    /// (operation id "1"), once the subgraph has the stream open.
    async fn subscribed(&self) -> Client {
        let mut client = Client::init(&self.ws_url, "Bearer good").await;
        client.subscribe("1", SUBSCRIPTION, json!({})).await;
        self.until_active(1).await;
        client
    }

    fn hub_running(&self) -> usize {
        self.app.current.load().subscriptions.running()
    }

    /// Waits until the live subgraph has `n` open `reviewAdded` streams.
    async fn until_active(&self, n: usize) {
        eventually(|| self.live.active() == n, &format!("{n} upstream streams")).await;
    }
}

async fn eventually(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SUBSCRIPTION: &str =
    "subscription($upc: String) { reviewAdded(upc: $upc) { id body author { name } product { name price } } }";

// ---- a WebSocket client -----------------------------------------------------------------

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

struct Client {
    socket: Socket,
}

impl Client {
    async fn connect(url: &str, protocol: &str) -> Client {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            protocol,
            "the router accepts the subprotocol"
        );
        Client { socket }
    }

    /// Connects with `graphql-transport-ws` and initialises with `authorization`.
    async fn init(url: &str, authorization: &str) -> Client {
        let mut client = Client::connect(url, "graphql-transport-ws").await;
        client
            .send(
                json!({ "type": "connection_init", "payload": { "Authorization": authorization } }),
            )
            .await;
        assert_eq!(client.recv().await["type"], "connection_ack");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    async fn send_raw(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next protocol message, skipping keep-alives.
    async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within the timeout")
                .expect("the connection is open")
                .expect("a valid frame");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == "ka" || value["type"] == "ping" {
                        continue;
                    }
                    return value;
                }
                Message::Close(frame) => {
                    let frame = frame.expect("a close frame with a code");
                    return json!({ "closed": u16::from(frame.code), "reason": frame.reason.as_str() });
                }
                _ => continue,
            }
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }
}

fn expected(id: &str, body: &str, author: &str, product: &str, price: i64) -> Value {
    json!({ "data": { "reviewAdded": {
        "id": id, "body": body,
        "author": { "name": author },
        "product": { "name": product, "price": price },
    } } })
}

// ---- planning ---------------------------------------------------------------------------

#[tokio::test]
async fn a_subscription_is_planned_as_a_primary_fetch_and_the_rest_per_event() {
    let fed = Federation::start().await;
    let sg = fed.app.current.load().supergraph.clone();
    let plan = router::pipeline::plan_only(&sg, SUBSCRIPTION, None, Default::default(), &[])
        .unwrap()
        .to_string();
    insta::assert_snapshot!(plan, @r#"
    QueryPlan {
      Subscription {
        Primary: {
          Fetch(service: "live") {
            subscription($upc: String) { reviewAdded(upc: $upc) { id body author { __typename id } product { __typename upc } } }
          },
        },
        Rest: {
          Parallel {
            Flatten(path: "reviewAdded.author") {
              Fetch(service: "accounts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { name } } }
              },
            },
            Flatten(path: "reviewAdded.product") {
              Fetch(service: "products") {
                { ... on Product { __typename upc } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { name price } } }
              },
            },
          },
        },
      },
    }
    "#);
}

// ---- WebSocket: graphql-transport-ws ----------------------------------------------------

#[tokio::test]
async fn graphql_transport_ws_delivers_events_completed_across_subgraphs() {
    let fed = Federation::start().await;
    let mut client = fed.subscribed().await;
    fed.live.publish("10", "Great table", "1", "1");
    let first = client.recv().await;
    assert_eq!(first["type"], "next");
    assert_eq!(first["id"], "1");
    assert_eq!(
        first["payload"],
        expected("10", "Great table", "Ada Lovelace", "Table", 899)
    );
    fed.live.publish("11", "Comfy", "2", "2");
    let second = client.recv().await;
    assert_eq!(
        second["payload"],
        expected("11", "Comfy", "Alan Turing", "Couch", 1299)
    );
    // The caller's Authorization reached the subgraph's connection_init and every entity
    // fetch made for every event, not only the first.
    assert_eq!(
        *fed.live.counters.authorizations.lock(),
        vec![Some("Bearer good".to_owned())]
    );
    let fetches: Vec<_> = fed
        .accounts
        .requests()
        .into_iter()
        .filter(|r| r.body["query"].as_str().unwrap().contains("_entities"))
        .collect();
    assert_eq!(fetches.len(), 2, "one accounts fetch per event");
    assert!(fetches
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer good")));
    // Client completes: the upstream is closed.
    client.send(json!({ "id": "1", "type": "complete" })).await;
    fed.until_active(0).await;
    eventually(|| fed.hub_running() == 0, "the upstream task to end").await;
}

#[tokio::test]
async fn variables_select_the_upstream_events() {
    let fed = Federation::start().await;
    let mut client = Client::init(&fed.ws_url, "Bearer good").await;
    client
        .subscribe("a", SUBSCRIPTION, json!({ "upc": "3" }))
        .await;
    fed.until_active(1).await;
    fed.live.publish("20", "Not this one", "1", "1");
    fed.live.publish("21", "Sturdy", "3", "2");
    let message = client.recv().await;
    assert_eq!(
        message["payload"],
        expected("21", "Sturdy", "Alan Turing", "Chair", 54)
    );
}

#[tokio::test]
async fn queries_and_mutations_also_run_over_the_websocket() {
    let fed = Federation::start().await;
    let mut client = Client::init(&fed.ws_url, "Bearer good").await;
    client
        .subscribe(
            "q",
            "{ me { name } topProducts(first: 1) { name } }",
            json!({}),
        )
        .await;
    let next = client.recv().await;
    assert_eq!(next["type"], "next");
    assert_eq!(
        next["payload"],
        json!({ "data": { "me": { "name": "Ada Lovelace" }, "topProducts": [{ "name": "Table" }] } })
    );
    assert_eq!(
        client.recv().await,
        json!({ "id": "q", "type": "complete" })
    );
}

#[tokio::test]
async fn invalid_operations_get_an_error_message_and_the_connection_stays_open() {
    let fed = Federation::start().await;
    let mut client = Client::init(&fed.ws_url, "Bearer good").await;
    client
        .subscribe("bad", "subscription { reviewAdded { nope } }", json!({}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "bad");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // The same id can be used again once the operation is over.
    client.subscribe("bad", SUBSCRIPTION, json!({})).await;
    fed.until_active(1).await;
}

// ---- WebSocket: legacy graphql-ws -------------------------------------------------------

#[tokio::test]
async fn legacy_graphql_ws_delivers_events_and_stops() {
    let fed = Federation::start().await;
    let mut client = Client::connect(&fed.ws_url, "graphql-ws").await;
    client
        .send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer good" } }))
        .await;
    assert_eq!(client.recv().await["type"], "connection_ack");
    client
        .send(json!({ "id": "7", "type": "start", "payload": { "query": SUBSCRIPTION } }))
        .await;
    fed.until_active(1).await;
    fed.live.publish("30", "Nice", "1", "2");
    let data = client.recv().await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["id"], "7");
    assert_eq!(
        data["payload"],
        expected("30", "Nice", "Alan Turing", "Table", 899)
    );
    client.send(json!({ "id": "7", "type": "stop" })).await;
    fed.until_active(0).await;
    client.send(json!({ "type": "connection_terminate" })).await;
    assert_eq!(client.recv().await["closed"], 1000);
}

// ---- SSE and multipart ------------------------------------------------------------------

/// Reads a streamed response's chunks until `done` says the text so far is complete.
async fn read_until(mut response: reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while !done(&text) {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("a chunk within the timeout")
            .unwrap()
            .expect("the stream is open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn server_sent_events_stream_results_and_end_with_the_subscription() {
    let fed = Federation::start_with(
        SubscriptionSettings {
            keepalive: Duration::from_millis(100),
            ..fast_settings()
        },
        None,
    )
    .await;
    let response = reqwest::Client::new()
        .post(&fed.http_url)
        .header("accept", "text/event-stream")
        .header("authorization", "Bearer good")
        .json(&json!({ "query": SUBSCRIPTION }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    fed.until_active(1).await;
    fed.live.publish("40", "Streamed", "2", "1");
    let text = read_until(response, |text| text.contains("event: next")).await;
    let data = text
        .lines()
        .skip_while(|l| *l != "event: next")
        .nth(1)
        .and_then(|l| l.strip_prefix("data: "))
        .expect("a data line after event: next");
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap(),
        expected("40", "Streamed", "Ada Lovelace", "Couch", 1299)
    );
}

#[tokio::test]
async fn server_sent_events_report_request_errors_inside_the_stream() {
    let fed = Federation::start().await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}?query=subscription%7BreviewAdded%7Bnope%7D%7D",
            fed.http_url
        ))
        .header("accept", "text/event-stream")
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("GRAPHQL_VALIDATION_FAILED"), "{text}");
    assert!(text.ends_with("event: complete\ndata:\n\n"), "{text}");
}

#[tokio::test]
async fn multipart_http_streams_payload_parts_with_heartbeats() {
    let fed = Federation::start_with(
        SubscriptionSettings {
            keepalive: Duration::from_millis(100),
            ..fast_settings()
        },
        None,
    )
    .await;
    let response = reqwest::Client::new()
        .post(&fed.http_url)
        .header(
            "accept",
            "multipart/mixed;boundary=\"graphql\";subscriptionSpec=1.0,application/json",
        )
        .header("authorization", "Bearer good")
        .json(&json!({ "query": SUBSCRIPTION }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        r#"multipart/mixed;boundary="graphql";subscriptionSpec="1.0""#
    );
    fed.until_active(1).await;
    // Heartbeats every 100 ms: wait for one before the event.
    let mut text = String::new();
    let mut response = response;
    while !text.contains("{}") {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    fed.live.publish("50", "Parted", "3", "1");
    text.push_str(&read_until(response, |text| text.contains("payload")).await);
    let parts: Vec<&str> = text.split("\r\n--graphql").collect();
    assert!(
        parts.iter().any(|p| p.ends_with("\r\n\r\n{}")),
        "a heartbeat part: {text:?}"
    );
    let payload = parts
        .iter()
        .find(|p| p.contains("payload"))
        .and_then(|p| p.split("\r\n\r\n").nth(1))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(payload).unwrap(),
        json!({ "payload": expected("50", "Parted", "Ada Lovelace", "Chair", 54) })
    );
}

#[tokio::test]
async fn a_subscription_over_plain_json_is_refused_with_406() {
    let fed = Federation::start().await;
    let response = reqwest::Client::new()
        .post(&fed.http_url)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": SUBSCRIPTION }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "STREAMING_TRANSPORT_REQUIRED"
    );
    assert_eq!(fed.live.opened(), 0, "nothing was subscribed upstream");
}

// ---- deduplication and cleanup ----------------------------------------------------------

#[tokio::test]
async fn identical_subscriptions_share_one_upstream_and_callers_do_not() {
    let fed = Federation::start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::init(&fed.ws_url, "Bearer good").await;
        client.subscribe("1", SUBSCRIPTION, json!({})).await;
        clients.push(client);
    }
    fed.until_active(1).await;
    // Another caller (different Authorization) never shares: its own upstream, which the
    // subgraph refuses.
    let mut other = Client::init(&fed.ws_url, "Bearer other").await;
    other.subscribe("1", SUBSCRIPTION, json!({})).await;
    let refused = other.recv().await;
    assert_eq!(refused["type"], "next");
    assert_eq!(refused["payload"]["data"], Value::Null);
    assert_eq!(
        refused["payload"]["errors"][0]["message"], "not allowed",
        "{refused}"
    );
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["serviceName"],
        "live"
    );
    assert_eq!(other.recv().await["type"], "complete");
    // Different variables: a second upstream.
    let mut filtered = Client::init(&fed.ws_url, "Bearer good").await;
    filtered
        .subscribe("1", SUBSCRIPTION, json!({ "upc": "1" }))
        .await;
    fed.until_active(2).await;
    assert_eq!(
        fed.live.counters.connections.load(Ordering::SeqCst),
        3,
        "one upstream connection per distinct (operation, variables, caller)"
    );
    fed.live.publish("60", "Shared", "1", "1");
    for client in &mut clients {
        assert_eq!(
            client.recv().await["payload"],
            expected("60", "Shared", "Ada Lovelace", "Table", 899)
        );
    }
    assert_eq!(
        filtered.recv().await["payload"],
        expected("60", "Shared", "Ada Lovelace", "Table", 899)
    );
    assert_eq!(
        fed.live.opened(),
        2,
        "three identical clients, one filtered: two subgraph subscriptions"
    );
    // Clients leave (one by closing its socket without `complete`): upstreams close with
    // the last one.
    let last = clients.pop().unwrap();
    drop(clients);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fed.live.active(),
        2,
        "still one subscriber on the shared upstream"
    );
    drop(last);
    drop(filtered);
    fed.until_active(0).await;
    eventually(|| fed.hub_running() == 0, "every upstream task to end").await;
}

#[tokio::test]
async fn sse_and_multipart_clients_that_disconnect_release_the_upstream() {
    let fed = Federation::start().await;
    for accept in [
        "text/event-stream",
        "multipart/mixed;subscriptionSpec=\"1.0\"",
    ] {
        let response = reqwest::Client::new()
            .post(&fed.http_url)
            .header("accept", accept)
            .header("authorization", "Bearer good")
            .json(&json!({ "query": SUBSCRIPTION }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        fed.until_active(1).await;
        drop(response);
        fed.until_active(0).await;
        eventually(|| fed.hub_running() == 0, "the upstream task to end").await;
    }
}

// ---- upstream failures ------------------------------------------------------------------

#[tokio::test]
async fn a_dropped_upstream_is_reconnected_and_the_client_told_about_the_gap() {
    let fed = Federation::start().await;
    let mut client = fed.subscribed().await;
    fed.proxy.cut();
    let notice = client.recv().await;
    assert_eq!(notice["type"], "next", "{notice}");
    assert_eq!(
        notice["payload"]["errors"][0]["extensions"]["code"],
        "SUBSCRIPTION_RESUMED"
    );
    fed.until_active(1).await;
    assert_eq!(fed.live.opened(), 2, "subscribed again after the drop");
    fed.live.publish("70", "After the gap", "2", "2");
    assert_eq!(
        client.recv().await["payload"],
        expected("70", "After the gap", "Alan Turing", "Couch", 1299)
    );
}

#[tokio::test]
async fn an_upstream_that_stays_down_ends_the_subscription_with_an_error() {
    let fed = Federation::start().await;
    let mut client = fed.subscribed().await;
    fed.proxy.refuse(true);
    fed.proxy.cut();
    let error = client.recv().await;
    assert_eq!(error["type"], "next");
    assert_eq!(
        error["payload"]["errors"][0]["extensions"]["code"], "SUBSCRIPTION_UPSTREAM_UNAVAILABLE",
        "{error}"
    );
    assert_eq!(
        client.recv().await,
        json!({ "id": "1", "type": "complete" })
    );
    eventually(|| fed.hub_running() == 0, "the upstream task to end").await;
}

#[tokio::test]
async fn a_supergraph_reload_does_not_end_open_subscriptions() {
    let fed = Federation::start().await;
    let mut client = fed.subscribed().await;
    let current = fed.app.current.load_full();
    let reloaded = RouterState::new(
        &fed.supergraph,
        current.client.clone(),
        current.settings.clone(),
    )
    .unwrap();
    fed.app.current.store(Arc::new(reloaded));
    fed.live.publish("80", "Still here", "1", "1");
    assert_eq!(
        client.recv().await["payload"],
        expected("80", "Still here", "Ada Lovelace", "Table", 899)
    );
}

// ---- protocol rules and limits ----------------------------------------------------------

#[tokio::test]
async fn protocol_violations_close_with_the_protocols_codes() {
    let fed = Federation::start_with(
        SubscriptionSettings {
            init_timeout: Duration::from_millis(200),
            max_message_bytes: 1024,
            ..fast_settings()
        },
        None,
    )
    .await;
    let url = &fed.ws_url;

    let mut silent = Client::connect(url, "graphql-transport-ws").await;
    assert_eq!(silent.recv().await["closed"], 4408, "init timeout");

    let mut early = Client::connect(url, "graphql-transport-ws").await;
    early.subscribe("1", SUBSCRIPTION, json!({})).await;
    assert_eq!(early.recv().await["closed"], 4401, "subscribe before ack");

    let mut twice = Client::init(url, "Bearer good").await;
    twice.send(json!({ "type": "connection_init" })).await;
    assert_eq!(twice.recv().await["closed"], 4429, "second init");

    let mut garbage = Client::init(url, "Bearer good").await;
    garbage.send_raw("{not json".into()).await;
    assert_eq!(garbage.recv().await["closed"], 4400, "invalid message");

    let mut duplicate = Client::init(url, "Bearer good").await;
    duplicate.subscribe("1", SUBSCRIPTION, json!({})).await;
    duplicate.subscribe("1", SUBSCRIPTION, json!({})).await;
    assert_eq!(duplicate.recv().await["closed"], 4409, "duplicate id");

    let mut large = Client::init(url, "Bearer good").await;
    let query = format!("{{ me {{ name }} }} # {}", "x".repeat(2048));
    large.subscribe("1", &query, json!({})).await;
    let closed = large.recv().await;
    assert_eq!(closed["closed"], 1009, "message too big");
    assert_eq!(closed["reason"], "message exceeds 1024 bytes");

    let mut pinger = Client::init(url, "Bearer good").await;
    pinger.send(json!({ "type": "ping" })).await;
    assert_eq!(pinger.recv().await, json!({ "type": "pong" }));
}

#[tokio::test]
async fn subscriptions_per_connection_are_limited_with_a_clear_error() {
    let fed = Federation::start_with(
        SubscriptionSettings {
            max_per_connection: 2,
            ..fast_settings()
        },
        None,
    )
    .await;
    let mut client = Client::init(&fed.ws_url, "Bearer good").await;
    client.subscribe("1", SUBSCRIPTION, json!({})).await;
    client
        .subscribe("2", SUBSCRIPTION, json!({ "upc": "1" }))
        .await;
    client
        .subscribe("3", SUBSCRIPTION, json!({ "upc": "2" }))
        .await;
    let error = client.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "3");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "SUBSCRIPTION_LIMIT_EXCEEDED"
    );
    fed.until_active(2).await;
}

/// A federation whose router verifies tokens, and the signer of valid ones.
async fn verifying_federation() -> (auth::TokenSigner, Federation) {
    let signer = auth::TokenSigner::ephemeral("issuer", "audience");
    let verifier = Arc::new(auth::TokenVerifier::from_jwks(
        &signer.jwks(),
        "issuer",
        "audience",
    ));
    (
        signer,
        Federation::start_with(fast_settings(), Some(verifier)).await,
    )
}

#[tokio::test]
async fn with_a_verifier_bad_tokens_are_refused_before_connection_ack() {
    let (_, fed) = verifying_federation().await;
    let mut modern = Client::connect(&fed.ws_url, "graphql-transport-ws").await;
    modern
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } }))
        .await;
    assert_eq!(modern.recv().await["closed"], 4403);

    let mut legacy = Client::connect(&fed.ws_url, "graphql-ws").await;
    legacy
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } }))
        .await;
    assert_eq!(legacy.recv().await["type"], "connection_error");
    assert_eq!(legacy.recv().await["closed"], 4403);

    let response = reqwest::Client::new()
        .post(&fed.http_url)
        .header("accept", "text/event-stream")
        .header("authorization", "Bearer forged")
        .json(&json!({ "query": SUBSCRIPTION }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(fed.live.opened(), 0);
}

#[tokio::test]
async fn a_websocket_ends_when_its_token_expires() {
    let (signer, fed) = verifying_federation().await;
    let (short, _) = signer.sign("u1", chrono::Duration::seconds(2)).unwrap();
    let (long, _) = signer.sign("u1", chrono::Duration::minutes(15)).unwrap();
    let started = std::time::Instant::now();
    let mut expiring = Client::init(&fed.ws_url, &format!("Bearer {short}")).await;
    let mut lasting = Client::init(&fed.ws_url, &format!("Bearer {long}")).await;
    expiring.subscribe("1", SUBSCRIPTION, json!({})).await;
    let closed = loop {
        let message = expiring.recv().await;
        if message.get("closed").is_some() {
            break message;
        }
        let kind = message["type"].as_str().unwrap_or_default();
        assert!(["next", "complete"].contains(&kind), "{message}");
    };
    assert_eq!(
        (&closed["closed"], &closed["reason"]),
        (&json!(4403), &json!("Forbidden: the access token expired"))
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    lasting.send(json!({ "type": "ping" })).await;
    assert_eq!(
        lasting.recv().await,
        json!({ "type": "pong" }),
        "a valid token stays"
    );
}
