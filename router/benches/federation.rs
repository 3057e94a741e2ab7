//! Our router side by side with Hive Router on the public gateway benchmark's workload
//! (graphql-hive/graphql-gateways-benchmark, `federation/`).
//!
//! Starts our own async-graphql versions of its four subgraphs in this process
//! ([`workload`]), our `router` binary and, when installed, `hive-router` as child processes
//! on the same supergraph (`benches/workload/supergraph.graphql`), checks that both answer
//! alike, then times three cases:
//!
//! - `deep`: the benchmark's `TestQuery` (fragments, five levels, an 87 KB answer) at
//!   BENCH_CONCURRENCY connections (50), BENCH_WARMUP s (5) then BENCH_SECONDS s (20),
//!   first with one shared `Authorization` header, then with one per connection;
//! - `large`: the same selections repeated under aliases to an ~8 MiB answer, one
//!   connection, sequential requests;
//! - `many`: 1,000 distinct operations, none planned before (plans per second, RSS);
//! - `edge`: what the edge (rate limits, demand control, CSRF and CORS) costs on a plan-cache
//!   hit: our router with it and without it, in alternating rounds (see [`edge`]).
//! - `telemetry`: what metrics plus OTLP traces sampled at 1 % cost, the same way.
//!
//! `deep` also runs our router without inbound deduplication (shared header only).
//!
//! `cargo bench -p router --bench federation`; BENCH_CASE=deep|edge|telemetry|large|many|all (default all,
//! comma-separated lists work); HIVE_ROUTER=<path> picks the hive-router binary (else PATH,
//! then ~/.cargo/bin); without one, only ours runs. A short smoke run:
//! `BENCH_SECONDS=3 BENCH_WARMUP=1 cargo bench -p router --bench federation`.

mod edge;
mod harness;
mod workload;

use bytes::Bytes;
use harness::answers::{agree, problem, request_body};
use harness::load::{self, Auth, Connection, Load, Outcome};
use harness::process::{find_hive_router, Kind, RouterProcess};
use harness::{fmt, mib, print_table, ratio};
use http::HeaderValue;
use std::time::{Duration, Instant};
use workload::{operations, Subgraphs};

/// Target size of the `large` answer.
const LARGE_BYTES: usize = 8 << 20;
/// Operations in the `many` case, and how many of the last ones are replayed warm.
const MANY_OPERATIONS: usize = 1000;
const MANY_REPLAYED: usize = 200;
/// The `many` case stops here even if a router is very slow, so the bench always ends.
const MANY_DEADLINE: Duration = Duration::from_secs(180);

const CASES: [&str; 5] = ["deep", "edge", "telemetry", "large", "many"];

struct Settings {
    warmup: Duration,
    seconds: Duration,
    concurrency: usize,
    cases: Vec<String>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            std::env::var(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| anyhow::anyhow!("{name}={v}: not a number"))
            })
        };
        let case = std::env::var("BENCH_CASE").unwrap_or_else(|_| "all".into());
        let mut cases: Vec<String> = case.split(',').map(|c| c.trim().to_owned()).collect();
        if cases.iter().any(|c| c == "all") {
            cases = CASES.map(String::from).to_vec();
        }
        if let Some(bad) = cases.iter().find(|c| !CASES.contains(&c.as_str())) {
            anyhow::bail!(
                "BENCH_CASE: unknown case {bad:?} (deep, edge, telemetry, large, many or all)"
            );
        }
        Ok(Settings {
            warmup: Duration::from_secs(number("BENCH_WARMUP", 5)?),
            seconds: Duration::from_secs(number("BENCH_SECONDS", 20)?.max(1)),
            concurrency: usize::try_from(number("BENCH_CONCURRENCY", 50)?.max(1))?,
            cases,
        })
    }

    fn runs(&self, case: &str) -> bool {
        self.cases.iter().any(|c| c == case)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let subgraphs = Subgraphs::start().await?;
    subgraphs.check_fixture()?;
    let dir = tempfile::tempdir()?;
    let supergraph = dir.path().join("supergraph.graphql");
    std::fs::write(&supergraph, subgraphs.supergraph()?)?;

    // Dropping `routers` (also on an early return) kills each child by its PID.
    let mut routers = vec![RouterProcess::start_ours(&supergraph, dir.path()).await?];
    match find_hive_router() {
        Some(binary) => {
            println!("hive-router: {}", binary.display());
            routers.push(RouterProcess::start_hive(&binary, &supergraph, dir.path()).await?);
        }
        None => println!(
            "hive-router not found (HIVE_ROUTER, PATH, ~/.cargo/bin): timing our router only"
        ),
    }
    println!(
        "{} cores; warm-up {:?}, measured {:?}, {} connections; cases: {}\n",
        std::thread::available_parallelism()?.get(),
        settings.warmup,
        settings.seconds,
        settings.concurrency,
        settings.cases.join(", ")
    );

    let test_query = request_body(&operations::test_query());
    let answers = agree(&routers, &test_query, "TestQuery").await?;
    let answer_len = answers[0].len();
    if settings.runs("deep") {
        // Hive Router 0.2 has no inbound deduplication: ours without it, for comparison.
        let variant = RouterProcess::start_variant(
            &supergraph,
            dir.path(),
            Some("without inbound dedupe"),
            &[("ROUTER_TRAFFIC__DEDUPLICATE_REQUESTS", "false")],
        )
        .await?;
        let mut deep: Vec<(&RouterProcess, &Bytes)> = routers.iter().zip(&answers).collect();
        deep.push((&variant, &answers[0]));
        deep_case(&settings, &deep, &subgraphs, &test_query).await?;
    }
    if settings.runs("edge") {
        let body = (&test_query, &answers[0]);
        edge::edge_case(
            &settings,
            &routers[0],
            &subgraphs,
            &supergraph,
            dir.path(),
            body,
        )
        .await?;
    }
    if settings.runs("telemetry") {
        let body = (&test_query, &answers[0]);
        edge::telemetry_case(&settings, &subgraphs, &supergraph, dir.path(), body).await?;
    }
    // `many` before `large`, so its RSS figures start from the deep case's, not from the
    // large answers'.
    if settings.runs("many") {
        many_case(&routers).await?;
    }
    if settings.runs("large") {
        large_case(&settings, &routers, &subgraphs, answer_len).await?;
    }
    Ok(())
}

