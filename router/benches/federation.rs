//! The classic four-subgraph federation demo under load.
//!
//! Starts the accounts/products/inventory/reviews subgraphs and a monolith serving the same
//! data in this process, the `router` binary as a child process, then drives a deep nested
//! query at fixed concurrency against the router and against the monolith (the baseline).
//! Prints requests/s, p50/p99 latency and the router's peak memory (VmHWM).
//!
//! `cargo bench -p router --bench federation`; BENCH_SECONDS and BENCH_CONCURRENCY tune it.
//! Every worker sends its own `Authorization` header so the router cannot coalesce requests
//! across workers; BENCH_SHARED_AUTH=1 sends one header for all (coalescing applies).

#[allow(dead_code)]
#[path = "../tests/common/subgraphs.rs"]
mod subgraphs;

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subgraphs::{PRODUCTS, REVIEWS, USERS};

const QUERY: &str = "query Bench { topProducts { name price inStock shippingEstimate reviews { body author { name username reviews { body product { name inStock } } } } } }";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_or("BENCH_SECONDS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 32) as usize;
    let (accounts, inventory, products, reviews) = (
        subgraphs::accounts().await,
        subgraphs::inventory().await,
        subgraphs::products().await,
        subgraphs::reviews().await,
    );
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo.graphql"
    ))?;
    let sdl = [
        ("4001", &accounts.url),
        ("4002", &inventory.url),
        ("4003", &products.url),
        ("4004", &reviews.url),
    ]
    .iter()
    .fold(fixture, |sdl, (port, url)| {
        sdl.replace(&format!("http://127.0.0.1:{port}/graphql"), url)
    });
    let dir = tempfile::tempdir()?;
    let supergraph = dir.path().join("supergraph.graphql");
    std::fs::write(&supergraph, sdl)?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_router"))
        .args([
            "serve",
            "--supergraph",
            supergraph.to_str().unwrap_or_default(),
            "--listen",
            &listen,
        ])
        .env("RUST_LOG", "warn")
        .spawn()?;
    let client = reqwest::Client::new();
    let router_url = format!("http://{listen}/graphql");
    wait_healthy(&client, &format!("http://{listen}/health")).await?;
    let monolith_url = spawn_monolith().await;

    let check = client
        .post(&router_url)
        .json(&serde_json::json!({ "query": QUERY }))
        .send()
        .await?
        .text()
        .await?;
    let expected = client
        .post(&monolith_url)
        .json(&serde_json::json!({ "query": QUERY }))
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(
        check == expected,
        "router and monolith disagree:\n{check}\n{expected}"
    );

    println!("query: {QUERY}");
    println!(
        "concurrency {concurrency}, {seconds}s per target, {} cores",
        std::thread::available_parallelism()?.get()
    );
    let cpu_before = cpu_seconds(child.id());
    let router = load(&client, &router_url, concurrency, seconds).await;
    let router_cpu = cpu_seconds(child.id())
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let peak = peak_memory_kib(child.id());
    let monolith = load(&client, &monolith_url, concurrency, seconds).await;
    router.print("router  ");
    monolith.print("monolith");
    if let Some(cpu) = router_cpu {
        let per_request = cpu / router.requests.max(1) as f64 * 1e6;
        println!("router process CPU: {cpu:.2} s total, {per_request:.0} us per request");
    }
    println!(
        "router peak memory (VmHWM): {} MiB",
        peak.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    println!(
        "subgraph requests: accounts {} inventory {} products {} reviews {}",
        accounts.count(),
        inventory.count(),
        products.count(),
        reviews.count()
    );
    child.kill()?;
    child.wait()?;
    Ok(())
}

