//! Layered configuration: defaults, then a TOML file, then environment variables, then flags.
//! Unknown keys are rejected at every layer (a typo must not silently fall back to a default).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {message}")]
    File { path: String, message: String },
    #[error("unknown configuration variable {0}")]
    UnknownEnv(String),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

pub use telemetry::LogFormat;

/// Builds a config of type `T` from its defaults and the layers above them.
///
/// `env` is the process environment (passed in so tests need not mutate it); variables named
/// `<prefix><KEY>` set `key`, `aliases` maps conventional names such as `REDIS_URL` to keys.
/// `flags` holds only the flags that were given.
pub fn load<T>(
    file: Option<&Path>,
    env_prefix: &str,
    aliases: &[(&str, &str)],
    env: &BTreeMap<String, String>,
    flags: Map<String, Value>,
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_from(T::default(), file, env_prefix, aliases, env, flags)
}

/// [`load`] with a binary's own defaults (e.g. each subgraph's default port).
pub fn load_from<T>(
    defaults: T,
    file: Option<&Path>,
    env_prefix: &str,
    aliases: &[(&str, &str)],
    env: &BTreeMap<String, String>,
    flags: Map<String, Value>,
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned,
{
    let Value::Object(mut merged) =
        serde_json::to_value(defaults).map_err(|e| invalid("defaults", e))?
    else {
        return Err(invalid("defaults", "config must be a struct"));
    };
    let defaults = merged.clone();
    if let Some(path) = file {
        merge(&mut merged, read_file(path)?);
    }
    merge(&mut merged, env_layer(&defaults, env_prefix, aliases, env)?);
    merge(&mut merged, flags);
    serde_json::from_value(Value::Object(merged)).map_err(|e| invalid("config", e))
}

/// The environment as a map (what [`load`] expects).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

fn read_file(path: &Path) -> Result<Map<String, Value>, ConfigError> {
    let err = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    match serde_json::to_value(table) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(err("not a table".into())),
        Err(e) => Err(err(e.to_string())),
    }
}

fn env_layer(
    defaults: &Map<String, Value>,
    prefix: &str,
    aliases: &[(&str, &str)],
    env: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, ConfigError> {
    let mut layer = Map::new();
    for (name, raw) in env {
        let key = match aliases.iter().find(|(alias, _)| alias == name) {
            Some((_, key)) => (*key).to_owned(),
            None => match name.strip_prefix(prefix) {
                Some(rest) => rest.to_ascii_lowercase(),
                None => continue,
            },
        };
        let Some(default) = defaults.get(&key) else {
            return Err(ConfigError::UnknownEnv(name.clone()));
        };
        layer.insert(key, typed(default, raw).map_err(|m| invalid(name, m))?);
    }
    Ok(layer)
}

/// Parses an environment string into the JSON type of the key's default.
fn typed(default: &Value, raw: &str) -> Result<Value, String> {
    match default {
        Value::Number(_) | Value::Bool(_) => {
            serde_json::from_str(raw).map_err(|_| format!("{raw:?} is not a valid value"))
        }
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        _ if raw.is_empty() => Ok(Value::Null),
        _ => Ok(Value::String(raw.to_owned())),
    }
}

fn merge(base: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (key, value) in layer {
        base.insert(key, value);
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_string(),
    }
}

/// Adds `key = value` to a flags map when the flag was given.
pub fn flag<V: Serialize>(flags: &mut Map<String, Value>, key: &str, value: Option<V>) {
    if let Some(value) = value {
        if let Ok(value) = serde_json::to_value(value) {
            flags.insert(key.to_owned(), value);
        }
    }
}

/// Settings every subgraph binary shares (one struct for each subgraph's `main`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Address of the GraphQL HTTP server.
    pub listen: SocketAddr,
    /// Embedded store and generated keys live here.
    pub data_dir: PathBuf,
    /// Use MongoDB instead of the embedded store.
    pub mongodb_url: Option<String>,
    /// Database name when the URL names none.
    pub mongodb_database: String,
    /// Use Redis for pub/sub, domain events and caching instead of in-process ones.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel.
    pub redis_prefix: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Where subgraphs other than accounts fetch the token verification keys.
    pub jwks_url: String,
    pub log_format: LogFormat,
    /// `tracing` filter directive, e.g. `info,kit=debug`.
    pub log_level: String,
    /// Names this replica in consumer groups; defaults to a random id per start.
    pub instance_id: Option<String>,
    /// Accounts only: lifetime of access tokens.
    pub access_token_ttl_secs: u64,
    /// Accounts only: lifetime of refresh tokens.
    pub refresh_token_ttl_days: u64,
    /// Accounts only: PKCS#8 PEM Ed25519 key; default `<data_dir>/keys/jwt-ed25519.pem`.
    pub jwt_key_file: Option<PathBuf>,
    /// How long domain events every consumer group has acked are kept before the stream is
    /// trimmed (new groups find this much history).
    pub event_retention_secs: u64,
    /// How long a domain event may stay unacknowledged by a consumer (one that died while
    /// handling it) before another consumer of its group takes it over.
    pub event_reclaim_idle_secs: u64,
    /// Accounts only: more key files whose public keys are published in the JWKS (and so
    /// accepted) without signing: the next key before a rotation, the previous one after.
    pub jwt_verify_key_files: Vec<PathBuf>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4001)),
            data_dir: PathBuf::from("data"),
            mongodb_url: None,
            mongodb_database: "platform".into(),
            redis_url: None,
            redis_prefix: "platform".into(),
            jwt_issuer: "platform-accounts".into(),
            jwt_audience: "platform".into(),
            jwks_url: "http://127.0.0.1:4001/.well-known/jwks.json".into(),
            log_format: LogFormat::Human,
            log_level: "info".into(),
            instance_id: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            jwt_key_file: None,
            jwt_verify_key_files: Vec::new(),
            event_retention_secs: 24 * 3600,
            event_reclaim_idle_secs: 30,
        }
    }
}

