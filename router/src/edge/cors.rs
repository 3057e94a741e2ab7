//! CORS: which browser origins may call the router, answered on preflights (`OPTIONS`) and
//! on the actual requests. An origin that is not allowed gets no CORS headers at all, so the
//! browser keeps the response from the page.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[cors]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins allowed (`scheme://host[:port]`, no trailing slash). The defaults are
    /// the router's own address and the live UI's development server.
    pub origins: Vec<String>,
    /// Origin patterns where `*` stands for one DNS label or a port
    /// (`https://*.example.com`, `http://localhost:*`).
    pub match_origins: Vec<String>,
    /// Any origin (`Access-Control-Allow-Origin: *`); cannot be combined with credentials.
    pub allow_any_origin: bool,
    /// Lets pages send cookies and HTTP authentication (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
    /// Request headers a page may send; empty mirrors what the preflight asks for.
    pub allow_headers: Vec<String>,
    /// Response headers a page may read besides the CORS-safelisted ones.
    pub expose_headers: Vec<String>,
    /// Methods allowed on preflight.
    pub methods: Vec<String>,
    /// How long a browser may cache a preflight answer.
    #[serde(with = "crate::flags::duration")]
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: vec![
                "http://127.0.0.1:4000".into(),
                "http://localhost:4000".into(),
                "http://127.0.0.1:5173".into(),
                "http://localhost:5173".into(),
            ],
            match_origins: Vec::new(),
            allow_any_origin: false,
            allow_credentials: false,
            allow_headers: Vec::new(),
            expose_headers: vec!["retry-after".into(), "x-request-id".into()],
            methods: vec!["GET".into(), "POST".into(), "OPTIONS".into()],
            max_age: Duration::from_secs(600),
        }
    }
}

/// The configuration compiled for the request path (header values built once).
#[derive(Debug, Clone)]
pub struct Cors {
    config: CorsConfig,
    methods: HeaderValue,
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    max_age: HeaderValue,
}

impl Cors {
    pub fn new(config: CorsConfig) -> Result<Cors, String> {
        if config.allow_any_origin && config.allow_credentials {
            return Err("cors: allow_any_origin cannot be combined with allow_credentials (browsers refuse `*` with credentials)".into());
        }
        let list = |items: &[String], key: &str| -> Result<Option<HeaderValue>, String> {
            if items.is_empty() {
                return Ok(None);
            }
            HeaderValue::from_str(&items.join(", "))
                .map(Some)
                .map_err(|_| format!("cors.{key}: not a valid header value"))
        };
        for origin in &config.origins {
            if origin.ends_with('/') || !origin.contains("://") {
                return Err(format!(
                    "cors.origins: {origin:?} is not an origin (scheme://host[:port], no path)"
                ));
            }
        }
        Ok(Cors {
            methods: list(&config.methods, "methods")?
                .unwrap_or(HeaderValue::from_static("GET, POST, OPTIONS")),
            allow_headers: list(&config.allow_headers, "allow_headers")?,
            expose_headers: list(&config.expose_headers, "expose_headers")?,
            max_age: HeaderValue::from(config.max_age.as_secs()),
            config,
        })
    }

    fn allows(&self, origin: &str) -> bool {
        self.config.allow_any_origin
            || self.config.origins.iter().any(|o| o == origin)
            || self
                .config
                .match_origins
                .iter()
                .any(|pattern| matches_pattern(pattern, origin))
    }

    /// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers answering a preflight (none when the origin is not allowed).
    pub fn preflight(&self, request: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        let Some(origin) = self.allowed_origin(request) else {
            out.insert(VARY, HeaderValue::from_static("origin"));
            return out;
        };
        self.common(&mut out, origin);
        out.insert(ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone());
        let headers = match &self.allow_headers {
            Some(configured) => Some(configured.clone()),
            None => request.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        };
        if let Some(headers) = headers {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
        out.insert(ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        out.append(
            VARY,
            HeaderValue::from_static(
                "access-control-request-method, access-control-request-headers",
            ),
        );
        out
    }

    /// Adds the headers of an actual (non-preflight) response.
    pub fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if !request.contains_key(ORIGIN) {
            return;
        }
        match self.allowed_origin(request) {
            Some(origin) => {
                self.common(response, origin);
                if let Some(expose) = &self.expose_headers {
                    response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
                }
            }
            None => {
                response.append(VARY, HeaderValue::from_static("origin"));
            }
        }
    }

    fn allowed_origin(&self, request: &HeaderMap) -> Option<HeaderValue> {
        let origin = request.get(ORIGIN)?;
        self.allows(origin.to_str().ok()?).then(|| origin.clone())
    }

    fn common(&self, out: &mut HeaderMap, origin: HeaderValue) {
        if self.config.allow_any_origin {
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        } else {
            // The answer depends on the request's origin: caches must key on it.
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            out.append(VARY, HeaderValue::from_static("origin"));
        }
        if self.config.allow_credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// `*` matches one or more characters other than `.`, `/` and `:`, so `https://*.a.com`
/// allows `https://x.a.com` but neither `https://a.com` nor `https://x.evil.com/.a.com`.
fn matches_pattern(pattern: &str, origin: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == origin;
    };
    let Some(tail) = origin.strip_prefix(first) else {
        return false;
    };
    let run = tail.find(['.', '/', ':']).unwrap_or(tail.len());
    (1..=run).any(|n| matches_pattern(rest, &tail[n..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
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
    fn patterns_match_one_label() {
        assert!(matches_pattern("https://*.a.com", "https://x.a.com"));
        assert!(!matches_pattern("https://*.a.com", "https://a.com"));
        assert!(!matches_pattern("https://*.a.com", "https://x.y.a.com"));
        assert!(!matches_pattern(
            "https://*.a.com",
            "https://x.a.com.evil.io"
        ));
        assert!(matches_pattern(
            "http://localhost:*",
            "http://localhost:5173"
        ));
        assert!(!matches_pattern("http://localhost:*", "http://localhost"));
    }

    #[test]
    fn allowed_origins_get_headers_and_others_none() {
        let cors = Cors::new(CorsConfig::default()).expect("valid");
        let preflight = headers(&[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type, authorization",
            ),
        ]);
        let out = cors.preflight(&preflight);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:5173");
        assert_eq!(
            out[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, authorization"
        );
        assert_eq!(out[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(!out.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let evil = headers(&[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ]);
        let out = cors.preflight(&evil);
        assert!(!out.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        let mut response = HeaderMap::new();
        cors.decorate(&evil, &mut response);
        assert!(!response.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn credentials_and_any_origin_are_exclusive() {
        let config = CorsConfig {
            allow_any_origin: true,
            allow_credentials: true,
            ..CorsConfig::default()
        };
        assert!(Cors::new(config).is_err());
        let bad = CorsConfig {
            origins: vec!["http://a.com/".into()],
            ..CorsConfig::default()
        };
        assert!(Cors::new(bad).is_err());
    }
}
