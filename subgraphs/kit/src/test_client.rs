//! A small GraphQL-over-HTTP client for this workspace's tests.

use serde_json::{json, Value};

/// Posts GraphQL operations to one endpoint, optionally with a bearer token.
#[derive(Clone)]
pub struct GqlClient {
    http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

impl GqlClient {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
            token: None,
        }
    }

    /// The same endpoint, authenticated with `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// Sends an operation and returns the whole response body (`data` and `errors`).
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GraphQL request failed");
        response.json().await.expect("GraphQL response is not JSON")
    }

    /// Sends an operation that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Sends an operation that must fail and returns the first error's `extensions.code`.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.post(query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
            .to_owned()
    }
}

/// The first error of a response.
pub fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}
