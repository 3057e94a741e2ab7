//! CSRF prevention as Apollo Router does it: a request a browser could send cross-origin
//! without a preflight (a "simple" request: no `Content-Type`, or a form or `text/plain`
//! one, and no custom header) is refused unless it carries a header that forces a preflight.
//! Once a preflight is forced, CORS decides whether the page may call the router at all.

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};

/// `[csrf]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsrfConfig {
    /// Refuse simple requests (HTTP 400, `CSRF_ERROR`).
    pub enabled: bool,
    /// Any one of these, non-empty, makes a simple request acceptable: browsers send a
    /// preflight before a cross-origin request with a custom header.
    pub required_headers: Vec<String>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        CsrfConfig {
            enabled: true,
            required_headers: vec![
                "x-apollo-operation-name".into(),
                "apollo-require-preflight".into(),
            ],
        }
    }
}

/// Content types a page may send cross-origin without a preflight (Fetch's CORS-safelisted
/// request header values for `Content-Type`).
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

impl CsrfConfig {
    /// Whether a request with these headers may run (WebSocket upgrades are not checked
    /// here: browsers send `Origin` on them, and the handshake is not a simple request).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.enabled {
            return true;
        }
        let preflighted_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|value| {
                let essence = value.split(';').next().unwrap_or_default().trim();
                !SIMPLE_CONTENT_TYPES
                    .iter()
                    .any(|simple| essence.eq_ignore_ascii_case(simple))
            })
            .unwrap_or(false);
        preflighted_type
            || self.required_headers.iter().any(|name| {
                headers
                    .get(name.as_str())
                    .is_some_and(|value| !value.is_empty())
            })
    }

    /// The refusal's message (Apollo Router's wording).
    pub fn message(&self) -> String {
        format!(
            "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). \
             Please either specify a 'content-type' header (with a mime-type that is not one of \
             {}) or provide one of the following headers: {}",
            SIMPLE_CONTENT_TYPES.join(", "),
            self.required_headers.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    axum::http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn simple_requests_need_a_preflight_forcing_header() {
        let csrf = CsrfConfig::default();
        assert!(!csrf.allows(&with(&[])));
        assert!(!csrf.allows(&with(&[("content-type", "text/plain;charset=utf-8")])));
        assert!(!csrf.allows(&with(&[(
            "content-type",
            "Multipart/Form-Data; boundary=x"
        )])));
        assert!(!csrf.allows(&with(&[("apollo-require-preflight", "")])));
        assert!(csrf.allows(&with(&[("content-type", "application/json")])));
        assert!(csrf.allows(&with(&[("apollo-require-preflight", "true")])));
        assert!(csrf.allows(&with(&[("x-apollo-operation-name", "Me")])));
        let off = CsrfConfig {
            enabled: false,
            ..CsrfConfig::default()
        };
        assert!(off.allows(&with(&[])));
    }
}
