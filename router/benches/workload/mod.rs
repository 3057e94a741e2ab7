//! The public gateway benchmark's workload, written our way: four async-graphql subgraphs
//! served on 127.0.0.1:0, the supergraph they compose to (`supergraph.graphql` beside this
//! file, a golden file), and the operations sent to the routers.

pub mod data;
pub mod operations;
pub mod subgraphs;

use anyhow::Context as _;
use async_graphql::{EmptyMutation, EmptySubscription, ObjectType, SDLExportOptions, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A running bench subgraph.
pub struct Subgraph {
    pub name: &'static str,
    pub url: String,
    /// Its federation SDL, as `_service { sdl }` answers.
    pub sdl: String,
    requests: Arc<AtomicU64>,
}

impl Subgraph {
    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// The four subgraphs, in the supergraph's graph order.
pub struct Subgraphs(pub Vec<Subgraph>);

impl Subgraphs {
    pub async fn start() -> anyhow::Result<Subgraphs> {
        Ok(Subgraphs(vec![
            serve("accounts", subgraphs::AccountsQuery).await?,
            serve("inventory", subgraphs::InventoryQuery).await?,
            serve("products", subgraphs::ProductsQuery).await?,
            serve("reviews", subgraphs::ReviewsQuery).await?,
        ]))
    }

    /// Requests received by all four so far.
    pub fn requests(&self) -> u64 {
        self.0.iter().map(Subgraph::requests).sum()
    }

    /// The supergraph fixture with each placeholder routing URL replaced by the live one.
    pub fn supergraph(&self) -> anyhow::Result<String> {
        let fixture = std::fs::read_to_string(fixture_path())
            .with_context(|| format!("reading {}", fixture_path().display()))?;
        Ok(self.0.iter().fold(fixture, |sdl, subgraph| {
            sdl.replace(&placeholder_url(subgraph.name), &subgraph.url)
        }))
    }

    /// Composes the live subgraphs' SDL (with the placeholder URLs) and compares it with the
    /// fixture. A stale fixture is rewritten and reported, so the change shows in review.
    pub fn check_fixture(&self) -> anyhow::Result<()> {
        let inputs: Vec<_> = self
            .0
            .iter()
            .map(|s| router::compose::SubgraphInput {
                name: s.name.to_owned(),
                url: placeholder_url(s.name),
                sdl: s.sdl.clone(),
            })
            .collect();
        let composed = router::compose::compose_text(&inputs)
            .map_err(|e| anyhow::anyhow!("the bench subgraphs do not compose: {e}"))?;
        let path = fixture_path();
        if std::fs::read_to_string(&path).ok().as_deref() == Some(composed.as_str()) {
            return Ok(());
        }
        std::fs::write(&path, composed)?;
        anyhow::bail!(
            "{} was stale and has been rewritten from the subgraphs; review the diff and rerun",
            path.display()
        )
    }
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/workload/supergraph.graphql")
}

/// The routing URL written in the fixture for `name` (the public benchmark's ports).
fn placeholder_url(name: &str) -> String {
    let port = match name {
        "accounts" => 4001,
        "inventory" => 4002,
        "products" => 4003,
        _ => 4004,
    };
    format!("http://127.0.0.1:{port}/graphql")
}

type BenchSchema<Q> = Schema<Q, EmptyMutation, EmptySubscription>;

async fn serve<Q: ObjectType + 'static>(name: &'static str, query: Q) -> anyhow::Result<Subgraph> {
    let schema: BenchSchema<Q> = Schema::build(query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let sdl = schema.sdl_with_options(SDLExportOptions::new().federation());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    let requests = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route("/graphql", axum::routing::post(execute::<Q>))
        .with_state((schema, requests.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Subgraph {
        name,
        url,
        sdl,
        requests,
    })
}

async fn execute<Q: ObjectType + 'static>(
    State((schema, requests)): State<(BenchSchema<Q>, Arc<AtomicU64>)>,
    request: GraphQLRequest,
) -> GraphQLResponse {
    requests.fetch_add(1, Ordering::Relaxed);
    schema.execute(request.into_inner()).await.into()
}
