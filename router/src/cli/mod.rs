//! The `router` command line: `serve`, `plan`, and the schema tools `compose` and `check`
//! (`schema.rs`) for teams' CI.

mod schema;
mod serve;

pub use schema::{check_command, compose_command, read_subgraphs, CheckArgs, ComposeArgs, Format};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "router", about = "Apollo Federation v2 router")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compose subgraph SDLs into a supergraph.
    Compose(schema::ComposeArgs),
    /// Report what proposed subgraph schemas break for clients (exit status 1 when breaking).
    Check(schema::CheckArgs),
    /// Serve GraphQL over HTTP. The configuration is `--config`'s TOML file (every key is
    /// documented in router.example.toml), then `ROUTER_*` environment variables (tables
    /// joined by `__`: `ROUTER_LIMITS__MAX_DEPTH=20`), then these flags.
    Serve(serve::ServeFlags),
    /// Print the query plan of an operation.
    Plan {
        #[arg(long)]
        supergraph: PathBuf,
        /// A file containing the operation, or the operation text itself.
        #[arg(long)]
        query: String,
        #[arg(long)]
        operation_name: Option<String>,
        /// Variables as a JSON object (they decide @skip/@include).
        #[arg(long)]
        variables: Option<String>,
        /// Progressive @override labels to plan as enabled (repeatable).
        #[arg(long = "enable-label")]
        enabled_labels: Vec<String>,
    },
}

/// Runs the command line's command.
pub async fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(flags) => serve::serve(flags).await,
        Command::Compose(args) => {
            let _logs = tool_logs();
            std::process::exit(schema::compose_command(args).await.into())
        }
        Command::Check(args) => {
            let _logs = tool_logs();
            std::process::exit(schema::check_command(args).await.into())
        }
        Command::Plan {
            supergraph,
            query,
            operation_name,
            variables,
            enabled_labels,
        } => {
            let _logs = tool_logs();
            plan(supergraph, query, operation_name, variables, enabled_labels)
        }
    }
}

/// Logs of the one-shot commands: human-readable, no trace export.
fn tool_logs() -> telemetry::Telemetry {
    let export = telemetry::ExportSettings::default();
    telemetry::init_with("router", telemetry::LogFormat::Human, "info", &export)
}

fn plan(
    supergraph: std::path::PathBuf,
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    enabled_labels: Vec<String>,
) -> anyhow::Result<()> {
    let sdl = std::fs::read_to_string(&supergraph)
        .with_context(|| format!("reading {}", supergraph.display()))?;
    let sg = crate::supergraph::Supergraph::parse(&sdl)?;
    let query = match std::fs::read_to_string(&query) {
        Ok(text) => text,
        Err(_) => query,
    };
    let variables = match variables {
        Some(text) => serde_json::from_str(&text).context("--variables must be a JSON object")?,
        None => serde_json::Map::new(),
    };
    let plan = crate::pipeline::plan_only(
        &sg,
        &query,
        operation_name.as_deref(),
        variables,
        &enabled_labels,
    )?;
    println!("{plan}");
    Ok(())
}
