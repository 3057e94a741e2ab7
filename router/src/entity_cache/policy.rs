//! What may be cached, for how long and for whom (a subgraph's `Cache-Control`), and what an
//! invalidation names (Apollo Router's invalidation request format).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// A subgraph response's `Cache-Control`, as far as the router's cache reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_age: Duration,
    /// Only for the caller it was made for.
    pub private: bool,
}

impl Policy {
    /// What `header` allows: `None` unless it gives a positive `max-age` (or `s-maxage`)
    /// without `no-store` or `no-cache`. A response that says nothing is not cached.
    pub fn parse(header: Option<&str>) -> Option<Policy> {
        let mut max_age = None;
        let mut private = false;
        for directive in header?.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            let (name, value) = match directive.split_once('=') {
                Some((name, value)) => (name.trim().to_owned(), Some(value.trim().to_owned())),
                None => (directive.clone(), None),
            };
            match (name.as_str(), value) {
                ("no-store" | "no-cache", _) => return None,
                ("private", _) => private = true,
                ("max-age" | "s-maxage", Some(value)) => {
                    let seconds: u64 = value.trim_matches('"').parse().ok()?;
                    max_age = Some(max_age.map_or(seconds, |m: u64| m.min(seconds)));
                }
                _ => {}
            }
        }
        let seconds = max_age.filter(|&s| s > 0)?;
        Some(Policy {
            max_age: Duration::from_secs(seconds),
            private,
        })
    }
}

/// One invalidation: everything a subgraph answered, every entry about a type, or one entity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Invalidation {
    Subgraph {
        subgraph: String,
    },
    Type {
        subgraph: String,
        #[serde(rename = "type")]
        type_name: String,
    },
    Entity {
        subgraph: String,
        #[serde(rename = "type")]
        type_name: String,
        key: BTreeMap<String, Value>,
    },
}

impl Invalidation {
    pub fn subgraph(&self) -> &str {
        match self {
            Invalidation::Subgraph { subgraph }
            | Invalidation::Type { subgraph, .. }
            | Invalidation::Entity { subgraph, .. } => subgraph,
        }
    }

    /// The tag whose entries this evicts.
    pub fn tag(&self) -> String {
        match self {
            Invalidation::Subgraph { subgraph } => subgraph_tag(subgraph),
            Invalidation::Type {
                subgraph,
                type_name,
            } => type_tag(subgraph, type_name),
            Invalidation::Entity {
                subgraph,
                type_name,
                key,
            } => entity_tag(subgraph, type_name, key),
        }
    }
}

/// Every entry of `subgraph`.
pub fn subgraph_tag(subgraph: &str) -> String {
    format!("s:{}:{subgraph}", subgraph.len())
}

/// Entries of `subgraph` about `type_name`: the root type for root fetches, the entity types
/// for `_entities` fetches.
pub fn type_tag(subgraph: &str, type_name: &str) -> String {
    format!("t:{}:{subgraph}:{type_name}", subgraph.len())
}

/// Entries of `subgraph` holding the entity of `type_name` with this key (key fields only,
/// in name order).
pub fn entity_tag(subgraph: &str, type_name: &str, key: &BTreeMap<String, Value>) -> String {
    let key = serde_json::to_string(key).unwrap_or_default();
    format!("e:{}:{subgraph}:{type_name}:{key}", subgraph.len())
}

/// Most items one invalidation request or message may name.
const MAX_ITEMS: usize = 1000;

/// An invalidation request's body: one item or an array of them.
pub fn parse_items(body: &[u8]) -> Result<Vec<Invalidation>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let items = match value {
        Value::Array(items) => items,
        item => vec![item],
    };
    if items.len() > MAX_ITEMS {
        return Err(format!("at most {MAX_ITEMS} items per request"));
    }
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| format!("invalid item: {e}")))
        .collect()
}

/// The invalidations a subgraph's response asks for (`extensions.invalidation`); items naming
/// another subgraph are ignored: a subgraph evicts only what it answered.
pub fn requested(extensions: &Value, subgraph: &str) -> Vec<Invalidation> {
    let Some(items) = extensions.get("invalidation").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match serde_json::from_value::<Invalidation>(item.clone()) {
            Ok(invalidation) if invalidation.subgraph() == subgraph => Some(invalidation),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(subgraph, %error, "ignored an invalidation the router cannot read");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_explicit_positive_max_age_is_cacheable() {
        let parse = Policy::parse;
        let secs = Duration::from_secs;
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some("")), None);
        assert_eq!(parse(Some("private")), None);
        assert_eq!(parse(Some("max-age=0")), None);
        assert_eq!(parse(Some("max-age=60, no-store")), None);
        assert_eq!(parse(Some("no-cache, max-age=60")), None);
        assert_eq!(parse(Some("max-age=abc")), None);
        let public = Policy {
            max_age: secs(60),
            private: false,
        };
        assert_eq!(parse(Some("max-age=60")), Some(public));
        assert_eq!(parse(Some("Max-Age=60, s-maxage=90")), Some(public));
        let private = Policy {
            max_age: secs(30),
            private: true,
        };
        assert_eq!(parse(Some("max-age=30, private")), Some(private));
    }

    #[test]
    fn invalidations_read_apollos_format_for_their_own_subgraph_only() {
        let extensions = json!({"invalidation": [
            {"kind": "subgraph", "subgraph": "boards"},
            {"kind": "type", "subgraph": "boards", "type": "Board"},
            {"kind": "entity", "subgraph": "boards", "type": "User", "key": {"id": "u1"}},
            {"kind": "subgraph", "subgraph": "accounts"},
            {"kind": "everything"},
        ]});
        let items = requested(&extensions, "boards");
        let tags: Vec<String> = items.iter().map(Invalidation::tag).collect();
        assert_eq!(
            tags,
            [
                "s:6:boards",
                "t:6:boards:Board",
                "e:6:boards:User:{\"id\":\"u1\"}"
            ]
        );
        assert!(requested(&json!({}), "boards").is_empty());
    }
}
