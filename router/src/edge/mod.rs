//! The router's edge: what is decided about a request before any subgraph is called —
//! operation limits, demand control, rate limits, browser rules (CORS, CSRF) and header rules.

pub mod authorization;
pub mod cors;
pub mod cost;
pub mod csrf;
pub mod documents;
pub mod gate;
pub mod headers;
pub mod limits;
pub mod rate_limit;