/// What one timed load against one router measured.
struct Measured {
    kind: Kind,
    label: String,
    mode: &'static str,
    outcome: Outcome,
    /// Router CPU per request in microseconds.
    cpu_us: Option<f64>,
    peak_rss_kib: Option<u64>,
    subgraph_requests: u64,
}

impl Measured {
    fn p(&self, quantile: f64) -> Option<f64> {
        Some(self.outcome.percentile_ms(quantile))
    }

    fn subgraph_requests_each(&self) -> f64 {
        self.subgraph_requests as f64 / self.outcome.requests.max(1) as f64
    }
}

/// Runs `load` (its window set here) against `router`, reading the router's CPU time, its
/// peak RSS and the subgraph request count over the measured window only.
async fn measure(
    router: &RouterProcess,
    subgraphs: &Subgraphs,
    mut load: Load,
    (warmup, seconds): (Duration, Duration),
    mode: &'static str,
) -> anyhow::Result<Measured> {
    load.measure_from = Instant::now() + warmup;
    load.until = load.measure_from + seconds;
    let (measure_from, until) = (load.measure_from, load.until);
    let running = tokio::spawn(load::run(load));
    tokio::time::sleep_until(measure_from.into()).await;
    router.reset_peak();
    let (cpu_before, requests_before) = (router.cpu_seconds(), subgraphs.requests());
    tokio::time::sleep_until(until.into()).await;
    let cpu = router.cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let peak_rss_kib = router.peak_rss_kib();
    let subgraph_requests = subgraphs.requests() - requests_before;
    let outcome = running.await??;
    Ok(Measured {
        kind: router.kind,
        label: router.label.clone(),
        mode,
        cpu_us: cpu.map(|c| c / outcome.requests.max(1) as f64 * 1e6),
        peak_rss_kib,
        subgraph_requests,
        outcome,
    })
}

fn load_of(router: &RouterProcess, body: &Bytes, answer: &Bytes, connections: usize) -> Load {
    let now = Instant::now();
    Load {
        url: router.url.clone(),
        body: body.clone(),
        connections,
        auth: Auth::Shared,
        measure_from: now,
        until: now,
        expect_len: answer.len(),
        origin: None,
    }
}

/// `routers` with their expected answers; a variant of ours runs with the shared header
/// only (with one header per connection nothing is identical, so it would measure the same).
async fn deep_case(
    settings: &Settings,
    routers: &[(&RouterProcess, &Bytes)],
    subgraphs: &Subgraphs,
    body: &Bytes,
) -> anyhow::Result<()> {
    println!(
        "== deep: TestQuery, {} bytes per answer, {} connections",
        routers[0].1.len(),
        settings.concurrency
    );
    let mut rows = Vec::new();
    for auth in [Auth::Shared, Auth::PerConnection] {
        for &(router, answer) in routers {
            if auth == Auth::PerConnection && router.label != router.kind.label() {
                continue;
            }
            let mut load = load_of(router, body, answer, settings.concurrency);
            load.auth = auth;
            let window = (settings.warmup, settings.seconds);
            rows.push(measure(router, subgraphs, load, window, auth.label()).await?);
        }
    }
    print_measured(&rows, false);
    print_generator_cpu(&rows, settings);
    Ok(())
}