impl ServiceConfig {
    /// Environment names that are accepted without the binary's prefix.
    pub const ENV_ALIASES: &'static [(&'static str, &'static str)] =
        &[("MONGODB_URL", "mongodb_url"), ("REDIS_URL", "redis_url")];

    pub fn jwt_key_path(&self) -> PathBuf {
        self.jwt_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("jwt-ed25519.pem"))
    }

    /// The verifier of every subgraph but accounts: keys from accounts' JWKS at `jwks_url`.
    pub fn remote_verifier(&self) -> auth::TokenVerifier {
        auth::TokenVerifier::remote(&self.jwks_url, &self.jwt_issuer, &self.jwt_audience)
    }

    pub fn instance_id(&self) -> String {
        self.instance_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_service(
        file: Option<&Path>,
        vars: &[(&str, &str)],
        flags: Map<String, Value>,
    ) -> Result<ServiceConfig, ConfigError> {
        load(
            file,
            "ACCOUNTS_",
            ServiceConfig::ENV_ALIASES,
            &env(vars),
            flags,
        )
    }

    #[test]
    fn defaults_apply_without_layers() {
        let config = load_service(None, &[("PATH", "/bin")], Map::new()).expect("load");
        assert_eq!(config, ServiceConfig::default());
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:5000\"\nlog_level = \"debug\"\naccess_token_ttl_secs = 60\n",
        )
        .expect("write");
        let mut flags = Map::new();
        flag(&mut flags, "log_level", Some("trace"));
        let config = load_service(
            Some(&path),
            &[
                ("ACCOUNTS_ACCESS_TOKEN_TTL_SECS", "120"),
                ("REDIS_URL", "redis://127.0.0.1:1"),
            ],
            flags,
        )
        .expect("load");
        assert_eq!(config.listen.port(), 5000);
        assert_eq!(config.access_token_ttl_secs, 120);
        assert_eq!(config.log_level, "trace");
        assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:1"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:5000\"\n").expect("write");
        let err = load_service(Some(&path), &[], Map::new()).expect_err("typo accepted");
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = load_service(None, &[("ACCOUNTS_LISTN", "x")], Map::new())
            .expect_err("env typo accepted");
        assert!(matches!(err, ConfigError::UnknownEnv(name) if name == "ACCOUNTS_LISTN"));
    }

    #[test]
    fn badly_typed_values_are_rejected() {
        let err = load_service(
            None,
            &[("ACCOUNTS_ACCESS_TOKEN_TTL_SECS", "soon")],
            Map::new(),
        )
        .expect_err("accepted");
        assert!(
            err.to_string().contains("ACCOUNTS_ACCESS_TOKEN_TTL_SECS"),
            "{err}"
        );
        let err = load_service(None, &[("ACCOUNTS_LISTEN", "nowhere")], Map::new())
            .expect_err("accepted");
        assert!(matches!(err, ConfigError::Invalid { .. }));
    }
}
