//! Which client request headers reach which subgraph, as Apollo Router's `headers` config:
//! `Authorization` and the `forward` list go to every subgraph, then the `all` rules, then
//! each subgraph's own rules, in order (`propagate` with rename and default, `insert`,
//! `remove`). `x-request-id` is handled apart (see [`request_id`]) so that it never keeps
//! identical subgraph requests from coalescing.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[headers]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadersConfig {
    /// Request headers forwarded as they are to every subgraph, besides `Authorization`.
    pub forward: Vec<String>,
    /// Rules for every subgraph: `[[headers.all]]` with one of `propagate`, `insert`, `remove`.
    pub all: Vec<HeaderRule>,
    /// Rules for one subgraph, after `all`: `[[headers.subgraphs.accounts]]`.
    pub subgraphs: BTreeMap<String, Vec<HeaderRule>>,
}

/// One header rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum HeaderRule {
    /// Copies a client header, optionally under another name, or `default` when absent.
    Propagate {
        named: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rename: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// Sets a static header.
    Insert { name: String, value: String },
    /// Drops a header set by an earlier rule (including `Authorization`).
    Remove { named: String },
}

/// Headers of subgraph requests, lower-cased and sorted so identical requests coalesce.
pub type HeaderList = Vec<(String, String)>;

/// What one request sends: the list for every subgraph, and the subgraphs with their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Forwarded {
    pub common: HeaderList,
    pub by_subgraph: Vec<(String, HeaderList)>,
}

impl Forwarded {
    pub fn for_subgraph(&self, name: &str) -> &HeaderList {
        self.by_subgraph
            .iter()
            .find(|(subgraph, _)| subgraph == name)
            .map_or(&self.common, |(_, list)| list)
    }
}

impl HeadersConfig {
    /// Applies the configuration to one client request.
    pub fn forwarded(&self, headers: &HeaderMap) -> Forwarded {
        let mut common: HeaderList = headers
            .iter()
            .filter(|(name, _)| {
                name.as_str() == "authorization"
                    || self
                        .forward
                        .iter()
                        .any(|f| f.eq_ignore_ascii_case(name.as_str()))
            })
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        apply(&self.all, headers, &mut common);
        let by_subgraph = self
            .subgraphs
            .iter()
            .map(|(name, rules)| {
                let mut list = common.clone();
                apply(rules, headers, &mut list);
                list.sort();
                (name.clone(), list)
            })
            .collect();
        common.sort();
        Forwarded {
            common,
            by_subgraph,
        }
    }
}

fn apply(rules: &[HeaderRule], headers: &HeaderMap, list: &mut HeaderList) {
    let set = |list: &mut HeaderList, name: &str, value: String| {
        let name = name.to_ascii_lowercase();
        list.retain(|(n, _)| *n != name);
        list.push((name, value));
    };
    for rule in rules {
        match rule {
            HeaderRule::Propagate {
                named,
                rename,
                default,
            } => {
                let value = headers
                    .get(named.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| default.clone());
                if let Some(value) = value {
                    set(list, rename.as_deref().unwrap_or(named), value);
                }
            }
            HeaderRule::Insert { name, value } => set(list, name, value.clone()),
            HeaderRule::Remove { named } => list.retain(|(n, _)| !n.eq_ignore_ascii_case(named)),
        }
    }
}

/// The request's id: the client's `x-request-id` when it is a sane token (visible ASCII, at
/// most 128 bytes), else a new one. It is sent to every subgraph and returned to the client.
pub fn request_id(headers: &HeaderMap) -> String {
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
            return id.to_owned();
        }
    }
    new_request_id()
}

/// 128 random bits as hex, from the standard library's randomly keyed hasher and a counter
/// (unique per process; not a secret).
fn new_request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u64(n);
    let mut b = state.build_hasher();
    b.write_u64(!n);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().expect("value"));
        headers.insert("x-tenant", "acme".parse().expect("value"));
        headers.insert("cookie", "secret".parse().expect("value"));
        headers
    }

    #[test]
    fn rules_apply_in_order_per_subgraph() {
        let config: HeadersConfig = toml::from_str(
            r#"
            forward = ["X-Tenant"]
            [[all]]
            propagate = { named = "x-region", default = "eu" }
            [[all]]
            insert = { name = "x-source", value = "router" }
            [[subgraphs.accounts]]
            remove = { named = "authorization" }
            [[subgraphs.accounts]]
            propagate = { named = "x-tenant", rename = "x-customer" }
            "#,
        )
        .expect("valid");
        let forwarded = config.forwarded(&request());
        let pairs = |list: &HeaderList| {
            list.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(&forwarded.common),
            [
                "authorization=Bearer t",
                "x-region=eu",
                "x-source=router",
                "x-tenant=acme"
            ]
        );
        assert_eq!(
            pairs(forwarded.for_subgraph("accounts")),
            [
                "x-customer=acme",
                "x-region=eu",
                "x-source=router",
                "x-tenant=acme"
            ]
        );
        assert_eq!(forwarded.for_subgraph("boards"), &forwarded.common);
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "abc-123".parse().expect("value"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert("x-request-id", "a b".parse().expect("value"));
        let made = request_id(&headers);
        assert_eq!(made.len(), 32);
        assert_ne!(made, request_id(&HeaderMap::new()));
    }
}
