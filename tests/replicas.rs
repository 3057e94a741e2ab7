//! Boards as two replicas behind a round-robin balancer (as NGINX runs them), sharing Redis:
//! the router's upstream subscription lands on one replica and the mutation on the other, and
//! the subscriber still gets the event, because replicas share events through Redis pub/sub.

use kit::lifecycle::Subgraph as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kit::config::ServiceConfig;
use kit::test_client::{GqlClient, Subscription};
use kit::testing::{require_redis, unique_prefix};
use parking_lot::Mutex;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Round-robin TCP balancer recording, per connection, the replica and the request line.
struct Balancer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<(usize, String)>>>,
}

impl Balancer {
    async fn start(backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
        let next = AtomicUsize::new(0);
        let record = log.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let replica = next.fetch_add(1, Ordering::SeqCst) % backends.len();
                let target = backends[replica];
                let record = record.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 64];
                    let n = inbound.peek(&mut head).await.unwrap_or(0);
                    let line = String::from_utf8_lossy(&head[..n])
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    record.lock().push((replica, line));
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Balancer { addr, log }
    }

    /// The replicas that served connections whose request line starts with `method`.
    fn replicas(&self, method: &str) -> Vec<usize> {
        self.log
            .lock()
            .iter()
            .filter(|(_, line)| line.starts_with(method))
            .map(|(replica, _)| *replica)
            .collect()
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[tokio::test]
async fn a_subscription_through_the_router_gets_events_of_mutations_on_another_replica() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let shutdown = CancellationToken::new();
    let prefix = unique_prefix("router_replicas");
    let (accounts_listener, accounts_addr) = listener().await;
    let jwks_url = format!("http://{accounts_addr}/.well-known/jwks.json");
    let config = |listen: SocketAddr| ServiceConfig {
        listen,
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: prefix.clone(),
        jwks_url: jwks_url.clone(),
        ..ServiceConfig::default()
    };

    let accounts = accounts::Accounts::start(&config(accounts_addr))
        .await
        .expect("accounts");
    let accounts_sdl = accounts::federation_sdl(&accounts.schema);
    tokio::spawn(kit::server::serve(
        accounts_listener,
        accounts.app(shutdown.clone()),
        shutdown.clone(),
    ));
    let mut backends = Vec::new();
    let mut boards_sdl = String::new();
    for _ in 0..2 {
        let (boards_listener, addr) = listener().await;
        let boards_config = config(addr);
        let replica = boards::Boards::start(&boards_config, boards_config.remote_verifier())
            .await
            .expect("boards replica");
        boards_sdl = boards::federation_sdl(&replica.schema);
        tokio::spawn(kit::server::serve(
            boards_listener,
            replica.app(shutdown.clone()),
            shutdown.clone(),
        ));
        backends.push(addr);
    }
    let balancer = Balancer::start(backends).await;

    let inputs = [
        (
            "accounts",
            format!("http://{accounts_addr}/graphql"),
            accounts_sdl,
        ),
        (
            "boards",
            format!("http://{}/graphql", balancer.addr),
            boards_sdl,
        ),
    ]
    .map(|(name, url, sdl)| router::compose::SubgraphInput {
        name: name.into(),
        url,
        sdl,
    });
    let supergraph = router::compose::compose(&inputs).expect("accounts and boards compose");
    let path = dir.path().join("supergraph.graphql");
    std::fs::write(&path, supergraph).unwrap();
    let (router_listener, router_addr) = listener().await;
    tokio::spawn(router::serve(
        router::Config::new(path),
        router_listener,
        shutdown.clone(),
    ));
    let router = GqlClient::new(format!("http://{router_addr}/graphql"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("http://{router_addr}/health"))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "router did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let sign_up = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }";
    let mut users = Vec::new();
    for name in ["Ada", "Bob"] {
        let data = router
            .ok(
                sign_up,
                json!({"i": {"email": format!("{name}@example.com"), "password": "correct horse battery", "name": name}}),
            )
            .await;
        users.push((
            data["signUp"]["user"]["id"].as_str().unwrap().to_owned(),
            data["signUp"]["accessToken"].as_str().unwrap().to_owned(),
        ));
    }
    let ada = router.with_token(users[0].1.clone());
    let board = ada
        .ok(
            "mutation { createBoard(input: {name: \"Replicated\"}) { id } }",
            json!({}),
        )
        .await["createBoard"]["id"]
        .clone();
    ada.ok(
        "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }",
        json!({"b": board, "u": users[1].0}),
    )
    .await;

    let query = format!(
        "subscription {{ taskChanged(boardId: \"{}\") {{ kind task {{ title }} actor {{ name }} }} }}",
        board.as_str().unwrap()
    );
    let mut live = Subscription::start(&format!("http://{router_addr}"), &users[1].1, &query).await;
    ada.ok(
        "mutation($b: ID!) { createTask(input: {boardId: $b, title: \"Across replicas\"}) { id } }",
        json!({"b": board}),
    )
    .await;
    let event = live.next_data().await;
    assert_eq!(
        event["taskChanged"],
        json!({"kind": "CREATED", "task": {"title": "Across replicas"}, "actor": {"name": "Ada"}})
    );
    // The point of the test: the upstream WebSocket and the mutations were served by
    // different replicas.
    let subscribed = balancer.replicas("GET");
    let mutated = balancer.replicas("POST");
    assert_eq!(subscribed.len(), 1, "one upstream subscription");
    assert!(
        !mutated.is_empty() && !mutated.contains(&subscribed[0]),
        "mutations on replicas {mutated:?}, subscription on {subscribed:?}"
    );
    shutdown.cancel();
}
