//! Shared helpers for the router's integration tests.
#![allow(dead_code)]

pub mod redis;
pub mod serve;
pub mod subgraphs;

use router::supergraph::Supergraph;

/// Reads `tests/fixtures/<name>.graphql`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Parses a fixture supergraph.
pub fn supergraph(name: &str) -> Supergraph {
    Supergraph::parse(&fixture(name)).expect("fixture supergraph parses")
}

/// Plans `query` against fixture `name` and prints the plan.
pub fn plan(name: &str, query: &str) -> String {
    plan_with(name, query, serde_json::json!({}))
}

/// Like [`plan`], with progressive override labels enabled.
pub fn plan_labels(name: &str, query: &str, labels: &[&str]) -> String {
    let sg = supergraph(name);
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    match router::pipeline::plan_only(&sg, query, None, Default::default(), &labels) {
        Ok(plan) => plan.to_string(),
        Err(e) => format!("error[{}]: {e}", e.code()),
    }
}

/// Like [`plan`], with variables.
pub fn plan_with(name: &str, query: &str, variables: serde_json::Value) -> String {
    let sg = supergraph(name);
    let serde_json::Value::Object(variables) = variables else {
        panic!("variables must be an object")
    };
    match router::pipeline::plan_only(&sg, query, None, variables, &[]) {
        Ok(plan) => plan.to_string(),
        Err(e) => format!("error[{}]: {e}", e.code()),
    }
}

/// The four demo subgraphs, running.
pub struct Demo {
    pub accounts: subgraphs::TestSubgraph,
    pub inventory: subgraphs::TestSubgraph,
    pub products: subgraphs::TestSubgraph,
    pub reviews: subgraphs::TestSubgraph,
}

impl Demo {
    pub async fn start() -> Demo {
        Demo {
            accounts: subgraphs::accounts().await,
            inventory: subgraphs::inventory().await,
            products: subgraphs::products().await,
            reviews: subgraphs::reviews().await,
        }
    }

    /// The demo supergraph pointing at the running subgraphs.
    pub fn supergraph(&self) -> String {
        with_urls(
            &fixture("demo"),
            &[
                ("accounts", &self.accounts.url),
                ("inventory", &self.inventory.url),
                ("products", &self.products.url),
                ("reviews", &self.reviews.url),
            ],
        )
    }

    pub fn counts(&self) -> [usize; 4] {
        [
            self.accounts.count(),
            self.inventory.count(),
            self.products.count(),
            self.reviews.count(),
        ]
    }
}

/// Replaces the URL of each named subgraph in a supergraph SDL (Federation 2's
/// `@join__graph(name: "a", url: "..")` and Federation 1's comma-less form alike).
pub fn with_urls(sdl: &str, urls: &[(&str, &str)]) -> String {
    sdl.lines()
        .map(|line| {
            for (name, url) in urls {
                let marker = format!("@join__graph(name: \"{name}\"");
                let Some(start) = line.find(&marker) else {
                    continue;
                };
                let url_start = start
                    + line[start..]
                        .find("url: \"")
                        .expect("@join__graph has a url")
                    + "url: \"".len();
                let url_end = url_start + line[url_start..].find('"').expect("url is closed");
                return format!("{}{url}{}", &line[..url_start], &line[url_end..]);
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An HTTP app for `sdl` with the given subgraph timeout.
pub fn router_app(sdl: &str, timeout: std::time::Duration) -> axum::Router {
    router_app_with(
        sdl,
        router::ExecutionSettings {
            subgraph_timeout: timeout,
            ..Default::default()
        },
    )
}

/// An HTTP app for `sdl` with the given execution settings.
pub fn router_app_with(sdl: &str, settings: router::ExecutionSettings) -> axum::Router {
    let client = std::sync::Arc::new(router::execute::fetch::SubgraphClient::new());
    let state = router::RouterState::new(sdl, client, settings).expect("supergraph parses");
    router::app(std::sync::Arc::new(router::AppState::new(
        state,
        vec!["x-tenant".into()],
    )))
}

/// POSTs a GraphQL request to `app`; returns status, content type and JSON body.
pub async fn post(
    app: &axum::Router,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> (u16, String, serde_json::Value) {
    let mut request =
        axum::http::Request::post("/graphql").header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

/// Sends any request to `app`.
pub async fn send(
    app: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (u16, String, serde_json::Value) {
    use tower::ServiceExt;
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}