async fn large_case(
    settings: &Settings,
    routers: &[RouterProcess],
    subgraphs: &Subgraphs,
    answer_len: usize,
) -> anyhow::Result<()> {
    let copies = LARGE_BYTES.div_ceil(answer_len.max(1));
    let body = request_body(&operations::large_query(copies));
    let answers = agree(routers, &body, "Large").await?;
    println!(
        "== large: TestQuery's selections x{copies}, {:.2} MiB per answer, 1 connection, \
         sequential",
        answers[0].len() as f64 / f64::from(1 << 20)
    );
    let mut rows = Vec::new();
    for (router, answer) in routers.iter().zip(&answers) {
        let load = load_of(router, &body, answer, 1);
        let window = (settings.warmup, settings.seconds);
        rows.push(measure(router, subgraphs, load, window, "sequential").await?);
    }
    print_measured(&rows, true);
    Ok(())
}

/// Prints one row per measured load, then `ours / hive` for each mode both ran; `cpu_ms`
/// gives CPU per request in milliseconds instead of microseconds.
fn print_measured(rows: &[Measured], cpu_ms: bool) {
    let cpu_scale = if cpu_ms { 1e-3 } else { 1.0 };
    let mut table: Vec<Vec<String>> = rows.iter().map(|m| measured_row(m, cpu_scale)).collect();
    for ours in rows.iter().filter(|m| m.kind == Kind::Ours) {
        let hive = rows
            .iter()
            .find(|m| m.kind == Kind::Hive && m.mode == ours.mode);
        table.extend(hive.map(|hive| ratio_row(ours, hive)));
    }
    let cpu = if cpu_ms { "CPU ms/req" } else { "CPU µs/req" };
    let headers = [
        "router",
        "mode",
        "req/s",
        "p50 ms",
        "p99 ms",
        cpu,
        "peak RSS MiB",
    ];
    print_table(
        &[&headers[..], &["subgraph req/req", "errors"]].concat(),
        &table,
    );
}

fn measured_row(m: &Measured, cpu_scale: f64) -> Vec<String> {
    let per_second = m.outcome.per_second();
    vec![
        m.label.clone(),
        m.mode.into(),
        fmt(Some(per_second), if per_second < 100.0 { 1 } else { 0 }),
        fmt(m.p(0.5), 2),
        fmt(m.p(0.99), 2),
        fmt(
            m.cpu_us.map(|us| us * cpu_scale),
            usize::from(cpu_scale < 1.0),
        ),
        mib(m.peak_rss_kib),
        fmt(Some(m.subgraph_requests_each()), 2),
        m.outcome.errors.to_string(),
    ]
}

fn ratio_row(ours: &Measured, hive: &Measured) -> Vec<String> {
    let kib = |m: &Measured| m.peak_rss_kib.map(|k| k as f64);
    let ours_label = ours
        .label
        .strip_prefix(Kind::Ours.label())
        .unwrap_or_default();
    vec![
        format!("ours{ours_label} / hive"),
        ours.mode.into(),
        ratio(
            Some(ours.outcome.per_second()),
            Some(hive.outcome.per_second()),
        ),
        ratio(ours.p(0.5), hive.p(0.5)),
        ratio(ours.p(0.99), hive.p(0.99)),
        ratio(ours.cpu_us, hive.cpu_us),
        ratio(kib(ours), kib(hive)),
        ratio(
            Some(ours.subgraph_requests_each()),
            Some(hive.subgraph_requests_each()),
        ),
        String::new(),
    ]
}

/// The load generator's own CPU use, to show it stayed out of the way.
fn print_generator_cpu(rows: &[Measured], settings: &Settings) {
    let wall = (settings.warmup + settings.seconds).as_secs_f64();
    let shares: Vec<String> = rows
        .iter()
        .map(|m| {
            let share = m.outcome.generator_cpu.map(|c| c / wall * 100.0);
            format!("{} {} {}%", m.label, m.mode, fmt(share, 0))
        })
        .collect();
    println!("load generator CPU, % of one core: {}\n", shares.join("; "));
}

/// What sending the distinct operations once (cold) and the last ones again (warm) gave.
struct Planned {
    kind: Kind,
    sent: usize,
    errors: usize,
    cold: Duration,
    cold_tail_ms: f64,
    warm_tail_ms: f64,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    answers: Vec<Bytes>,
}

