//! `router compose` and `router check`: composition and schema checks for teams' CI.

use std::path::PathBuf;

use crate::check::check_subgraphs;
use crate::compose::{compose, compose_text, fetch_sdl, SubgraphInput};

/// `router compose <name>=<url | sdl-file@routing-url>... [-o <file>]`
#[derive(clap::Args, Debug)]
pub struct ComposeArgs {
    /// `name=http://host/graphql` (SDL fetched with `{ _service { sdl } }`, and the routing URL)
    /// or `name=schema.graphql@http://host/graphql` (SDL from a file, then the routing URL).
    #[arg(required = true)]
    pub subgraphs: Vec<String>,
    /// Write the supergraph here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `router check --supergraph <current> <name>=<url | sdl-file>... [--format json]`
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The supergraph clients use today.
    #[arg(long, required_unless_present = "config")]
    pub supergraph: Option<PathBuf>,
    /// Or: a `router serve --config` file listing `[[subgraphs]]`; the current schema is
    /// composed from those live subgraphs, as the running router serves it.
    #[arg(long, conflicts_with = "supergraph")]
    pub config: Option<PathBuf>,
    /// Proposed subgraph schemas: `name=schema.graphql` or `name=http://host/graphql`.
    #[arg(required = true)]
    pub subgraphs: Vec<String>,
    /// `text` for people, `json` for machines.
    #[arg(long, default_value = "text")]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Reads `name=...` specs into subgraph inputs; `need_url` requires a routing URL.
pub async fn read_subgraphs(
    specs: &[String],
    need_url: bool,
) -> Result<Vec<SubgraphInput>, String> {
    let mut inputs = Vec::new();
    for spec in specs {
        let (name, source) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected <name>=<url or sdl file>"))?;
        let input = if source.starts_with("http://") || source.starts_with("https://") {
            SubgraphInput {
                name: name.to_owned(),
                url: source.to_owned(),
                sdl: fetch_sdl(source).await?,
            }
        } else {
            let (file, url) = match source.rsplit_once('@') {
                Some((file, url)) if url.starts_with("http") => (file, url.to_owned()),
                _ if need_url => {
                    return Err(format!(
                    "{spec:?}: a file needs its routing URL: {name}={source}@http://host/graphql"
                ))
                }
                _ => (source, String::new()),
            };
            let sdl = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            SubgraphInput {
                name: name.to_owned(),
                url,
                sdl,
            }
        };
        inputs.push(input);
    }
    Ok(inputs)
}

/// Runs `router compose`; returns the exit status: 0 with the supergraph, 1 with every
/// composition error, 2 when an input cannot be read.
pub async fn compose_command(args: ComposeArgs) -> u8 {
    let inputs = match read_subgraphs(&args.subgraphs, true).await {
        Ok(inputs) => inputs,
        Err(e) => return fail(&e),
    };
    match compose(&inputs) {
        Ok(supergraph) => match &args.output {
            Some(path) => match std::fs::write(path, &supergraph) {
                Ok(()) => 0,
                Err(e) => fail(&format!("{}: {e}", path.display())),
            },
            None => {
                print!("{supergraph}");
                0
            }
        },
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!("composition failed with {} error(s)", errors.len());
            1
        }
    }
}

/// Runs `router check`; returns the exit status: 1 when the proposal breaks clients or does not
/// compose, 2 when an input cannot be read.
pub async fn check_command(args: CheckArgs) -> u8 {
    let current = match current_supergraph(&args).await {
        Ok(text) => text,
        Err(e) => return fail(&e),
    };
    let proposed = match read_subgraphs(&args.subgraphs, false).await {
        Ok(inputs) => inputs,
        Err(e) => return fail(&e),
    };
    let report = match check_subgraphs(&current, &proposed) {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
    }
    if report.passed() {
        0
    } else {
        1
    }
}

/// The supergraph to check against: the file, or the composition of a router config's subgraphs.
async fn current_supergraph(args: &CheckArgs) -> Result<String, String> {
    match (&args.supergraph, &args.config) {
        (Some(path), _) => {
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
        }
        (None, Some(path)) => {
            let env = std::env::vars().collect();
            let config = crate::config::load(Some(path), &env, Default::default())
                .map_err(|e| e.to_string())?;
            let inputs = crate::recompose::fetch_all(&config.subgraphs).await?;
            compose_text(&inputs)
                .map_err(|errors| format!("the current subgraphs do not compose:\n{errors}"))
        }
        (None, None) => Err("--supergraph or --config is required".into()),
    }
}

fn fail(message: &str) -> u8 {
    eprintln!("error: {message}");
    2
}
