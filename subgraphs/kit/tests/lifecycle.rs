//! `kit::lifecycle`: `app` starts nothing, `run` starts the background work next to the server
//! and returns only once that work has stopped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use kit::lifecycle::{Background, Subgraph};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    stopped: AtomicUsize,
}

/// A subgraph whose background tasks count their starts and (slow) stops.
#[derive(Clone, Default)]
struct Probe(Arc<Counts>);

impl std::ops::Deref for Probe {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.0
    }
}

impl Subgraph for Probe {
    fn app(&self, _shutdown: CancellationToken) -> Router {
        Router::new().route("/health", get(|| async { "ok" }))
    }

    fn start_background(&self, tasks: &mut Background) {
        for _ in 0..2 {
            let (probe, shutdown) = (self.clone(), tasks.shutdown());
            probe.started.fetch_add(1, Ordering::SeqCst);
            tasks.spawn(async move {
                shutdown.cancelled().await;
                // Cleanup that takes a while: `run` must wait for it.
                tokio::time::sleep(Duration::from_millis(200)).await;
                probe.stopped.fetch_add(1, Ordering::SeqCst);
            });
        }
    }
}

#[tokio::test]
async fn app_starts_nothing() {
    let probe = Probe::default();
    let _app = probe.app(CancellationToken::new());
    assert_eq!(probe.started.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn run_serves_and_awaits_background_work_on_shutdown() {
    let probe = Probe::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(kit::lifecycle::run(
        probe.clone(),
        listener,
        shutdown.clone(),
    ));

    let body = reqwest::get(format!("{base}/health"))
        .await
        .expect("served")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "ok");
    assert_eq!(probe.started.load(Ordering::SeqCst), 2);
    assert_eq!(
        probe.stopped.load(Ordering::SeqCst),
        0,
        "runs until shutdown"
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run returns after shutdown")
        .expect("task")
        .expect("served");
    assert_eq!(
        probe.stopped.load(Ordering::SeqCst),
        2,
        "every background task finished before run returned"
    );
}

#[tokio::test]
async fn stopping_the_background_leaves_the_callers_token_alone() {
    let probe = Probe::default();
    let shutdown = CancellationToken::new();
    let background = kit::lifecycle::start_background(&probe, &shutdown);
    assert_eq!(background.len(), 2);
    background.stop().await;
    assert_eq!(probe.stopped.load(Ordering::SeqCst), 2);
    assert!(!shutdown.is_cancelled());
}
