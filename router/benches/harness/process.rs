//! The routers under test as child processes, and what /proc says about them.
//!
//! Each child is killed by the PID we spawned when its [`RouterProcess`] drops, so an error
//! or a panic anywhere in the bench still ends it.

use anyhow::Context as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which router a process is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Ours,
    Hive,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Ours => "router (ours)",
            Kind::Hive => "hive-router",
        }
    }
}

/// A running router child process.
pub struct RouterProcess {
    pub kind: Kind,
    /// How tables name it: the kind's label, or that and a variant.
    pub label: String,
    /// `http://127.0.0.1:<port>/graphql`
    pub url: String,
    child: Child,
    log: PathBuf,
}

/// A free loopback port (the listener is dropped; the child binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// stdout and stderr of a child go to `<dir>/<name>.log`, shown when it fails to start.
fn log_file(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Stdio, Stdio)> {
    let path = dir.join(format!("{name}.log"));
    let file = File::create(&path)?;
    Ok((path, Stdio::from(file.try_clone()?), Stdio::from(file)))
}

impl RouterProcess {
    /// Our `router serve` on the supergraph file.
    pub async fn start_ours(supergraph: &Path, dir: &Path) -> anyhow::Result<RouterProcess> {
        RouterProcess::start_variant(supergraph, dir, None, &[]).await
    }

    /// Our router with `env` over the bench's settings, named `variant` in tables (e.g. a
    /// switched-off feature, to measure what it costs).
    pub async fn start_variant(
        supergraph: &Path,
        dir: &Path,
        variant: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<RouterProcess> {
        let port = free_port()?;
        let name = variant.map_or("router".to_owned(), |v| {
            format!("router-{v}").replace(' ', "-")
        });
        let (log, out, err) = log_file(dir, &name)?;
        let child = Command::new(env!("CARGO_BIN_EXE_router"))
            .arg("serve")
            .arg("--supergraph")
            .arg(supergraph)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            // The edge stays on (limits, CORS, demand control, rate limiting in memory), with
            // budgets a load generator on one address cannot exhaust, so its cost is measured.
            .env("ROUTER_RATE_LIMIT__PER_IP__CAPACITY", "1000000000")
            .env("ROUTER_RATE_LIMIT__PER_USER__CAPACITY", "1000000000")
            .env("ROUTER_RATE_LIMIT__COST__CAPACITY", "1000000000000")
            .env("ROUTER_DEMAND_CONTROL__MAX_COST", "1e12")
            // The `large` case is TestQuery's selections under 97 aliases: over the default
            // operation limits, which hive-router does not have.
            .env("ROUTER_LIMITS__MAX_ALIASES", "1000")
            .env("ROUTER_LIMITS__MAX_ROOT_FIELDS", "1000")
            .env("ROUTER_LIMITS__MAX_HEIGHT", "100000")
            .env("ROUTER_LIMITS__MAX_TOKENS", "1000000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("spawning router")?;
        let mut process = RouterProcess::new(Kind::Ours, port, child, log);
        if let Some(variant) = variant {
            process.label = format!("{} {variant}", Kind::Ours.label());
        }
        process.wait_ready("/health").await?;
        Ok(process)
    }

    /// `hive-router` on the same supergraph, configured by a file in `dir` (see
    /// [`hive_config`]).
    pub async fn start_hive(
        binary: &Path,
        supergraph: &Path,
        dir: &Path,
    ) -> anyhow::Result<RouterProcess> {
        let port = free_port()?;
        let config = dir.join("router.config.yaml");
        std::fs::write(&config, hive_config(supergraph, port))?;
        let (log, out, err) = log_file(dir, "hive-router")?;
        let child = Command::new(binary)
            .current_dir(dir)
            .env("ROUTER_CONFIG_FILE_PATH", &config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let process = RouterProcess::new(Kind::Hive, port, child, log);
        process.wait_ready("/readiness").await?;
        Ok(process)
    }

    fn new(kind: Kind, port: u16, child: Child, log: PathBuf) -> RouterProcess {
        RouterProcess {
            kind,
            label: kind.label().to_owned(),
            url: format!("http://127.0.0.1:{port}/graphql"),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `path` until it answers 2xx; fails early if the child exits.
    async fn wait_ready(&self, path: &str) -> anyhow::Result<()> {
        let url = self.url.replace("/graphql", path);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::fs::metadata(format!("/proc/{}", self.pid())).is_err() {
                break;
            }
            let ready = client.get(&url).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        anyhow::bail!(
            "{} did not become ready at {url}; last log lines:\n{}",
            self.kind.label(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// User + system CPU seconds of the whole process so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(format!("/proc/{}/stat", self.pid()))
    }

    /// Peak resident memory in KiB since start or the last [`Self::reset_peak`] (VmHWM).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// Resident memory now, in KiB (VmRSS).
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Resets VmHWM to the current RSS, so each measured phase reports its own peak. Best
    /// effort: where /proc/<pid>/clear_refs is not writable the peak spans the process life.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// hive-router 0.2 reads `ROUTER_CONFIG_FILE_PATH` (else `router.config.yaml` in its working
/// directory). Unlike ours it forwards no client header to subgraphs by default, so the
/// config propagates `Authorization`: both routers then send the same subgraph requests, and
/// a distinct header per connection defeats its in-flight deduplication as it does ours.
fn hive_config(supergraph: &Path, port: u16) -> String {
    format!(
        "supergraph:\n  source: file\n  path: {path:?}\n\
         http:\n  host: 127.0.0.1\n  port: {port}\n\
         log:\n  level: warn\n\
         headers:\n  all:\n    request:\n      - propagate:\n          named: Authorization\n",
        path = supergraph.display().to_string()
    )
}

/// User + system CPU seconds from a /proc `stat` file (utime + stime, at 100 ticks a second,
/// the kernel's USER_HZ on Linux).
pub fn cpu_seconds(stat_path: impl AsRef<Path>) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The hive-router binary: `HIVE_ROUTER` (a path), else on PATH, else in ~/.cargo/bin.
/// `cargo install hive-router` installs the binary as `hive_router`, so both spellings are
/// looked for.
pub fn find_hive_router() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HIVE_ROUTER") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    dirs.extend(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")));
    dirs.iter()
        .flat_map(|dir| [dir.join("hive-router"), dir.join("hive_router")])
        .find(|p| p.is_file())
}
