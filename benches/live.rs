//! Subscriptions through the router under load: N subscribers on one board.
//!
//! Starts the platform binary (router + subgraphs, embedded store) as a child process, signs
//! up U users and makes them members of one board, opens N `graphql-transport-ws`
//! connections through the router (subscriber i uses user i mod U) subscribed to
//! `taskChanged` with the task's assignee and the actor resolved from accounts, then creates
//! E tasks one after another. For every (subscriber, event) it measures the time from sending
//! the mutation to receiving the event, and counts events that never arrived.
//!
//! Prints delivery latency p50/p99/max, events lost, the platform process's memory per
//! subscriber (VmRSS growth while the subscriptions opened, divided by N, and the same over
//! the second half of them alone), and the CPU time the platform and this load generator
//! each used while the events were delivered.
//!
//! `cargo bench --bench live`; BENCH_SUBSCRIBERS (10000), BENCH_USERS (100), BENCH_EVENTS (50)
//! tune it. Identical subscriptions of one user share one upstream subscription, so U is
//! the number of upstream subscriptions to boards. Everything is on 127.0.0.1; each event
//! waits at most 10 s. The bench and the platform each hold one socket per subscriber: the
//! bench raises its soft file-descriptor limit (inherited by the platform) to the hard
//! limit, and refuses to start when even that is too low.
//!
//! The load generator is kept cheap so that it does not take the cores from the platform:
//! small WebSocket read buffers (tungstenite zeroes the whole read buffer, 128 KiB by
//! default, on every read) and a substring match instead of parsing each message.

mod support;

use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::env_or;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const QUERY: &str = "subscription($b: ID!) { taskChanged(boardId: $b) { kind task { title assignee { name } } actor { name } } }";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let subscribers = env_or("BENCH_SUBSCRIBERS", 10_000).max(1);
    let users = env_or("BENCH_USERS", 100).clamp(1, subscribers);
    let events = env_or("BENCH_EVENTS", 50);
    raise_fd_limit(subscribers as u64 + 1024)?;

    let dir = tempfile::tempdir()?;
    let ports = support::ports()?;
    let mut child = support::platform(dir.path(), &ports).spawn()?;
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
    // Listeners count deliveries per event (polled by this task, which is not woken for
    // each of the N x E deliveries) and keep their arrival times to themselves.
    let delivered: Arc<[AtomicUsize]> = (0..events).map(|_| AtomicUsize::new(0)).collect();
    let ws_url = format!("ws://127.0.0.1:{}/graphql", ports[0]);
    let mut clients = Vec::with_capacity(subscribers);
    let opened = Instant::now();
    let mut rss_half = rss_before;
    for i in 0..subscribers {
        if i == subscribers / 2 {
            rss_half = rss_kib(pid).unwrap_or(0);
        }
        let token = tokens[i % users].clone();
        let socket = subscribe(&ws_url, &token, &board).await?;
        let arrivals = Arc::new(Mutex::new(Vec::with_capacity(events)));
        let task = tokio::spawn(listen(socket, delivered.clone(), arrivals.clone()));
        clients.push((task, arrivals));
    }
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

    let cpu_before = (cpu_ticks(pid), cpu_ticks(std::process::id()));
    let mut sent_at = Vec::with_capacity(events);
    for (event, count) in delivered.iter().enumerate() {
        sent_at.push(Instant::now());
        call(
            &http,
            &graphql,
            &owner,
            "mutation($b: ID!, $t: String!, $u: ID) { createTask(input: {boardId: $b, title: $t, assigneeId: $u}) { id } }",
            json!({"b": board, "t": format!("task {event}"), "u": assignee}),
        )
        .await?;
        // Wait for this event to reach everyone (or give up after 10 s and count losses).
        let deadline = Instant::now() + Duration::from_secs(10);
        while count.load(Ordering::Relaxed) < subscribers && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // Late deliveries still count (as delivered, with their latency).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_after = (cpu_ticks(pid), cpu_ticks(std::process::id()));
    let mut latencies_us: Vec<u64> = Vec::with_capacity(subscribers * events);
    let mut per_event = vec![0usize; events];
    for (task, arrivals) in &clients {
        task.abort();
        for &(index, at) in arrivals.lock().iter() {
            per_event[index] += 1;
            latencies_us.push(at.duration_since(sent_at[index]).as_micros() as u64);
        }
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
    // The allocator may first reuse memory freed before (sign-ups), which makes the average
    // low for small N; the second half's growth shows the cost of one more subscriber.
    let second_half = subscribers - subscribers / 2;
    println!(
        "platform memory (router + subgraphs, VmRSS): {:.1} MiB before, {:.1} MiB with the subscriptions open, {:.1} KiB per subscriber ({:.1} KiB each over the second half)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / subscribers as f64,
        rss_after.saturating_sub(rss_half) as f64 / second_half as f64
    );
    let cpu_seconds = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) => {
            format!("{:.2} s", (after - before) as f64 / TICKS_PER_SECOND)
        }
        _ => "unknown".to_owned(),
    };
    println!(
        "CPU while delivering: platform {}, load generator {}",
        cpu_seconds(cpu_before.0, cpu_after.0),
        cpu_seconds(cpu_before.1, cpu_after.1)
    );
    anyhow::ensure!(delivered == expected, "events were lost");
    Ok(())
}

/// Event index and arrival time of every event one subscriber received.
type Arrivals = Arc<Mutex<Vec<(usize, Instant)>>>;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(url: &str, token: &str, board: &Value) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    // The bench receives small messages; tungstenite's default read buffer (128 KiB,
    // zeroed on every read) would make the load generator the bottleneck.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
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

/// Records the index and arrival time of every `task N` event received.
async fn listen(mut socket: Socket, delivered: Arc<[AtomicUsize]>, arrivals: Arrivals) {
    while let Some(Ok(message)) = socket.next().await {
        let at = Instant::now();
        let Message::Text(text) = message else {
            continue;
        };
        // Substring matches instead of parsing: the router writes compact JSON, and parsing
        // every message would cost the load generator more CPU than the router spends.
        let text = text.as_str();
        if let Some(index) = task_index(text).filter(|index| *index < delivered.len()) {
            arrivals.lock().push((index, at));
            delivered[index].fetch_add(1, Ordering::Relaxed);
        } else if text.contains(r#""type":"ping""#) {
            let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
        }
    }
}

/// `N` of a `next` message carrying the task titled `task N`.
fn task_index(text: &str) -> Option<usize> {
    if !text.contains(r#""type":"next""#) {
        return None;
    }
    let rest = &text[text.find(r#""title":"task "#)? + r#""title":"task "#.len()..];
    rest[..rest.find('"')?].parse().ok()
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
    let token = (!token.is_empty()).then_some(token);
    let body = support::post(http, url, token, query, variables).await?;
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

/// `/proc/<pid>/stat` counts CPU time in clock ticks of 1/100 s (USER_HZ on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Raises the soft limit on open files to the hard limit (the platform child inherits it);
/// fails early, with the fix, when even the hard limit is below `needed`.
fn raise_fd_limit(needed: u64) -> anyhow::Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < needed) {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit)?;
    }
    let current = getrlimit(Resource::Nofile).current;
    anyhow::ensure!(
        current.is_none_or(|current| current >= needed),
        "{needed} file descriptors needed, the hard limit allows {current:?}: raise it (ulimit -Hn) or lower BENCH_SUBSCRIBERS"
    );
    Ok(())
}
