//! JWKS documents, and a remote key set fetched from a JWKS URL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// One public key (RFC 8037 OKP / Ed25519).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
    pub kid: String,
    pub x: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Decoding keys by `kid`; keys that are not Ed25519 signing keys are ignored.
    pub fn decoding_keys(&self) -> HashMap<String, DecodingKey> {
        self.keys
            .iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519" && k.key_use == "sig")
            .filter_map(|k| {
                DecodingKey::from_ed_components(&k.x)
                    .ok()
                    .map(|key| (k.kid.clone(), key))
            })
            .collect()
    }
}

/// Keys fetched from a JWKS URL. Refetched when a token names an unknown `kid` (key rotation),
/// at most once per `min_refresh` so a flood of forged `kid`s cannot hammer the issuer.
pub struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    min_refresh: Duration,
    state: tokio::sync::Mutex<RemoteState>,
}

#[derive(Default)]
struct RemoteState {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

impl RemoteJwks {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: url.to_owned(),
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("a client with only a timeout set always builds"),
            min_refresh: Duration::from_secs(10),
            state: tokio::sync::Mutex::new(RemoteState::default()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key with this `kid`, fetching the key set first if needed.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let mut state = self.state.lock().await;
        if let Some(key) = state.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_refresh = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.min_refresh);
        if !may_refresh {
            return Err(AuthError::UnknownKey);
        }
        match self.fetch().await {
            Ok(jwks) => {
                state.keys = jwks.decoding_keys();
                state.fetched_at = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "fetching JWKS failed");
                // Keep known keys; a failed fetch is retried on the next unknown kid.
                return Err(AuthError::KeysUnavailable);
            }
        }
        state.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> Result<Jwks, reqwest::Error> {
        self.client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json::<Jwks>()
            .await
    }
}
