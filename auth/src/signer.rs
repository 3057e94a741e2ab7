//! Ed25519 signing key: generated and persisted on first start, then reused by every replica
//! that reads the same file.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::{Claims, Jwk, Jwks};

/// Signs access tokens and publishes the matching public key, plus the public keys of other
/// key files it accepts without signing with them (key rotation: the next key before it signs,
/// the previous one until the tokens it signed have expired).
pub struct TokenSigner {
    kid: String,
    /// Public keys published beside the signing key, by `kid`.
    also_published: Vec<Jwk>,
    encoding: EncodingKey,
    public: [u8; 32],
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("reading or writing the signing key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the signing key {path} is not an Ed25519 PKCS#8 PEM key")]
    BadKey { path: String },
    #[error("signing failed: {0}")]
    Sign(String),
}

impl TokenSigner {
    /// Loads the PKCS#8 PEM key at `path`, generating and persisting one (mode 0600) when the file
    /// does not exist yet.
    pub fn load_or_generate(
        path: &Path,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, SignerError> {
        let io = |source| SignerError::Io {
            path: path.display().to_string(),
            source,
        };
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
                let pem = key
                    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                    .map_err(|e| SignerError::Sign(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                write_private(path, pem.as_bytes()).map_err(io)?;
                // Another replica may have won the race to create it: read back what is on disk.
                std::fs::read_to_string(path).map_err(io)?
            }
            Err(e) => return Err(io(e)),
        };
        Self::from_pem(&pem, issuer, audience).map_err(|_| SignerError::BadKey {
            path: path.display().to_string(),
        })
    }

    /// A signer from a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str, issuer: &str, audience: &str) -> Result<Self, SignerError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| SignerError::Sign(e.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| SignerError::Sign(e.to_string()))?;
        let public = key.verifying_key().to_bytes();
        Ok(Self {
            kid: kid_of(&public),
            also_published: Vec::new(),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Publishes (and so accepts) the keys in `paths` too, without signing with them; each
    /// must be an Ed25519 PKCS#8 PEM key file that exists.
    pub fn also_publishing(mut self, paths: &[std::path::PathBuf]) -> Result<Self, SignerError> {
        for path in paths {
            let pem = std::fs::read_to_string(path).map_err(|source| SignerError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
                SignerError::BadKey {
                    path: path.display().to_string(),
                }
            })?;
            let jwk = jwk(&key.verifying_key().to_bytes());
            if jwk.kid != self.kid && !self.also_published.iter().any(|k| k.kid == jwk.kid) {
                self.also_published.push(jwk);
            }
        }
        Ok(self)
    }

    /// A signer with a fresh in-memory key (tests, throwaway stacks).
    pub fn ephemeral(issuer: &str, audience: &str) -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("encoding a fresh Ed25519 key as PEM cannot fail");
        Self::from_pem(&pem, issuer, audience).expect("a freshly encoded key parses")
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs an access token for `user_id`, valid for `ttl`.
    pub fn sign(
        &self,
        user_id: &str,
        ttl: chrono::Duration,
    ) -> Result<(String, Claims), SignerError> {
        self.sign_with(user_id, ttl, serde_json::Map::new())
    }

    /// [`TokenSigner::sign`] with more claims (`scope`, roles, ...).
    pub fn sign_with(
        &self,
        user_id: &str,
        ttl: chrono::Duration,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(String, Claims), SignerError> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: user_id.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            extra,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| SignerError::Sign(e.to_string()))?;
        Ok((token, claims))
    }

    /// The public keys as a JWKS document: the signing key first, then the others published.
    pub fn jwks(&self) -> Jwks {
        let mut keys = vec![jwk(&self.public)];
        keys.extend(self.also_published.iter().cloned());
        Jwks { keys }
    }
}

/// A key's id: the first 96 bits of the SHA-256 of its public key, base64url.
fn kid_of(public: &[u8; 32]) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(public);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn jwk(public: &[u8; 32]) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        alg: "EdDSA".into(),
        key_use: "sig".into(),
        kid: kid_of(public),
        x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(bytes)?;
            file.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
