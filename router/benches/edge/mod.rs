//! Costs measured A/B: two processes of our router, identical but for one feature, in
//! alternating rounds.
//!
//! The `edge` case: what rate limiting (in memory), demand control, CSRF prevention and CORS
//! cost together on a plan-cache hit. Two processes of our router, identical but for the
//! edge, take turns under the same load (`BENCH_EDGE_ROUNDS` rounds, 5 by default, of
//! BENCH_WARMUP + BENCH_SECONDS each, alternating which goes first), so drift on the shared
//! cores falls on both; the medians are compared. Requests carry an `Origin` on the CORS list,
//! so CORS decorates every response. Operation limits are checked once per document, when it
//! is parsed, so a plan-cache hit does not pay them in either process.

use crate::harness::load::Auth;
use crate::harness::process::RouterProcess;
use crate::harness::{fmt, print_table};
use crate::workload::Subgraphs;
use crate::{load_of, measure, Measured, Settings};
use bytes::Bytes;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// Switches off every part of the edge that can be switched off.
const EDGE_OFF: [(&str, &str); 4] = [
    ("ROUTER_RATE_LIMIT__ENABLED", "false"),
    ("ROUTER_DEMAND_CONTROL__ENABLED", "false"),
    ("ROUTER_CSRF__ENABLED", "false"),
    ("ROUTER_CORS__ORIGINS", ""),
];

pub async fn edge_case(
    settings: &Settings,
    ours: &RouterProcess,
    subgraphs: &Subgraphs,
    supergraph: &Path,
    dir: &Path,
    body: (&Bytes, &Bytes),
) -> anyhow::Result<()> {
    let bare = RouterProcess::start_variant(supergraph, dir, Some("edge off"), &EDGE_OFF).await?;
    println!(
        "== edge: TestQuery, {} connections, shared Authorization",
        settings.concurrency
    );
    let pair = [(ours, "edge on"), (&bare, "edge off")];
    alternate(settings, subgraphs, body, pair, "edge cost").await
}

/// Metrics off and no trace export (the baseline of the `telemetry` case).
const TELEMETRY_OFF: [(&str, &str); 1] = [("ROUTER_TELEMETRY__METRICS__ENABLED", "false")];

/// The `telemetry` case: what metrics plus traces sampled at 1 % (parent-based, exported
/// over OTLP/HTTP to a receiver in this process) cost, against metrics off and no export.
pub async fn telemetry_case(
    settings: &Settings,
    subgraphs: &Subgraphs,
    supergraph: &Path,
    dir: &Path,
    body: (&Bytes, &Bytes),
) -> anyhow::Result<()> {
    let (endpoint, exported) = otlp_sink().await?;
    let traced = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
    ];
    let on = RouterProcess::start_variant(supergraph, dir, Some("telemetry on"), &traced).await?;
    let off = RouterProcess::start_variant(supergraph, dir, Some("telemetry off"), &TELEMETRY_OFF)
        .await?;
    println!(
        "== telemetry: TestQuery, {} connections, shared Authorization; metrics + traces at 1 % vs neither",
        settings.concurrency
    );
    let pair = [(&on, "metrics + 1 % traces"), (&off, "neither")];
    alternate(settings, subgraphs, body, pair, "telemetry cost").await?;
    let batches = exported.load(std::sync::atomic::Ordering::Relaxed);
    println!("(OTLP export requests received from the traced router: {batches})\n");
    anyhow::ensure!(batches > 0, "the traced router exported no spans");
    Ok(())
}

/// An OTLP/HTTP endpoint that accepts span exports and counts them.
async fn otlp_sink() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { [("content-type", "application/x-protobuf")] }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, count))
}

/// Two routers take turns under the same load (`BENCH_EDGE_ROUNDS` rounds, 5 by default,
/// alternating which goes first); the medians and what the first costs over the second.
async fn alternate(
    settings: &Settings,
    subgraphs: &Subgraphs,
    (body, answer): (&Bytes, &Bytes),
    pair: [(&RouterProcess, &str); 2],
    cost: &str,
) -> anyhow::Result<()> {
    let rounds: usize = std::env::var("BENCH_EDGE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut measured: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let router = pair[i].0;
            let mut load = load_of(router, body, answer, settings.concurrency);
            load.auth = Auth::Shared;
            load.origin = Some("http://127.0.0.1:4000");
            let window = (settings.warmup, settings.seconds);
            let result = measure(router, subgraphs, load, window, "shared auth").await?;
            measured[i].push(result);
        }
    }
    print_table(
        &[
            "router",
            "mode",
            "median req/s",
            "median CPU µs/req",
            "errors",
        ],
        &[
            row(pair[0], &measured[0]),
            row(pair[1], &measured[1]),
            cost_row(cost, &measured[0], &measured[1]),
        ],
    );
    Ok(())
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn req_per_s(rows: &[Measured]) -> Option<f64> {
    median(rows.iter().map(|m| m.outcome.per_second()).collect())
}

fn cpu_us(rows: &[Measured]) -> Option<f64> {
    median(rows.iter().filter_map(|m| m.cpu_us).collect())
}

fn row((router, mode): (&RouterProcess, &str), rows: &[Measured]) -> Vec<String> {
    let errors: usize = rows.iter().map(|m| m.outcome.errors).sum();
    vec![
        router.label.clone(),
        mode.into(),
        fmt(req_per_s(rows), 0),
        fmt(cpu_us(rows), 0),
        errors.to_string(),
    ]
}

/// What the first router's extra work costs: throughput lost and CPU added, in percent of
/// the second's figures.
fn cost_row(name: &str, on: &[Measured], off: &[Measured]) -> Vec<String> {
    let percent = |with: Option<f64>, without: Option<f64>, sign: f64| {
        with.zip(without)
            .map(|(with, without)| sign * (with - without) / without * 100.0)
    };
    vec![
        name.into(),
        "% of the second".into(),
        format!("{}%", fmt(percent(req_per_s(on), req_per_s(off), -1.0), 1)),
        format!("{}%", fmt(percent(cpu_us(on), cpu_us(off), 1.0), 1)),
        String::new(),
    ]
}
