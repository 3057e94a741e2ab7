//! One way to run a subgraph: its HTTP app and its background work (event consumers, outbox
//! sweepers, stream trimmers) start together, stop on the same shutdown token, and shutdown
//! returns only once both have finished. `Subgraph::app` builds the router and starts nothing,
//! so a test can serve an app without any background work, or run the whole subgraph.

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the kit needs to run a subgraph.
pub trait Subgraph: Send + Sync + 'static {
    /// The HTTP app: routes only, no task started.
    fn app(&self, shutdown: CancellationToken) -> Router;

    /// Starts the subgraph's background work on `tasks`, each stopping on `tasks.shutdown()`.
    fn start_background(&self, tasks: &mut Background);
}

/// A shared subgraph runs like the subgraph itself (tests keep a handle on it).
impl<T: Subgraph> Subgraph for std::sync::Arc<T> {
    fn app(&self, shutdown: CancellationToken) -> Router {
        (**self).app(shutdown)
    }

    fn start_background(&self, tasks: &mut Background) {
        (**self).start_background(tasks)
    }
}

/// The background tasks of one subgraph.
pub struct Background {
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            shutdown,
            tasks: Vec::new(),
        }
    }

    /// The token every task must stop on.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Keeps a task started with [`Background::shutdown`], to await it on shutdown.
    pub fn keep(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Spawns `task` (which must end once [`Background::shutdown`] is cancelled) and keeps it.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.keep(tokio::spawn(task));
    }

    /// How many tasks are kept.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels the token and waits for every task; a task that panicked is logged.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for result in futures::future::join_all(self.tasks).await {
            if let Err(error) = result {
                tracing::error!(%error, "background task failed");
            }
        }
    }
}

/// Starts `subgraph`'s background work on a child of `shutdown`.
pub fn start_background(subgraph: &impl Subgraph, shutdown: &CancellationToken) -> Background {
    let mut tasks = Background::new(shutdown.child_token());
    subgraph.start_background(&mut tasks);
    tasks
}

/// Serves `subgraph` on `listener` with its background work until `shutdown` is cancelled,
/// then drains in-flight requests and waits for the background work to stop. If the server
/// fails, the background work stops too (the caller's token is left alone).
pub async fn run(
    subgraph: impl Subgraph,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let background = start_background(&subgraph, &shutdown);
    let app = subgraph.app(shutdown.clone());
    let served = crate::server::serve(listener, app, shutdown).await;
    background.stop().await;
    served
}
