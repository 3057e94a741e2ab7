//! A throwaway `redis-server` per test (the router does not depend on the subgraph kit, so
//! this is a small copy of `kit::testing`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A `redis-server` on a free loopback port without persistence, killed on drop.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>/`
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Kills the server; its data is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts an empty one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn()
            .unwrap_or_else(|e| panic!("redis-server did not restart on {}: {e}", self.port));
    }

    /// Freezes (`-STOP`) or continues (`-CONT`) the server: frozen, it keeps connections
    /// open but answers nothing.
    pub fn signal(&self, signal: &str) {
        let Some(child) = &self.child else { return };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} failed");
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
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

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// A server for the calling test, or `None` after printing `SKIPPED (redis-server not
/// installed)`; with `CI=true` a missing server panics, so CI cannot pass by skipping.
pub fn require_redis() -> Option<RedisServer> {
    let test = std::thread::current().name().unwrap_or("<test>").to_owned();
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test}: redis-server is not installed and CI=true forbids skipping");
        }
        eprintln!("SKIPPED (redis-server not installed): {test}");
        return None;
    }
    // A free port can be taken before redis binds it: try a few.
    for _ in 0..3 {
        let port = free_port();
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        match server.spawn() {
            Ok(()) => return Some(server),
            Err(e) => eprintln!("redis-server on port {port} did not start: {e}"),
        }
    }
    panic!("{test}: redis-server is installed but did not start");
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding 127.0.0.1:0 works")
}

/// A key prefix no other test or run shares, e.g. `test:shared:12345-1-839201`.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test:{test}:{}-{n}-{nanos}", std::process::id())
}
