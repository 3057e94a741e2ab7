//! Layering: defaults ← TOML file ← environment ← flags, each a JSON tree deep-merged over
//! the one below, then deserialized once (so `deny_unknown_fields` sees every layer).

use super::Config;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Environment variables read as config keys: `ROUTER_<KEY>`, nested tables joined by `__`
/// (`ROUTER_LIMITS__MAX_DEPTH=20`, `ROUTER_TRAFFIC__SUBGRAPH_TIMEOUT=2s`).
pub const ENV_PREFIX: &str = "ROUTER_";

/// Variables that are not keys: the config file's own path, and names used by tools around
/// the router (benchmarks, peer routers) that must not be mistaken for typos.
const ENV_IGNORED: &[&str] = &["ROUTER_CONFIG", "ROUTER_CONFIG_FILE_PATH", "ROUTER_URL"];

/// Conventional names for keys.
const ENV_ALIASES: &[(&str, &str)] = &[
    ("ROUTER_JWKS_URL", "jwt.jwks_url"),
    ("ROUTER_JWT_ISSUER", "jwt.issuer"),
    ("ROUTER_JWT_AUDIENCE", "jwt.audience"),
    ("ROUTER_SUBGRAPH_TIMEOUT", "traffic.subgraph_timeout"),
    ("ROUTER_SUBGRAPH_TIMEOUTS", "traffic.subgraph_timeouts"),
    ("ROUTER_FORWARD_HEADERS", "headers.forward"),
    ("REDIS_URL", "rate_limit.redis_url"),
    ("REDIS_URL", "persisted_queries.redis_url"),
    ("REDIS_URL", "plan_cache.redis_url"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {message}")]
    File { path: String, message: String },
    #[error("unknown configuration variable {0} (keys are ROUTER_<KEY>, tables joined by __)")]
    UnknownEnv(String),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Builds the configuration from its layers. `env` is the process environment (passed in so
/// tests need not mutate it); `flags` holds only the flags that were given, as dotted keys
/// (`"limits.max_depth"`) or whole tables.
pub fn load(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    flags: Map<String, Value>,
) -> Result<Config, ConfigError> {
    let Ok(Value::Object(defaults)) = serde_json::to_value(Config::default()) else {
        return Err(invalid("defaults", "the defaults are not a table"));
    };
    let mut merged = defaults.clone();
    if let Some(path) = file {
        merge(&mut merged, read_file(path)?);
    }
    merge(&mut merged, env_layer(&defaults, env)?);
    for (key, value) in flags {
        merge(&mut merged, nested(&key, value));
    }
    let config: Config =
        serde_json::from_value(Value::Object(merged)).map_err(|e| invalid("config", e))?;
    config.source()?;
    Ok(config)
}

fn read_file(path: &Path) -> Result<Map<String, Value>, ConfigError> {
    let err = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    let Ok(Value::Object(mut map)) = serde_json::to_value(table) else {
        return Err(err("not a table".into()));
    };
    // Relative paths in the file are relative to the file, as a reader of it expects.
    if let (Some(Value::String(supergraph)), Some(dir)) = (map.get_mut("supergraph"), path.parent())
    {
        *supergraph = dir.join(&*supergraph).display().to_string();
    }
    if let Some(Value::Array(subgraphs)) = map.get_mut("subgraphs") {
        for subgraph in subgraphs {
            if let (Some(Value::String(file)), Some(dir)) =
                (subgraph.get_mut("sdl_file"), path.parent())
            {
                *file = dir.join(&*file).display().to_string();
            }
        }
    }
    Ok(map)
}

fn env_layer(
    defaults: &Map<String, Value>,
    env: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, ConfigError> {
    let mut layer = Map::new();
    for (name, raw) in env {
        if ENV_IGNORED.contains(&name.as_str()) {
            continue;
        }
        // An alias may set several keys (`REDIS_URL`: every Redis the router uses).
        let mut keys: Vec<String> = ENV_ALIASES
            .iter()
            .filter(|(alias, _)| alias == name)
            .map(|(_, key)| (*key).to_owned())
            .collect();
        if keys.is_empty() {
            match name.strip_prefix(ENV_PREFIX) {
                Some(rest) => keys.push(rest.to_ascii_lowercase().replace("__", ".")),
                None => continue,
            }
        }
        for key in keys {
            let default =
                default_at(defaults, &key).ok_or_else(|| ConfigError::UnknownEnv(name.clone()))?;
            let value = typed(default, raw).map_err(|m| invalid(name, m))?;
            merge(&mut layer, nested(&key, value));
        }
    }
    Ok(layer)
}

/// The default at a dotted key: `Some(Null)` where the shape below is open (an optional
/// table, or a map such as `traffic.subgraph_timeouts`), `None` for a key no table has.
fn default_at<'a>(defaults: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    const OPEN: &Value = &Value::Null;
    let mut table = defaults;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = table.get(part)?;
        if parts.peek().is_none() {
            return Some(value);
        }
        match value {
            Value::Object(inner) if !inner.is_empty() => table = inner,
            Value::Object(_) | Value::Null => return Some(OPEN),
            _ => return None,
        }
    }
    None
}

/// Parses an environment string into the JSON type of the key's default: numbers and
/// booleans as JSON, lists comma-separated, maps as `name=value,...`, strings as given.
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
        Value::Object(_) => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => Ok((k.trim().to_owned(), Value::String(v.trim().to_owned()))),
                None => Err(format!("{pair:?}: expected name=value")),
            })
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        _ if raw.is_empty() => Ok(Value::Null),
        // An open key (inside an optional table): a number or boolean when it reads as one.
        Value::Null => Ok(serde_json::from_str::<Value>(raw)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())
            .unwrap_or_else(|| Value::String(raw.to_owned()))),
        _ => Ok(Value::String(raw.to_owned())),
    }
}

