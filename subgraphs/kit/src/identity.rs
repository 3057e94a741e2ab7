//! Who is calling: verified from the `Authorization` header (HTTP) or the `connection_init`
//! payload (WebSocket). Subgraphs verify every token themselves and never trust identity headers.

use auth::{AuthError, Claims, TokenVerifier};

use crate::error::ApiError;

/// The caller of one request, put into the GraphQL context data.
#[derive(Clone, Debug, Default)]
pub enum Caller {
    #[default]
    Anonymous,
    User(Claims),
    /// A token was presented but refused; treated as anonymous with the reason kept, so fields
    /// that need a user explain why.
    Rejected(AuthError),
}

impl Caller {
    /// Verifies an optional `Authorization` value.
    pub async fn from_authorization(verifier: &TokenVerifier, value: Option<&str>) -> Self {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Caller::Anonymous,
            Some(value) => match verifier.verify_header(value).await {
                Ok(claims) => Caller::User(claims),
                Err(e) => {
                    tracing::debug!(error = %e, "token refused");
                    Caller::Rejected(e)
                }
            },
        }
    }

    /// The signed-in user's id, if any.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Caller::User(claims) => Some(&claims.sub),
            _ => None,
        }
    }

    /// The user id, or `UNAUTHENTICATED` (naming why a presented token was refused).
    pub fn require_user(&self) -> Result<&str, ApiError> {
        match self {
            Caller::User(claims) => Ok(&claims.sub),
            Caller::Anonymous => Err(ApiError::unauthenticated()),
            Caller::Rejected(e) => Err(e.clone().into()),
        }
    }

    /// Reads the caller from a resolver context (anonymous when none was attached).
    pub fn of(ctx: &async_graphql::Context<'_>) -> Caller {
        ctx.data_opt::<Caller>().cloned().unwrap_or_default()
    }
}

/// The `Authorization` value of a WebSocket `connection_init` payload (`Authorization` or
/// `authorization`, as graphql-ws clients send it; also nested under `headers`).
pub fn authorization_from_init(payload: &serde_json::Value) -> Option<String> {
    let find = |v: &serde_json::Value| {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    };
    find(payload).or_else(|| payload.get("headers").and_then(find))
}
