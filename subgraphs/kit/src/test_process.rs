//! Subgraph binaries as child processes of a test (feature `testing`): crash tests kill them
//! mid-request with SIGKILL, as a crash would, and start them again on the same data.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;

use crate::testing::free_port;

/// How long a started process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One subgraph process on a free loopback port; killed (by its own pid) on drop.
pub struct ServiceProcess {
    child: Child,
    name: String,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl ServiceProcess {
    /// Starts `binary` (e.g. `env!("CARGO_BIN_EXE_boards")`), configured only through its
    /// environment: `<env_prefix>LISTEN`, `<env_prefix>DATA_DIR`, then `env` as given.
    pub fn spawn(binary: &str, env_prefix: &str, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env(format!("{env_prefix}LISTEN"), format!("127.0.0.1:{port}"))
            .env(format!("{env_prefix}DATA_DIR"), data_dir)
            .env(format!("{env_prefix}LOG_LEVEL"), "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {binary}: {e}"));
        Self {
            child,
            name: binary.rsplit('/').next().unwrap_or(binary).to_owned(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until `/ready` answers 200.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ready = reqwest::get(format!("{}/ready", self.base)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited early: {status}", self.name);
            }
            assert!(Instant::now() < deadline, "{} not ready", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `{base}/graphql`
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.base)).await;
        response
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// Kills the process at once (SIGKILL: no shutdown, no cleanup) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Serves `signer`'s JWKS on a loopback port, as the accounts subgraph does; returns its URL.
pub async fn serve_jwks(signer: &auth::TokenSigner) -> String {
    let jwks = signer.jwks();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The store `service` keeps under `data_dir` (embedded), opened beside its process.
pub async fn open_store(data_dir: &Path, service: &str) -> crate::store::Store {
    let metrics = crate::metrics::Metrics::new("test");
    crate::store::Store::open(None, "", data_dir, service, metrics)
        .await
        .expect("open the embedded store")
}

/// Every event on the embedded `stream` under `data_dir`, read by a fresh group.
pub async fn stream_events(data_dir: &Path, stream: &str) -> Vec<crate::events::DomainEvent> {
    use crate::events::EventStream;
    let metrics = crate::metrics::Metrics::new("test");
    let events = crate::events::EmbeddedEventStream::open(&data_dir.join("events.db"), metrics)
        .expect("open the embedded event stream");
    let group = format!("test-{}", crate::store::new_id());
    events.ensure_group(stream, &group).await.expect("group");
    let read = events.read_new(stream, &group, "test", 10_000, Duration::ZERO);
    let deliveries = read.await.expect("read");
    deliveries.into_iter().map(|d| d.event).collect()
}

/// Polls `check` every 100 ms until it returns something, for at most `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where a crash test finds a subgraph's writes and events.
pub struct Crash<'a> {
    pub data_dir: &'a Path,
    /// The store file's name (`<service>.db`).
    pub service: &'a str,
    /// The collection whose documents carry the event.
    pub collection: &'static str,
    pub stream: &'a str,
}

impl Crash<'_> {
    /// Kills a subgraph between a write and the append of its event, and restarts it. `spawn`
    /// starts the subgraph, stopping at `fault` when given; `write` makes the write through the
    /// process's GraphQL URL (it never returns: its process dies under it). Checks that the
    /// write is stored with its event pending and the event not sent, then that the restarted
    /// process sends it and clears it from the document. Returns the event, found on the stream
    /// exactly once after one more sweep.
    pub async fn before_append<S, W, Fut>(&self, spawn: S, write: W) -> crate::events::DomainEvent
    where
        S: Fn(Option<&str>) -> ServiceProcess,
        W: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        use crate::outbox::{DUE_AT, PENDING};
        use crate::store::Filter;
        let mut process = spawn(Some("outbox-before-append"));
        process.wait_ready().await;
        let writing = tokio::spawn(write(process.graphql_url()));
        let docs = open_store(self.data_dir, self.service)
            .await
            .collection::<serde_json::Value>(self.collection);
        let pending = Filter::gt(DUE_AT, 0);
        let doc = eventually("the write, its event pending", READY_TIMEOUT, || async {
            docs.find_one(&pending).await.expect("find")
        })
        .await;
        let event_id = doc[PENDING][0]["id"]
            .as_str()
            .expect("pending event")
            .to_owned();
        let sent = |events: &[crate::events::DomainEvent]| events.iter().any(|e| e.id == event_id);
        assert!(
            !sent(&stream_events(self.data_dir, self.stream).await),
            "appended before the crash"
        );
        process.kill();
        writing.abort();

        let mut restarted = spawn(None);
        restarted.wait_ready().await;
        let wait = crate::outbox::RETRY_AFTER + crate::outbox::SWEEP_EVERY * 3;
        eventually("the restarted process to send the event", wait, || async {
            sent(&stream_events(self.data_dir, self.stream).await).then_some(())
        })
        .await;
        let id = doc["id"].as_str().expect("id");
        let cleared = eventually("the event cleared from its document", wait, || async {
            let doc = docs.get(id).await.expect("get")?;
            doc.get(DUE_AT).is_none().then_some(doc)
        })
        .await;
        assert_eq!(cleared[PENDING], serde_json::json!([]), "{cleared}");
        // Another sweep must not send it again.
        tokio::time::sleep(crate::outbox::SWEEP_EVERY + Duration::from_secs(1)).await;
        let events = stream_events(self.data_dir, self.stream).await;
        let sent: Vec<_> = events.iter().filter(|e| e.id == event_id).collect();
        assert_eq!(sent.len(), 1, "sent exactly once: {events:?}");
        sent[0].clone()
    }
}
