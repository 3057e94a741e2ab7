//! Label values: shared (`Arc`) so counting a request allocates nothing once a value is
//! known, and capped where clients choose them.

use ahash::RandomState;
use http::{HeaderMap, HeaderName};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

pub type Label = Arc<String>;

pub static INVALID: LazyLock<Label> = LazyLock::new(|| Arc::new("(invalid)".into()));
pub static ANONYMOUS: LazyLock<Label> = LazyLock::new(|| Arc::new("(anonymous)".into()));
static NONE: LazyLock<Label> = LazyLock::new(|| Arc::new("(none)".into()));
static OTHER: LazyLock<Label> = LazyLock::new(|| Arc::new("(other)".into()));

/// Longest label value kept; longer ones (only client headers can be) are cut.
const MAX_LABEL_LEN: usize = 64;

/// The distinct values of one label, up to a cap; later values read `(other)`.
pub struct Names {
    seen: RwLock<HashMap<Box<str>, Label, RandomState>>,
    cap: usize,
}

impl Names {
    pub fn new(cap: usize) -> Names {
        Names {
            seen: RwLock::new(HashMap::default()),
            cap,
        }
    }

    pub fn get(&self, value: &str) -> Label {
        if let Some(label) = self.seen.read().get(value) {
            return label.clone();
        }
        let mut seen = self.seen.write();
        if seen.len() >= self.cap {
            return seen.get(value).unwrap_or(&OTHER).clone();
        }
        let cut = match value.char_indices().nth(MAX_LABEL_LEN) {
            Some((end, _)) => &value[..end],
            None => value,
        };
        seen.entry(value.into())
            .or_insert_with(|| Arc::new(cut.to_owned()))
            .clone()
    }
}

/// Who is asking, as Apollo's clients say: `apollographql-client-name` and
/// `apollographql-client-version` (Apollo Client, Apollo Kotlin and iOS send them).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    name: Option<http::HeaderValue>,
    version: Option<http::HeaderValue>,
}

impl ClientInfo {
    pub fn from_headers(headers: &HeaderMap) -> ClientInfo {
        static NAME: HeaderName = HeaderName::from_static("apollographql-client-name");
        static VERSION: HeaderName = HeaderName::from_static("apollographql-client-version");
        ClientInfo {
            name: headers.get(&NAME).cloned(),
            version: headers.get(&VERSION).cloned(),
        }
    }

    pub(super) fn labels(&self, names: &Names) -> (Label, Label) {
        let label = |value: &Option<http::HeaderValue>| match value
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            Some(value) => names.get(value),
            None => NONE.clone(),
        };
        (label(&self.name), label(&self.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_count_as_other() {
        let names = Names::new(2);
        assert_eq!(*names.get("a"), "a");
        assert_eq!(*names.get("b"), "b");
        assert_eq!(*names.get("c"), "(other)");
        assert_eq!(*names.get("a"), "a", "known values keep their label");
        let long = "x".repeat(100);
        assert_eq!(Names::new(4).get(&long).len(), MAX_LABEL_LEN);
    }
}
