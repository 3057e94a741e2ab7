//! The cached read path against the uncached one, on the platform's own
//! `me { boards { tasks ... } }` query.
//!
//! Starts the platform binary twice as a child process: without Redis (nothing cached) and
//! with a throwaway `redis-server` (the router's entity cache on). Each time it signs up one
//! user, creates BENCH_BOARDS boards (3) of BENCH_TASKS tasks (20) assigned to that user, then
//! has BENCH_CONCURRENCY clients (16) send the query with the user's token back to back for
//! BENCH_SECONDS (10) after BENCH_WARMUP seconds (2). Prints requests per second and the
//! latency p50/p99 of each run, and the ratio. Everything is on 127.0.0.1; answers are checked
//! for errors by a substring match, so the load generator takes little of the shared cores.
//!
//! `cargo bench --bench entity_cache`. Needs `redis-server` on the PATH.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::env_or;

const VIEW: &str = "{ me { name boards { name members { user { name } } tasks { totalCount edges { node { title status priority assignee { name } creator { name } } } } } } }";

struct Run {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn quantile(&self, q: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let redis = kit::testing::RedisServer::start()
        .ok_or_else(|| anyhow::anyhow!("this benchmark needs redis-server"))?;
    let uncached = measure(None).await?;
    let cached = measure(Some(&redis.url)).await?;
    for (name, run) in [("uncached", &uncached), ("cached", &cached)] {
        println!(
            "{name:>9}: {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests)",
            run.per_second(),
            run.quantile(0.5).as_secs_f64() * 1000.0,
            run.quantile(0.99).as_secs_f64() * 1000.0,
            run.requests
        );
    }
    println!(
        "cached/uncached throughput: {:.1}x",
        cached.per_second() / uncached.per_second()
    );
    Ok(())
}

/// Starts the platform (with Redis at `redis_url`, if any), loads it and measures.
async fn measure(redis_url: Option<&str>) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let ports = support::ports()?;
    let mut command = support::platform(dir.path(), &ports);
    if let Some(url) = redis_url {
        command
            .env("REDIS_URL", url)
            .env("PLATFORM_REDIS_PREFIX", format!("bench{}", ports[0]));
    }
    // A benchmark is one user asking as fast as it can: per-user rate limits would refuse it.
    let router_config = dir.path().join("router.toml");
    std::fs::write(&router_config, "[rate_limit]\nenabled = false\n")?;
    command.env("PLATFORM_ROUTER_CONFIG", &router_config);
    let mut child = command.spawn()?;
    let result = load(&format!("http://127.0.0.1:{}/graphql", ports[0])).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn load(url: &str) -> anyhow::Result<Run> {
    let http = reqwest::Client::new();
    wait_ready(&http, url).await?;
    let token = seed(&http, url).await?;
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let warmup = Duration::from_secs(env_or("BENCH_WARMUP", 2) as u64);
    let seconds = Duration::from_secs(env_or("BENCH_SECONDS", 10) as u64);
    let started = Instant::now();
    let (measure_from, until) = (started + warmup, started + warmup + seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.to_owned(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let sent = Instant::now();
                    let body = view(&http, &url, &token).await?;
                    // A substring check, not a parse: the load generator shares the cores.
                    let failed = body.windows(9).any(|w| w == b"\"errors\":");
                    anyhow::ensure!(!failed, "query failed: {}", String::from_utf8_lossy(&body));
                    if sent >= measure_from {
                        latencies.push(sent.elapsed());
                    }
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    latencies.sort_unstable();
    Ok(Run {
        requests: latencies.len(),
        seconds: seconds.as_secs_f64(),
        latencies,
    })
}

/// One user with boards full of tasks assigned to them; returns their token.
async fn seed(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let sign_up = "mutation { signUp(input: {email: \"bench@example.com\", password: \"correct horse battery\", name: \"Bench\"}) { accessToken user { id } } }";
    let data = support::post(http, url, None, sign_up, json!({})).await?;
    let token = data["data"]["signUp"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("sign-up failed: {data}"))?
        .to_owned();
    let me = data["data"]["signUp"]["user"]["id"].clone();
    for b in 0..env_or("BENCH_BOARDS", 3) {
        let create = "mutation($n: String!) { createBoard(input: {name: $n}) { id } }";
        let board = support::post(
            http,
            url,
            Some(&token),
            create,
            json!({"n": format!("Board {b}")}),
        )
        .await?;
        let board = board["data"]["createBoard"]["id"].clone();
        for t in 0..env_or("BENCH_TASKS", 20) {
            let task = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }";
            let input = json!({"boardId": board, "title": format!("Task {t}"), "assigneeId": me});
            let done = support::post(http, url, Some(&token), task, json!({"i": input})).await?;
            anyhow::ensure!(done["errors"].is_null(), "createTask failed: {done}");
        }
    }
    Ok(token)
}

/// The benchmarked query, its answer as bytes.
async fn view(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<bytes::Bytes> {
    let request = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({ "query": VIEW }).to_string());
    Ok(request.send().await?.bytes().await?)
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let ready = url.replace("/graphql", "/ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(&ready).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the platform did not become ready")
}
