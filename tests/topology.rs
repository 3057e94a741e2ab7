//! The compose topology as real processes: Redis, accounts, boards ×2, chat ×2, notifications,
//! router ×2 (sharing rate limits and the entity cache in Redis) and NGINX running the shipped
//! template (nginx/nginx.conf.template rendered by nginx/render.sh for loopback ports), the
//! embedded store shared by the replicas. Everything
//! goes through NGINX's public port: queries, mutations, the live UI and the playground, and
//! subscriptions on every transport; then one router and one boards replica are killed during
//! a bounded load of reads, writes and live subscriptions.
//!
//! Needs `nginx` and `redis-server` (Debian packages; skipped without them unless CI=true)
//! and the workspace's binaries in the target dir (`cargo build --bins`; `cargo test
//! --workspace` builds them).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::testing::{free_port, require_redis, unique_prefix, RedisServer};
use parking_lot::Mutex;
use serde_json::json;

#[path = "topology/clients.rs"]
mod clients;
mod common;
use clients::{subscriber, wait_for_title, Client, Transport};
use common::procs::{binary, wait_ok, Procs};

const NGINX: &str = "/usr/sbin/nginx";
/// The bounded load: its length, and when the replicas are killed in it.
const LOAD: Duration = Duration::from_secs(8);
const KILL_AT: Duration = Duration::from_secs(2);

struct Topology {
    dir: tempfile::TempDir,
    procs: Procs,
    /// `http://127.0.0.1:<port>`: NGINX's public entry.
    public: String,
    _redis: RedisServer,
}

impl Topology {
    fn spawn(&mut self, name: &str, program: &Path, args: &[&str], env: &[(String, String)]) {
        self.procs.spawn(name, program, args, env);
    }

    fn logs(&self) -> String {
        self.procs.logs()
    }

    fn crash(&mut self, name: &str) {
        self.procs.crash(name);
    }
}

