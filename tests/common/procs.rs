//! Real processes for the tests that run the platform's binaries: started with a log file
//! each, stopped (SIGTERM, then SIGKILL) when dropped, their log tails on failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One started process, stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn signal(&self, signal: rustix::process::Signal) {
        if let Some(child) = &self.child {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    }

    /// SIGKILL, as a crash: no drain, no goodbye to anyone.
    pub fn crash(&mut self) {
        self.signal(rustix::process::Signal::KILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal(rustix::process::Signal::TERM);
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The processes of one test.
pub struct Procs {
    dir: PathBuf,
    procs: BTreeMap<String, Proc>,
}

impl Procs {
    /// Processes whose logs go to `dir`.
    pub fn new(dir: &Path) -> Procs {
        Procs {
            dir: dir.to_owned(),
            procs: BTreeMap::new(),
        }
    }

    pub fn spawn(&mut self, name: &str, program: &Path, args: &[&str], env: &[(String, String)]) {
        let log = self.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(program)
            .args(args)
            .env_remove("MONGODB_URL")
            .env("RUST_LOG", "warn")
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {} did not start: {e}", program.display()));
        let proc = Proc {
            name: name.into(),
            child: Some(child),
            log,
        };
        self.procs.insert(name.into(), proc);
    }

    /// Every process's last log lines, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for proc in self.procs.values() {
            let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out += &format!("--- {} ---\n", proc.name);
            for line in tail.into_iter().rev() {
                out += line;
                out.push('\n');
            }
        }
        out
    }

    pub fn crash(&mut self, name: &str) {
        self.procs.get_mut(name).expect("process").crash();
    }
}

pub fn binary(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_platform"))
        .parent()
        .expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first",
        path.display()
    );
    path
}

pub async fn wait_ok(url: &str, what: &str, logs: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(url).await {
            if response.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not get ready at {url}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