async fn wait_healthy(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("router did not become healthy")
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Stats {
    fn print(&self, name: &str) {
        let pct = |p: f64| {
            let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
            self.latencies_us
                .get(i)
                .map_or(0.0, |us| *us as f64 / 1000.0)
        };
        println!(
            "{name}: {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.requests,
            self.errors
        );
    }
}

async fn load(client: &reqwest::Client, url: &str, concurrency: usize, seconds: u64) -> Stats {
    let body =
        Arc::new(serde_json::to_vec(&serde_json::json!({ "query": QUERY })).unwrap_or_default());
    // Warm up connections and caches.
    for _ in 0..concurrency {
        let _ = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let shared_auth = std::env::var("BENCH_SHARED_AUTH").is_ok_and(|v| v == "1");
    let workers = (0..concurrency).map(|i| {
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        let auth = if shared_auth {
            "Bearer shared".to_owned()
        } else {
            format!("Bearer worker-{i}")
        };
        tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", &auth)
                    .body(body.to_vec())
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(t.elapsed().as_micros() as u64);
                errors += usize::from(!ok);
            }
            (latencies, errors)
        })
    });
    let mut stats = Stats {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for worker in futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
    {
        stats.requests += worker.0.len();
        stats.errors += worker.1;
        stats.latencies_us.extend(worker.0);
    }
    stats.elapsed = started.elapsed();
    stats.latencies_us.sort_unstable();
    stats
}

/// User + system CPU time of a process, from /proc/<pid>/stat (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---- the monolith: the same data and query shape in one async-graphql schema ----------

#[derive(Clone, Copy)]
struct MProduct(usize);
#[derive(Clone, Copy)]
struct MReview(usize);
#[derive(Clone, Copy)]
struct MUser(usize);

struct MQuery;

#[Object(name = "Query")]
impl MQuery {
    async fn top_products(&self, #[graphql(default = 5)] first: i32) -> Vec<MProduct> {
        (0..PRODUCTS.len())
            .take(first as usize)
            .map(MProduct)
            .collect()
    }
}

#[Object(name = "Product")]
impl MProduct {
    async fn name(&self) -> &str {
        PRODUCTS[self.0].1
    }
    async fn price(&self) -> i32 {
        PRODUCTS[self.0].2
    }
    async fn in_stock(&self) -> bool {
        PRODUCTS[self.0].0 != "2"
    }
    async fn shipping_estimate(&self) -> i32 {
        let (_, _, price, weight) = PRODUCTS[self.0];
        if price > 1000 {
            0
        } else {
            weight / 2
        }
    }
    async fn reviews(&self) -> Vec<MReview> {
        (0..REVIEWS.len())
            .filter(|&i| REVIEWS[i].2 == PRODUCTS[self.0].0)
            .map(MReview)
            .collect()
    }
}

#[Object(name = "Review")]
impl MReview {
    async fn body(&self) -> &str {
        REVIEWS[self.0].1
    }
    async fn author(&self) -> Option<MUser> {
        USERS
            .iter()
            .position(|u| u.0 == REVIEWS[self.0].3)
            .map(MUser)
    }
    async fn product(&self) -> Option<MProduct> {
        PRODUCTS
            .iter()
            .position(|p| p.0 == REVIEWS[self.0].2)
            .map(MProduct)
    }
}

#[Object(name = "User")]
impl MUser {
    async fn name(&self) -> &str {
        USERS[self.0].1
    }
    async fn username(&self) -> &str {
        USERS[self.0].2
    }
    async fn reviews(&self) -> Vec<MReview> {
        (0..REVIEWS.len())
            .filter(|&i| REVIEWS[i].3 == USERS[self.0].0)
            .map(MReview)
            .collect()
    }
}

async fn spawn_monolith() -> String {
    let schema = Schema::new(MQuery, EmptyMutation, EmptySubscription);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind monolith");
    let url = format!("http://{}/graphql", listener.local_addr().expect("bound"));
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(
            move |axum::Json(request): axum::Json<async_graphql::Request>| {
                let schema = schema.clone();
                async move { axum::Json(schema.execute(request).await) }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