/// Starts the whole topology; `None` when nginx or redis-server is missing (outside CI).
async fn start() -> Option<Topology> {
    if !Path::new(NGINX).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nginx is not installed (apt-get install -y nginx)"
        );
        eprintln!("SKIPPED (nginx not installed): the process topology");
        return None;
    }
    let redis = require_redis()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Topology {
        procs: Procs::new(dir.path()),
        dir,
        public: String::new(),
        _redis: redis,
    };
    let redis_url = t._redis.url.clone();
    let data = t.dir.path().join("data").display().to_string();
    let prefix = unique_prefix("topology");
    let port = |_: &str| free_port();
    let accounts = port("accounts");
    let jwks = format!("http://127.0.0.1:{accounts}/.well-known/jwks.json");
    let mut subgraphs = vec![("accounts".to_owned(), "accounts", accounts)];
    for replica in ["boards-1", "boards-2", "chat-1", "chat-2", "notifications"] {
        let binary = replica.split('-').next().expect("name");
        subgraphs.push((replica.to_owned(), binary, port(replica)));
    }
    for (name, bin, port) in &subgraphs {
        let p = bin.to_uppercase();
        let env = [
            (format!("{p}_LISTEN"), format!("127.0.0.1:{port}")),
            (format!("{p}_DATA_DIR"), data.clone()),
            (format!("{p}_JWKS_URL"), jwks.clone()),
            (format!("{p}_REDIS_PREFIX"), prefix.clone()),
            (format!("{p}_INSTANCE_ID"), name.clone()),
            ("REDIS_URL".to_owned(), redis_url.clone()),
        ];
        t.spawn(name, &binary(bin), &[], &env);
        if *bin == "accounts" {
            // Accounts writes the signing key the others' JWKS fetches depend on.
            let url = format!("http://127.0.0.1:{port}/ready");
            wait_ok(&url, name, || t.logs()).await;
        }
    }
    for (name, _, port) in &subgraphs {
        wait_ok(&format!("http://127.0.0.1:{port}/ready"), name, || t.logs()).await;
    }
    let servers = |name: &str| {
        let list: Vec<String> = subgraphs
            .iter()
            .filter(|(n, _, _)| n.starts_with(name))
            .map(|(_, _, port)| format!("127.0.0.1:{port}"))
            .collect();
        list.join(" ")
    };
    let (public, internal, routers) = (port("public"), port("internal"), [port("r1"), port("r2")]);
    let run = t.dir.path().join("nginx");
    std::fs::create_dir_all(&run).expect("nginx dir");
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
        .expect("utf8");
    let vars = [
        ("WORKER_USER", user.trim().to_owned()),
        ("RUN_DIR", run.display().to_string()),
        ("ERROR_LOG", run.join("error.log").display().to_string()),
        ("ACCESS_LOG", run.join("access.log").display().to_string()),
        (
            "WEB_ROOT",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("web/dist")
                .display()
                .to_string(),
        ),
        ("PUBLIC_LISTEN", format!("127.0.0.1:{public}")),
        ("SUBGRAPH_LISTEN", format!("127.0.0.1:{internal}")),
        (
            "ROUTER_SERVERS",
            routers.map(|p| format!("127.0.0.1:{p}")).join(","),
        ),
        ("BOARDS_SERVERS", servers("boards")),
        ("CHAT_SERVERS", servers("chat")),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = Command::new("sh")
        .arg(root.join("nginx/render.sh"))
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("render.sh");
    assert!(
        rendered.status.success(),
        "render.sh: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let conf = run.join("nginx.conf");
    std::fs::write(&conf, &rendered.stdout).expect("nginx.conf");
    let (prefix_arg, conf_arg, err_arg) = (
        run.display().to_string(),
        conf.display().to_string(),
        run.join("error.log").display().to_string(),
    );
    let check = Command::new(NGINX)
        .args(["-t", "-p", &prefix_arg, "-c", &conf_arg, "-e", &err_arg])
        .output()
        .expect("nginx -t");
    assert!(
        check.status.success(),
        "nginx -t refuses the shipped template: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    t.spawn(
        "nginx",
        Path::new(NGINX),
        &[
            "-p",
            &prefix_arg,
            "-c",
            &conf_arg,
            "-e",
            &err_arg,
            "-g",
            "daemon off;",
        ],
        &[],
    );

    let router_toml = t.dir.path().join("router.toml");
    // Where the subgraphs, under the same Redis prefix, announce cache invalidations.
    let channel = format!(
        "{}:{}",
        prefix.trim_end_matches(':'),
        kit::events::CACHE_INVALIDATION_CHANNEL
    );
    let url = |name: &str| {
        let (_, _, port) = subgraphs
            .iter()
            .find(|(n, _, _)| n == name)
            .expect("subgraph");
        format!("http://127.0.0.1:{port}/graphql")
    };
    std::fs::write(
        &router_toml,
        format!(
            r#"startup_wait = "30s"
[[subgraphs]]
name = "accounts"
url = "{accounts}"
[[subgraphs]]
name = "boards"
url = "http://127.0.0.1:{internal}/boards/graphql"
[[subgraphs]]
name = "chat"
url = "http://127.0.0.1:{internal}/chat/graphql"
[[subgraphs]]
name = "notifications"
url = "{notifications}"
[jwt]
jwks_url = "{jwks}"
issuer = "platform-accounts"
audience = "platform"
[rate_limit]
redis_url = "{redis_url}"
key_prefix = "{prefix}rl"
trusted_proxies = ["127.0.0.1"]
per_user = {{ capacity = 100000, period = "1m" }}
per_ip = {{ capacity = 100000, period = "1m" }}
cost = {{ capacity = 100000000, period = "1m" }}
[entity_cache]
redis_url = "{redis_url}"
key_prefix = "{prefix}entity:"
invalidation_channel = "{channel}"
"#,
            accounts = url("accounts"),
            notifications = url("notifications"),
        ),
    )
    .expect("router.toml");
    let config = router_toml.display().to_string();
    for (i, port) in routers.iter().enumerate() {
        let listen = format!("127.0.0.1:{port}");
        t.spawn(
            &format!("router-{}", i + 1),
            &binary("router"),
            &["serve", "--config", &config, "--listen", &listen],
            &[],
        );
    }
    for (i, port) in routers.iter().enumerate() {
        wait_ok(
            &format!("http://127.0.0.1:{port}/health"),
            &format!("router-{}", i + 1),
            || t.logs(),
        )
        .await;
    }
    t.public = format!("http://127.0.0.1:{public}");
    wait_ok(&format!("{}/nginx-health", t.public), "nginx", || t.logs()).await;
    Some(t)
}

const CREATE_TASK: &str =
    "mutation($b: ID!, $t: String!) { createTask(input: {boardId: $b, title: $t}) { id } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_compose_topology_serves_everything_through_nginx_and_survives_losing_replicas() {
    let started = Instant::now();
    let Some(mut t) = start().await else { return };
    eprintln!("topology up in {:?}", started.elapsed());
    let public = t.public.clone();
    let http = reqwest::Client::new();
    let anonymous = Client {
        http: http.clone(),
        url: format!("{public}/graphql"),
        token: None,
    };

    // The live UI from NGINX's web root, the playground and health from the routers.
    let index = http
        .get(format!("{public}/boards/123"))
        .send()
        .await
        .expect("GET /");
    assert!(
        index.status().is_success()
            && index
                .text()
                .await
                .expect("html")
                .contains("<div id=\"root\""),
        "the live UI"
    );
    let manifest = http
        .get(format!("{public}/persisted-documents.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("manifest");
    assert_eq!(
        manifest
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap_or("")),
        Some("gzip"),
        "JSON is gzipped"
    );
    let playground = http
        .get(format!("{public}/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("playground");
    assert!(
        playground.status().is_success()
            && playground
                .text()
                .await
                .expect("html")
                .contains("/playground/assets/")
    );
    let echoed = http
        .get(format!("{public}/health"))
        .header("x-request-id", "topology-1")
        .send()
        .await
        .expect("health");
    assert_eq!(
        echoed
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap_or("")),
        Some("topology-1")
    );
    let too_large = http
        .post(format!("{public}/graphql"))
        .header("content-type", "application/json")
        .body(vec![b' '; 3 << 20])
        .send()
        .await
        .expect("large body");
    assert_eq!(too_large.status(), 413, "NGINX refuses bodies over 2 MiB");

    // Queries and mutations.
    let sign_up = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }";
    let mut users = Vec::new();
    for name in ["Ada", "Bob"] {
        let input = json!({"i": {"email": format!("{name}@topology.test"), "password": "correct horse battery", "name": name}});
        let data = anonymous.ok(sign_up, input).await;
        users.push((
            data["signUp"]["user"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
            data["signUp"]["accessToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        ));
    }
    let ada = Client {
        token: Some(users[0].1.clone()),
        ..anonymous.clone()
    };
    let bob_token = users[1].1.clone();
    let board = ada
        .ok(
            "mutation { createBoard(input: {name: \"Topology\"}) { id } }",
            json!({}),
        )
        .await["createBoard"]["id"]
        .as_str()
        .expect("board")
        .to_owned();
    ada.ok(
        "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id } }",
        json!({"b": board, "u": users[1].0}),
    )
    .await;
    let me = ada.ok("{ me { name boards { name } } }", json!({})).await;
    assert_eq!(
        me["me"],
        json!({"name": "Ada", "boards": [{"name": "Topology"}]})
    );

    // Subscriptions on every transport, through NGINX (Bob watches Ada's board).
    let transports = [
        Transport::GraphqlTransportWs,
        Transport::GraphqlWs,
        Transport::Sse,
        Transport::Multipart,
    ];
    let stop = Instant::now() + LOAD + Duration::from_secs(30);
    let subscribers: Vec<_> = transports
        .iter()
        .map(|tr| {
            (
                *tr,
                subscriber(public.clone(), bob_token.clone(), board.clone(), *tr, stop),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    ada.ok(CREATE_TASK, json!({"b": board, "t": "before-load"}))
        .await;
    for (transport, seen) in &subscribers {
        assert!(
            wait_for_title(seen, "before-load", Duration::from_secs(10)).await,
            "{transport:?} got no event\n{}",
            t.logs()
        );
    }

    // The bounded load: 2 writers, 2 readers, the 4 subscribers; router-1 and boards-1 crash.
    let load_start = Instant::now();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(Mutex::new(Vec::<(Duration, bool)>::new()));
    let mut workers = Vec::new();
    for w in 0..2 {
        let (writer, board_id, acknowledged) = (ada.clone(), board.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while load_start.elapsed() < LOAD {
                let title = format!("w{w}-{n}");
                n += 1;
                if let Ok(data) = writer
                    .post(CREATE_TASK, json!({"b": board_id, "t": title}))
                    .await
                {
                    acknowledged
                        .lock()
                        .push(data["createTask"]["id"].as_str().expect("id").to_owned());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        let (reader, board_id, reads) = (ada.clone(), board.clone(), reads.clone());
        workers.push(tokio::spawn(async move {
            while load_start.elapsed() < LOAD {
                let read = reader
                    .post(
                        "query($b: ID!) { board(id: $b) { name tasks(first: 5) { totalCount } } }",
                        json!({"b": board_id}),
                    )
                    .await;
                reads.lock().push((load_start.elapsed(), read.is_ok()));
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }));
    }
    tokio::time::sleep(KILL_AT).await;
    t.crash("router-1");
    t.crash("boards-1");
    eprintln!("router-1 and boards-1 killed at {:?}", load_start.elapsed());
    for worker in workers {
        worker.await.expect("load worker");
    }

    // No acknowledged write is lost: every id is found, through the surviving replicas.
    let ids = acknowledged.lock().clone();
    assert!(
        ids.len() > 20,
        "too few writes acknowledged: {}\n{}",
        ids.len(),
        t.logs()
    );
    for chunk in ids.chunks(20) {
        let fields: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| format!("t{i}: task(id: \"{id}\") {{ id }}"))
            .collect();
        let data = ada
            .ok(&format!("{{ {} }}", fields.join(" ")), json!({}))
            .await;
        for (i, id) in chunk.iter().enumerate() {
            assert_eq!(
                data[format!("t{i}")]["id"].as_str(),
                Some(id.as_str()),
                "acknowledged task {id} is lost"
            );
        }
    }
    // Reads recover within seconds of the crash and stay up.
    let reads = reads.lock().clone();
    let failed: Vec<Duration> = reads
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(at, _)| *at)
        .collect();
    let last_failure = failed.last().copied().unwrap_or_default();
    assert!(
        last_failure < KILL_AT + Duration::from_secs(5),
        "reads still failing at {last_failure:?} ({} of {} failed)",
        failed.len(),
        reads.len()
    );
    assert!(
        reads
            .iter()
            .filter(|(at, ok)| *at > KILL_AT + Duration::from_secs(5) && *ok)
            .count()
            > 10,
        "too few reads after recovery"
    );

    // Every subscriber kept receiving or was told and reconnected: all get a task created now.
    ada.ok(CREATE_TASK, json!({"b": board, "t": "after-load"}))
        .await;
    for (transport, seen) in &subscribers {
        let live = wait_for_title(seen, "after-load", Duration::from_secs(15)).await;
        let seen = seen.lock();
        eprintln!(
            "{transport:?}: {} events, {} reconnects, interruptions: {:?}",
            seen.titles.len(),
            seen.reconnects,
            seen.interruptions
        );
        assert!(
            live,
            "{transport:?} no longer receives events\n{}",
            t.logs()
        );
        assert!(
            seen.titles.len() > 10,
            "{transport:?} got too few events during the load"
        );
    }
    eprintln!(
        "{} writes acknowledged, {} reads ({} failed, last at {last_failure:?}); total {:?}",
        ids.len(),
        reads.len(),
        failed.len(),
        started.elapsed()
    );
}
