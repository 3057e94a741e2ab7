//! `@authenticated`, `@requiresScopes` and `@policy` enforced by the router from the verified
//! token: what the caller may not see is never asked of the subgraph, comes back `null` with
//! `UNAUTHORIZED_FIELD_OR_TYPE` at its path, and the rest of the operation is answered; or the
//! whole operation is refused in reject mode. Fields, types and interfaces; introspection is
//! untouched.

mod common;

use common::post;
use common::subgraphs::{mock, Mock};
use router::edge::authorization::PolicyRule;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])
type Query {
  public: String
  me: User @authenticated
  admin: String @requiresScopes(scopes: [["admin"]])
  audit: String @policy(policies: [["auditor"]])
  secret: Secret
  node: Node
}
interface Node { id: ID! }
type User implements Node @key(fields: "id") {
  id: ID!
  name: String
  email: String @requiresScopes(scopes: [["email:read"], ["admin"]])
}
type Account implements Node { id: ID! @authenticated }
type Secret @authenticated { code: String }"#;

/// The fields of `value` (and of its objects) that `query` names: what a subgraph answers.
fn asked(value: &Value, query: &str) -> Value {
    let Value::Object(fields) = value else {
        return value.clone();
    };
    let names: Vec<&str> = query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    let kept: Map<String, Value> = fields
        .iter()
        .filter(|(field, _)| *field == "__typename" || names.contains(&field.as_str()))
        .map(|(field, value)| (field.clone(), asked(value, query)))
        .collect();
    Value::Object(kept)
}

/// A subgraph answering only the fields it is asked for.
async fn subgraph() -> Mock {
    mock(|body| {
        let query = body["query"].as_str().unwrap_or_default();
        let all = json!({
            "public": "p",
            "me": { "id": "1", "name": "Ada", "email": "ada@example.com" },
            "admin": "root",
            "audit": "log",
            "secret": { "code": "42" },
            "node": { "__typename": "User", "id": "1" },
        });
        json!({ "data": asked(&all, query) })
    })
    .await
}

struct Federation {
    app: axum::Router,
    subgraph: Mock,
    signer: auth::TokenSigner,
}

async fn federation(configure: impl FnOnce(&mut router::Config)) -> Federation {
    let subgraph = subgraph().await;
    let inputs = [router::compose::SubgraphInput {
        name: "accounts".into(),
        url: subgraph.url.clone(),
        sdl: SDL.into(),
    }];
    let supergraph = router::compose::compose_text(&inputs).expect("composes");
    let mut config = router::Config::default();
    config.authorization.policies.insert(
        "auditor".into(),
        PolicyRule {
            claim: Some("roles".into()),
            one_of: vec!["auditor".into()],
            ..PolicyRule::default()
        },
    );
    configure(&mut config);
    let client = router::client(&config).expect("client");
    let state = router::RouterState::new(&supergraph, client, config.execution()).expect("loads");
    let signer = auth::TokenSigner::ephemeral("issuer", "audience");
    let verifier = auth::TokenVerifier::from_jwks(&signer.jwks(), "issuer", "audience");
    let edge = router::http::Edge::new(&config).expect("edge");
    let app = router::AppState::with_edge(state, edge).with_verifier(Some(Arc::new(verifier)));
    Federation {
        app: router::app(Arc::new(app)),
        subgraph,
        signer,
    }
}

impl Federation {
    fn token(&self, claims: Value) -> String {
        let extra = claims.as_object().cloned().unwrap_or_default();
        let (token, _) = self
            .signer
            .sign_with("u1", chrono::Duration::minutes(5), extra)
            .expect("signs");
        format!("Bearer {token}")
    }

    async fn ask(&self, query: &str, authorization: Option<&str>) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = authorization
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let (status, _, body) = post(&self.app, json!({ "query": query }), &headers).await;
        (status, body)
    }
}

fn unauthorized_paths(body: &Value) -> Vec<Value> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE")
        .map(|e| e["path"].clone())
        .collect()
}

#[tokio::test]
async fn an_anonymous_caller_gets_the_rest_with_nulls_and_errors_where_it_may_not_see() {
    let f = federation(|_| {}).await;
    let (status, body) = f
        .ask(
            "{ public me { name } admin secret { code } node { id } }",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({ "public": "p", "me": null, "admin": null, "secret": null, "node": null }),
        "{body}"
    );
    let paths = unauthorized_paths(&body);
    for path in [
        json!(["me"]),
        json!(["admin"]),
        json!(["secret"]),
        json!(["node", "id"]),
    ] {
        assert!(paths.contains(&path), "{path} in {body}");
    }
    let asked = f.subgraph.queries().join("\n");
    let names: Vec<&str> = asked
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    for hidden in ["me", "admin", "secret", "id"] {
        assert!(
            !names.contains(&hidden),
            "the subgraph was asked for {hidden}: {asked}"
        );
    }
}

#[tokio::test]
async fn scopes_and_policies_come_from_the_token() {
    let f = federation(|_| {}).await;
    let plain = f.token(json!({}));
    let (_, body) = f
        .ask("{ me { name email } admin audit }", Some(&plain))
        .await;
    assert_eq!(
        body["data"]["me"],
        json!({ "name": "Ada", "email": null }),
        "{body}"
    );
    assert_eq!(
        unauthorized_paths(&body),
        vec![json!(["me", "email"]), json!(["admin"]), json!(["audit"])]
    );

    let reader = f.token(json!({ "scope": "email:read", "roles": ["auditor"] }));
    let (_, body) = f
        .ask("{ me { name email } admin audit }", Some(&reader))
        .await;
    assert_eq!(body["data"]["me"]["email"], "ada@example.com", "{body}");
    assert_eq!(body["data"]["audit"], "log");
    assert_eq!(unauthorized_paths(&body), vec![json!(["admin"])]);

    let admin = f.token(json!({ "scope": "admin other" }));
    let (_, body) = f.ask("{ me { email } admin }", Some(&admin)).await;
    assert!(body["errors"].is_null(), "either scope set will do: {body}");
    assert_eq!(body["data"]["admin"], "root");
}

#[tokio::test]
async fn reject_mode_refuses_the_whole_operation_and_introspection_is_untouched() {
    let f = federation(|config| config.authorization.reject_unauthorized = true).await;
    let (status, body) = f.ask("{ public admin }", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(unauthorized_paths(&body), vec![json!(["admin"])]);
    assert_eq!(f.subgraph.count(), 0, "nothing was fetched");

    let (status, body) = f.ask("{ __schema { queryType { name } } }", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let (_, body) = f.ask("{ public }", None).await;
    assert_eq!(body, json!({ "data": { "public": "p" } }));
}
