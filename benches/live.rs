//! Subscriptions through the router under load: N subscribers on one board.
//!
//! Starts the platform binary (router + subgraphs, embedded store) as a child process, signs
//! up U users and makes them members of one board, opens N `graphql-transport-ws`
//! connections through the router (subscriber i uses user i mod U) subscribed to
//! `taskChanged` with the task's assignee and the actor resolved from accounts, then creates
//! E tasks one after another. For every (subscriber, event) it measures the time from sending
//! the mutation to receiving the event, and counts events that never arrived.
//!
//! Prints delivery latency p50/p99/max, events lost, and the platform process's memory per
//! subscriber (VmRSS growth while the subscriptions opened, divided by N).
//!
//! `cargo bench --bench live`; BENCH_SUBSCRIBERS (1000), BENCH_USERS (100), BENCH_EVENTS (50)
//! tune it. Identical subscriptions of one user share one upstream subscription, so U is
//! the number of upstream subscriptions to boards.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const QUERY: &str = "subscription($b: ID!) { taskChanged(boardId: $b) { kind task { title assignee { name } } actor { name } } }";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let subscribers = env_or("BENCH_SUBSCRIBERS", 1000);
    let users = env_or("BENCH_USERS", 100).clamp(1, subscribers);
    let events = env_or("BENCH_EVENTS", 50);

    let dir = tempfile::tempdir()?;
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect::<Result<_, _>>()?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_platform"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--router-port", &ports[0].to_string()])
        .args(["--accounts-port", &ports[1].to_string()])
        .args(["--boards-port", &ports[2].to_string()])
        .args(["--chat-port", &ports[3].to_string()])
        .args(["--notifications-port", &ports[4].to_string()])
        .env("RUST_LOG", "warn")
        .env_remove("MONGODB_URL")
        .env_remove("REDIS_URL")
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let result = run(&ports, child.id(), subscribers, users, events).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn run(
    ports: &[u16],
    pid: u32,
    subscribers: usize,
    users: usize,
    events: usize,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let graphql = format!("http://127.0.0.1:{}/graphql", ports[0]);
    let boards_metrics = format!("http://127.0.0.1:{}/metrics", ports[2]);
    wait_healthy(&http, &format!("http://127.0.0.1:{}/health", ports[0])).await?;

    let (_, owner) = sign_up(&http, &graphql, "owner").await?;
    let board = call(
        &http,
        &graphql,
        &owner,
        "mutation { createBoard(input: {name: \"Bench\"}) { id } }",
        json!({}),
    )
    .await?["createBoard"]["id"]
        .clone();
    let mut tokens = Vec::with_capacity(users);
    let mut assignee = Value::Null;
    for i in 0..users {
        let (id, token) = sign_up(&http, &graphql, &format!("user{i}")).await?;
        call(
            &http,
            &graphql,
            &owner,
            "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }",
            json!({"b": board, "u": id}),
        )
        .await?;
        if assignee.is_null() {
            assignee = Value::String(id);
        }
        tokens.push(token);
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(pid).unwrap_or(0);
    let (deliveries, mut received) = mpsc::unbounded_channel::<(usize, Instant)>();
    let ws_url = format!("ws://127.0.0.1:{}/graphql", ports[0]);
    let mut clients = Vec::with_capacity(subscribers);
    let opened = Instant::now();
    for i in 0..subscribers {
        let token = tokens[i % users].clone();
        let socket = subscribe(&ws_url, &token, &board).await?;
        clients.push(tokio::spawn(listen(socket, deliveries.clone())));
    }
    drop(deliveries);
    // Every distinct caller has its upstream subscription open at boards.
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(&http, &boards_metrics, "platform_websocket_connections").await? < users as f64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "upstream subscriptions did not open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_time = opened.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(pid).unwrap_or(0);

    let mut latencies_us: Vec<u64> = Vec::with_capacity(subscribers * events);
    let mut per_event = vec![0usize; events];
    let mut sent_at = Vec::with_capacity(events);
    for event in 0..events {
        let start = Instant::now();
        sent_at.push(start);
        call(
            &http,
            &graphql,
            &owner,
            "mutation($b: ID!, $t: String!, $u: ID) { createTask(input: {boardId: $b, title: $t, assigneeId: $u}) { id } }",
            json!({"b": board, "t": format!("task {event}"), "u": assignee}),
        )
        .await?;
        // Wait for this event to reach everyone (or give up after 10 s and count losses).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while per_event[event] < subscribers {
            match tokio::time::timeout_at(deadline, received.recv()).await {
                Ok(Some((index, at))) if index < events => {
                    per_event[index] += 1;
                    latencies_us.push(at.duration_since(sent_at[index]).as_micros() as u64);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
    // Late deliveries still count (as delivered, with their latency).
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok((index, at)) = received.try_recv() {
        if index < events {
            per_event[index] += 1;
            latencies_us.push(at.duration_since(sent_at[index]).as_micros() as u64);
        }
    }
    for client in &clients {
        client.abort();
    }

    let expected = subscribers * events;
    let delivered: usize = per_event.iter().sum();
    latencies_us.sort_unstable();
    let pct = |p: f64| {
        latencies_us
            .get(
                ((latencies_us.len() as f64 * p) as usize)
                    .min(latencies_us.len().saturating_sub(1)),
            )
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "{subscribers} subscribers ({users} users, so {users} upstream subscriptions), {events} events, {} cores",
        std::thread::available_parallelism()?.get()
    );
    println!("subscriptions opened in {:.2} s", open_time.as_secs_f64());
    println!(
        "delivery latency (mutation sent -> event received): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.99),
        latencies_us.last().map_or(0.0, |us| *us as f64 / 1000.0)
    );
    println!(
        "events delivered {delivered} of {expected}, lost {}",
        expected - delivered
    );
    println!(
        "platform memory (router + subgraphs, VmRSS): {:.1} MiB before, {:.1} MiB with the subscriptions open, {:.1} KiB per subscriber",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / subscribers as f64
    );
    anyhow::ensure!(delivered == expected, "events were lost");
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(url: &str, token: &str, board: &Value) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
            Some(Ok(_)) => continue,
            other => anyhow::bail!("no connection_ack: {other:?}"),
        }
    }
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": QUERY, "variables": {"b": board}}});
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Reports the index of every `task N` event received, with its arrival time.
async fn listen(mut socket: Socket, deliveries: mpsc::UnboundedSender<(usize, Instant)>) {
    while let Some(Ok(message)) = socket.next().await {
        let at = Instant::now();
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        match value["type"].as_str() {
            Some("next") => {
                let title = value["payload"]["data"]["taskChanged"]["task"]["title"]
                    .as_str()
                    .unwrap_or_default();
                if let Some(index) = title.strip_prefix("task ").and_then(|n| n.parse().ok()) {
                    let _ = deliveries.send((index, at));
                }
            }
            Some("ping") => {
                let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            _ => {}
        }
    }
}

async fn sign_up(
    http: &reqwest::Client,
    url: &str,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let data = call(
        http,
        url,
        "",
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
        json!({"i": {"email": format!("{name}@bench.example"), "password": "correct horse battery", "name": name}}),
    )
    .await?;
    let id = data["signUp"]["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = data["signUp"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((id, token))
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = http
        .post(url)
        .json(&json!({"query": query, "variables": variables}));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await?.json().await?;
    anyhow::ensure!(body.get("errors").is_none(), "{query}: {body}");
    Ok(body["data"].clone())
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> anyhow::Result<f64> {
    let text = http.get(url).send().await?.text().await?;
    Ok(text
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0))
}

async fn wait_healthy(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..600 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the platform did not become healthy")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