/// `a.b.c = value` as nested tables.
fn nested(key: &str, value: Value) -> Map<String, Value> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut table = Map::new();
    table.insert(last.to_owned(), value);
    for part in parts.into_iter().rev() {
        let mut outer = Map::new();
        outer.insert(part.to_owned(), Value::Object(table));
        table = outer;
    }
    table
}

/// Tables merge key by key; anything else (values, lists) replaces.
fn merge(base: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(next)) => merge(inner, next),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn flags(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn flags_win_over_environment_over_file_over_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("router.toml");
        std::fs::write(
            &path,
            "supergraph = \"sg.graphql\"\n[limits]\nmax_depth = 7\nmax_aliases = 3\n[traffic]\nsubgraph_timeout = \"2s\"\n",
        )
        .expect("write");
        let config = load(
            Some(&path),
            &env(&[
                ("ROUTER_LIMITS__MAX_ALIASES", "4"),
                ("ROUTER_SUBGRAPH_TIMEOUTS", "inventory=500ms"),
                ("PATH", "/bin"),
            ]),
            flags(&[("limits.max_aliases", Value::from(5))]),
        )
        .expect("valid");
        assert_eq!(config.supergraph, Some(dir.path().join("sg.graphql")));
        assert_eq!(config.limits.max_depth, 7);
        assert_eq!(config.limits.max_aliases, 5);
        assert_eq!(
            config.traffic.subgraph_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(
            config.traffic.subgraph_timeouts["inventory"],
            std::time::Duration::from_millis(500)
        );
        let defaults = crate::edge::limits::LimitsConfig::default();
        assert_eq!(config.limits.max_height, defaults.max_height);
    }

    #[test]
    fn unknown_keys_are_refused_in_every_layer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("router.toml");
        std::fs::write(&path, "supergraph = \"x\"\n[limits]\nmax_dept = 7\n").expect("write");
        let err = load(Some(&path), &env(&[]), Map::new()).expect_err("typo accepted");
        assert!(err.to_string().contains("max_dept"), "{err}");
        let err = load(
            None,
            &env(&[("ROUTER_SUPERGRAPH", "x"), ("ROUTER_LIMITS__MAX_DEPT", "7")]),
            Map::new(),
        )
        .expect_err("typo accepted");
        assert!(err.to_string().contains("ROUTER_LIMITS__MAX_DEPT"), "{err}");
        let err = load(
            None,
            &env(&[
                ("ROUTER_SUPERGRAPH", "x"),
                ("ROUTER_LIMITS__MAX_DEPTH", "deep"),
            ]),
            Map::new(),
        )
        .expect_err("bad number accepted");
        assert!(err.to_string().contains("deep"), "{err}");
    }

    #[test]
    fn a_supergraph_source_is_required_and_exclusive() {
        let err = load(None, &env(&[]), Map::new()).expect_err("no source");
        assert!(err.to_string().contains("supergraph"), "{err}");
        let both = flags(&[
            ("supergraph", Value::from("x")),
            (
                "subgraphs",
                serde_json::json!([{ "name": "a", "url": "http://a/graphql" }]),
            ),
        ]);
        let err = load(None, &env(&[]), both).expect_err("both");
        assert!(err.to_string().contains("exclusive"), "{err}");
    }

    #[test]
    fn jwt_comes_from_its_conventional_variables() {
        let config = load(
            None,
            &env(&[
                ("ROUTER_SUPERGRAPH", "x"),
                ("ROUTER_JWKS_URL", "http://keys/jwks.json"),
                ("ROUTER_JWT_ISSUER", "iss"),
                ("ROUTER_JWT_AUDIENCE", "aud"),
            ]),
            Map::new(),
        )
        .expect("valid");
        let jwt = config.jwt.expect("jwt");
        assert_eq!(
            (
                jwt.jwks_url.as_str(),
                jwt.issuer.as_str(),
                jwt.audience.as_str()
            ),
            ("http://keys/jwks.json", "iss", "aud")
        );
    }

    #[test]
    fn the_rate_limit_redis_comes_from_either_variable() {
        for name in ["REDIS_URL", "ROUTER_RATE_LIMIT__REDIS_URL"] {
            let vars = env(&[("ROUTER_SUPERGRAPH", "x"), (name, "redis://r:6379/")]);
            let config = load(None, &vars, Map::new()).expect(name);
            assert_eq!(
                config.rate_limit.redis_url.as_deref(),
                Some("redis://r:6379/"),
                "{name}"
            );
        }
    }
}

#[cfg(test)]
mod example {
    use super::*;

    /// The shipped example parses, and every key it sets is the default (so it documents
    /// them truthfully).
    #[test]
    fn the_example_config_parses_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("router.example.toml");
        let config = load(Some(&path), &BTreeMap::new(), Map::new()).expect("example parses");
        let expected = Config {
            supergraph: config.supergraph.clone(),
            ..Config::default()
        };
        assert_eq!(config, expected);
        assert!(config
            .supergraph
            .as_ref()
            .is_some_and(|p| p.ends_with("schema/supergraph.graphql")));
    }
}
