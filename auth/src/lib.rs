//! JWT access tokens for the platform: Ed25519 (`EdDSA`) signing for the accounts subgraph, and
//! verification shared by every subgraph and the router.
//!
//! This crate knows nothing about subgraphs, so the router reuses the exact verification code
//! without depending on a subgraph crate. Only `EdDSA` is ever accepted: `alg: none`, HMAC (the
//! "public key used as HMAC secret" confusion) and every other algorithm are rejected before any
//! signature work.

mod jwks;
pub mod signer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

pub use jwks::{Jwk, Jwks, RemoteJwks};
pub use signer::TokenSigner;

/// Claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Every other claim (scopes, roles, ...), for the router's authorization rules.
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// How long until the token expires (zero once it has).
    pub fn expires_in(&self) -> Duration {
        let left = self.exp.saturating_sub(chrono::Utc::now().timestamp());
        Duration::from_secs(left.max(0).unsigned_abs())
    }
}

/// Why a token was refused. Every variant maps to `UNAUTHENTICATED` at the API; the message is
/// safe to show to the caller.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    BadAlgorithm,
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's issuer or audience is not accepted")]
    WrongIssuerOrAudience,
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

impl AuthError {
    /// The stable GraphQL `extensions.code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::KeysUnavailable => "INTERNAL_SERVER_ERROR",
            _ => "UNAUTHENTICATED",
        }
    }
}

/// Where a verifier gets its public keys.
#[derive(Clone)]
pub enum KeySource {
    /// Keys known up front (the accounts subgraph verifying its own tokens).
    Static(Arc<HashMap<String, DecodingKey>>),
    /// A JWKS endpoint, fetched lazily and refreshed when an unknown `kid` shows up.
    Remote(Arc<RemoteJwks>),
}

/// Verifies access tokens: signature, `exp`, `iss`, `aud`.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: KeySource,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(keys: KeySource, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self { keys, validation }
    }

    /// A verifier for the keys in a JWKS document.
    pub fn from_jwks(jwks: &Jwks, issuer: &str, audience: &str) -> Self {
        Self::new(
            KeySource::Static(Arc::new(jwks.decoding_keys())),
            issuer,
            audience,
        )
    }

    /// A verifier that fetches keys from a JWKS URL (with a timeout) as needed.
    pub fn remote(url: &str, issuer: &str, audience: &str) -> Self {
        Self::new(
            KeySource::Remote(Arc::new(RemoteJwks::new(url, Duration::from_secs(5)))),
            issuer,
            audience,
        )
    }

    /// Verifies a raw token (without the `Bearer ` prefix).
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => AuthError::BadAlgorithm,
            _ => AuthError::Malformed,
        })?;
        // Decided on the header alone, so no key material ever meets another algorithm.
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::BadAlgorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = match &self.keys {
            KeySource::Static(keys) => keys.get(&kid).cloned().ok_or(AuthError::UnknownKey)?,
            KeySource::Remote(remote) => remote.key(&kid).await?,
        };
        jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::ExpiredSignature => AuthError::Expired,
                    K::InvalidIssuer | K::InvalidAudience => AuthError::WrongIssuerOrAudience,
                    K::InvalidSignature => AuthError::BadSignature,
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => AuthError::BadAlgorithm,
                    _ => AuthError::Malformed,
                }
            })
    }

    /// Verifies an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
    pub async fn verify_header(&self, value: &str) -> Result<Claims, AuthError> {
        let token = bearer_token(value).ok_or(AuthError::Malformed)?;
        self.verify(token).await
    }
}

/// The token of a `Bearer` authorization value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests;
