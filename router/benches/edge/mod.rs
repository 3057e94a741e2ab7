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
    (body, answer): (&Bytes, &Bytes),
) -> anyhow::Result<()> {
    let bare = RouterProcess::start_variant(supergraph, dir, Some("edge off"), &EDGE_OFF).await?;
    let rounds: usize = std::env::var("BENCH_EDGE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    println!(
        "== edge: TestQuery, {} connections, shared Authorization, {rounds} alternating rounds",
        settings.concurrency
    );
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [(ours, true), (&bare, false)]
        } else {
            [(&bare, false), (ours, true)]
        };
        for (router, edge) in order {
            let mut load = load_of(router, body, answer, settings.concurrency);
            load.auth = Auth::Shared;
            load.origin = Some("http://127.0.0.1:4000");
            let window = (settings.warmup, settings.seconds);
            let measured = measure(router, subgraphs, load, window, "shared auth").await?;
            if edge { &mut on } else { &mut off }.push(measured);
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
        &[row(ours, &on), row(&bare, &off), cost_row(&on, &off)],
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

fn row(router: &RouterProcess, rows: &[Measured]) -> Vec<String> {
    let errors: usize = rows.iter().map(|m| m.outcome.errors).sum();
    vec![
        router.label.clone(),
        "shared auth".into(),
        fmt(req_per_s(rows), 0),
        fmt(cpu_us(rows), 0),
        errors.to_string(),
    ]
}

/// The edge's cost: throughput lost and CPU added, in percent of the edge-off figures.
fn cost_row(on: &[Measured], off: &[Measured]) -> Vec<String> {
    let percent = |with: Option<f64>, without: Option<f64>, sign: f64| {
        with.zip(without)
            .map(|(with, without)| sign * (with - without) / without * 100.0)
    };
    vec![
        "edge cost".into(),
        "% of edge off".into(),
        format!("{}%", fmt(percent(req_per_s(on), req_per_s(off), -1.0), 1)),
        format!("{}%", fmt(percent(cpu_us(on), cpu_us(off), 1.0), 1)),
        String::new(),
    ]
}