async fn many_case(routers: &[RouterProcess]) -> anyhow::Result<()> {
    let bodies: Vec<Bytes> = (0..MANY_OPERATIONS)
        .map(|n| request_body(&operations::distinct_operation(n)))
        .collect();
    println!(
        "== many: {MANY_OPERATIONS} distinct operations, each sent once (cold plan), then the last \
         {MANY_REPLAYED} again (warm); 1 connection, sequential"
    );
    let mut results = Vec::new();
    for router in routers {
        results.push(plan_many(router, &bodies).await?);
    }
    if let [ours, hive] = results.as_slice() {
        let differing = (ours.answers.iter().zip(&hive.answers))
            .filter(|(a, b)| {
                harness::answers::compare(a, b).map_or(true, |v| v.starts_with("DIFFERENT"))
            })
            .count();
        println!(
            "answers differing between the routers: {differing} of {}",
            ours.answers.len().min(hive.answers.len())
        );
    }
    let mut table: Vec<Vec<String>> = results.iter().map(many_row).collect();
    if let [ours, hive] = results.as_slice() {
        table.push(many_ratio_row(ours, hive));
    }
    print_table(
        &[
            "router",
            "operations",
            "cold ops/s",
            "cold ms/op (tail)",
            "warm ms/op (tail)",
            "≈ plan ms/op",
            "RSS before → after MiB",
            "peak RSS MiB",
            "errors",
        ],
        &table,
    );
    Ok(())
}

impl Planned {
    fn cold_per_second(&self) -> f64 {
        self.sent as f64 / self.cold.as_secs_f64().max(1e-9)
    }
}

fn many_row(p: &Planned) -> Vec<String> {
    vec![
        p.kind.label().into(),
        p.sent.to_string(),
        fmt(Some(p.cold_per_second()), 0),
        fmt(Some(p.cold_tail_ms), 2),
        fmt(Some(p.warm_tail_ms), 2),
        fmt(Some(p.cold_tail_ms - p.warm_tail_ms), 2),
        format!("{} → {}", mib(p.rss_before_kib), mib(p.rss_after_kib)),
        mib(p.peak_rss_kib),
        p.errors.to_string(),
    ]
}

fn many_ratio_row(ours: &Planned, hive: &Planned) -> Vec<String> {
    let plan = |p: &Planned| Some(p.cold_tail_ms - p.warm_tail_ms);
    let kib = |k: Option<u64>| k.map(|k| k as f64);
    vec![
        "ours / hive".into(),
        String::new(),
        ratio(Some(ours.cold_per_second()), Some(hive.cold_per_second())),
        ratio(Some(ours.cold_tail_ms), Some(hive.cold_tail_ms)),
        ratio(Some(ours.warm_tail_ms), Some(hive.warm_tail_ms)),
        ratio(plan(ours), plan(hive)),
        ratio(kib(ours.rss_after_kib), kib(hive.rss_after_kib)),
        ratio(kib(ours.peak_rss_kib), kib(hive.peak_rss_kib)),
        String::new(),
    ]
}

/// Sends each operation once, then replays the last [`MANY_REPLAYED`]: the difference of the
/// two passes over those same operations is what planning cost.
async fn plan_many(router: &RouterProcess, bodies: &[Bytes]) -> anyhow::Result<Planned> {
    let auth = HeaderValue::from_static("Bearer bench-many");
    let mut conn = Connection::open(&router.url).await?;
    router.reset_peak();
    let rss_before_kib = router.rss_kib();
    let (started, mut errors) = (Instant::now(), 0);
    let mut answers = Vec::new();
    let mut cold_ms = Vec::new();
    for body in bodies {
        if started.elapsed() > MANY_DEADLINE {
            break;
        }
        let t = Instant::now();
        let answer = conn.post(body.clone(), &auth).await;
        cold_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let ok = answer
            .as_ref()
            .ok()
            .and_then(|a| serde_json::from_slice(a).ok());
        errors += usize::from(ok.as_ref().is_none_or(|json| problem(json).is_some()));
        answers.push(answer.unwrap_or_default());
        if answers.last().is_some_and(Bytes::is_empty) {
            conn = Connection::open(&router.url).await?;
        }
    }
    let cold = started.elapsed();
    let rss_after_kib = router.rss_kib();
    let peak_rss_kib = router.peak_rss_kib();
    let tail = answers.len().saturating_sub(MANY_REPLAYED);
    let mut warm_ms = Vec::new();
    for body in &bodies[tail..answers.len()] {
        let t = Instant::now();
        errors += usize::from(conn.post(body.clone(), &auth).await.is_err());
        warm_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(Planned {
        kind: router.kind,
        sent: answers.len(),
        errors,
        cold,
        cold_tail_ms: mean(&cold_ms[tail..]),
        warm_tail_ms: mean(&warm_ms),
        rss_before_kib,
        rss_after_kib,
        peak_rss_kib,
        answers,
    })
}
