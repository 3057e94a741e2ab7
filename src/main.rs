//! `cargo run --release`: the whole platform in one process.

use clap::Parser;
use kit::config::{self, LogFormat};
use platform::{Platform, PlatformConfig};

// As in the router binary: many small, short-lived buffers per request, which mimalloc's
// thread-local free lists serve faster than the system allocator. It also holds less: with
// glibc's per-thread arenas the platform kept ~350 MiB after 100 sign-ups (Argon2's memory)
// instead of ~90 MiB (`benches/live.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Starts the whole platform (router and every subgraph) in one process")]
struct Flags {
    /// TOML config file (keys as in the README's configuration table).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Where the embedded store and generated keys live.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    #[arg(long)]
    host: Option<std::net::IpAddr>,
    #[arg(long)]
    router_port: Option<u16>,
    #[arg(long)]
    accounts_port: Option<u16>,
    #[arg(long)]
    boards_port: Option<u16>,
    #[arg(long)]
    chat_port: Option<u16>,
    #[arg(long)]
    notifications_port: Option<u16>,
    #[arg(long)]
    log_format: Option<LogFormat>,
    /// Run only the live UI's operations (the router refuses every other document).
    #[arg(long)]
    safelist: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let mut overrides = serde_json::Map::new();
    config::flag(&mut overrides, "data_dir", flags.data_dir);
    config::flag(&mut overrides, "host", flags.host);
    config::flag(&mut overrides, "router_port", flags.router_port);
    config::flag(&mut overrides, "accounts_port", flags.accounts_port);
    config::flag(&mut overrides, "boards_port", flags.boards_port);
    config::flag(&mut overrides, "chat_port", flags.chat_port);
    config::flag(
        &mut overrides,
        "notifications_port",
        flags.notifications_port,
    );
    config::flag(&mut overrides, "log_format", flags.log_format);
    config::flag(&mut overrides, "safelist", flags.safelist.then_some(true));
    let config: PlatformConfig = config::load(
        flags.config.as_deref(),
        PlatformConfig::ENV_PREFIX,
        kit::config::ServiceConfig::ENV_ALIASES,
        &config::process_env(),
        overrides,
    )?;
    let telemetry = kit::telemetry::init("platform", config.log_format, &config.log_level);
    let shutdown = kit::server::shutdown_on_signals();
    let platform = Platform::start(&config, shutdown).await?;
    let store = if config.mongodb_url.is_some() {
        "MongoDB"
    } else {
        "embedded (SQLite)"
    };
    let events = if config.redis_url.is_some() {
        "Redis"
    } else {
        "embedded (in-process pub/sub, SQLite event stream)"
    };
    println!(
        "platform is up (store: {store}, events: {events}, data: {})",
        config.data_dir.display()
    );
    print!("{}", platform.urls);
    let ended = platform.wait().await;
    telemetry.shutdown().await;
    ended
}
