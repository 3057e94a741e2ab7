//! A persisted-query manifest: Apollo's format (`{"format": "apollo-persisted-query-manifest",
//! "operations": [{"id", "body"}]}`) or a `{ "<id>": "<document>" }` map (Relay,
//! graphql-codegen's persisted documents).

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// The operations of a manifest, by id and by text.
#[derive(Debug, Default)]
pub struct Manifest {
    by_id: HashMap<String, Arc<str>>,
    bodies: HashSet<Arc<str>>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("persisted query manifest {}: {e}", path.display()))?;
        Manifest::parse(&text)
            .map_err(|e| format!("persisted query manifest {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Manifest, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let Value::Object(object) = value else {
            return Err("expected a JSON object".into());
        };
        let mut manifest = Manifest::default();
        if object.contains_key("format") {
            if object["format"] != "apollo-persisted-query-manifest" {
                return Err(format!("unknown format {}", object["format"]));
            }
            let operations = object.get("operations").and_then(Value::as_array);
            for operation in operations.ok_or("`operations` must be an array")? {
                let id = operation.get("id").and_then(Value::as_str);
                let body = operation.get("body").and_then(Value::as_str);
                match (id, body) {
                    (Some(id), Some(body)) => manifest.insert(id, body),
                    _ => return Err("every operation needs a string `id` and `body`".into()),
                }
            }
        } else {
            for (id, body) in &object {
                let body = body
                    .as_str()
                    .ok_or_else(|| format!("the document of {id} is not a string"))?;
                manifest.insert(id, body);
            }
        }
        Ok(manifest)
    }

    fn insert(&mut self, id: &str, body: &str) {
        let body: Arc<str> = Arc::from(body);
        self.bodies.insert(body.clone());
        self.by_id.insert(id.to_owned(), body);
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<str>> {
        self.by_id.get(id).cloned()
    }

    /// Whether `document` is one of the manifest's operations, byte for byte.
    pub fn lists(&self, document: &str) -> bool {
        self.bodies.contains(document)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_manifest_formats_load() {
        let apollo = r#"{"format":"apollo-persisted-query-manifest","version":1,
            "operations":[{"id":"a1","name":"Me","type":"query","body":"query Me { me { id } }"}]}"#;
        let manifest = Manifest::parse(apollo).expect("apollo");
        assert_eq!(
            manifest.by_id("a1").as_deref(),
            Some("query Me { me { id } }")
        );
        assert!(manifest.lists("query Me { me { id } }"));
        assert!(!manifest.lists("query Me { me { id name } }"));
        let map = Manifest::parse(r#"{"b2": "{ __typename }"}"#).expect("map");
        assert_eq!(map.by_id("b2").as_deref(), Some("{ __typename }"));
        for bad in [
            "[]",
            r#"{"x": 1}"#,
            r#"{"format":"other"}"#,
            r#"{"format":"apollo-persisted-query-manifest","operations":[{"id":"a"}]}"#,
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }
}
