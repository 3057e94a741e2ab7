//! Test helpers (feature `testing`): a throwaway `redis-server`, free ports, unique prefixes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` of this test alone, on a free loopback port, without persistence.
/// Killed on drop (also when the test panics).
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>/`
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server; `None` when `redis-server` is not installed or does not come up.
    pub fn start() -> Option<Self> {
        // A free port can be taken by someone else before redis binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut server = Self {
                url: format!("redis://127.0.0.1:{port}/"),
                port,
                child: None,
                dir: tempfile::tempdir().ok()?,
            };
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(error) => eprintln!("redis-server on port {port} did not start: {error}"),
            }
        }
        None
    }

    /// Kills the server (its data is lost: it has no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(error) = self.spawn() {
            panic!(
                "redis-server did not restart on port {}: {error}",
                self.port
            );
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing answers, like a
    /// Redis stuck on a slow command. [`RedisServer::resume`] undoes it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Continues a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else { return };
        // Only ever the PID this helper started.
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status();
        assert!(
            status.is_ok_and(|status| status.success()),
            "kill {signal} failed"
        );
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if ping(self.port) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(std::io::Error::other(format!("exited with {status}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(std::io::Error::other("no PONG in time"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends an inline PING; true on `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A server for the calling test, or `None` (after printing `SKIPPED ...`) when
/// `redis-server` is not installed; the caller then returns early. With `CI=true` a missing
/// server is a failure, so CI can never pass by skipping.
pub fn require_redis() -> Option<RedisServer> {
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    if !redis_installed() {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test}: redis-server is not installed, and CI=true forbids skipping (apt-get install -y redis-server)");
        }
        eprintln!("SKIPPED (redis-server not installed): {test}");
        return None;
    }
    match RedisServer::start() {
        Some(server) => Some(server),
        None => panic!("{test}: redis-server is installed but did not start"),
    }
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding 127.0.0.1:0 works on any test machine")
}

/// A key prefix no other test (or test run) shares, e.g. `test:cache_ttl:1f3a9c2e:`.
pub fn unique_prefix(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("test:{test}:{}:", &id[..8])
}

/// The environment variable naming the fault point a test process stops at.
pub const FAULT_ENV: &str = "KIT_FAULT";

/// Crash tests: a process started with `KIT_FAULT=<name>` stops forever at the fault point
/// `name` (the test then kills it there, as a crash would). Compiled only with the `testing`
/// feature, so release builds carry no fault points.
pub async fn fault_point(name: &str) {
    if std::env::var(FAULT_ENV).is_ok_and(|fault| fault == name) {
        eprintln!("fault point {name} reached; stopping here");
        std::future::pending::<()>().await;
    }
}
