//! The HTTP side of the edge: the settings every request consults (built once from the
//! config), the CORS and request-id middleware, and who the caller is.

use super::AppState;
use crate::config::{BatchingConfig, Config};
use crate::edge::authorization::AuthorizationConfig;
use crate::edge::cors::Cors;
use crate::edge::csrf::CsrfConfig;
use crate::edge::documents::Documents;
use crate::edge::gate::Gate;
use crate::edge::headers::{request_id, HeadersConfig};
use crate::edge::rate_limit::{client_ip, IpNet, RateLimitConfig};
use crate::plan_store::PlanStore;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Edge settings that outlive supergraph reloads.
pub struct Edge {
    pub headers: HeadersConfig,
    pub cors: Cors,
    pub csrf: CsrfConfig,
    pub batching: BatchingConfig,
    pub max_body_bytes: usize,
    pub gate: Option<Gate>,
    pub trusted_proxies: Vec<IpNet>,
    /// GraphiQL for browsers at `GET /graphql` (see [`super::assets`]).
    pub playground: bool,
    /// `/metrics` is served on the router's own port (metrics on, no separate listener).
    pub metrics_here: bool,
    /// Automatic persisted queries and the safelist's manifest.
    pub documents: Arc<Documents>,
    /// How a verified token's grants are read (scopes, policies).
    pub authorization: AuthorizationConfig,
    /// Plans shared by the fleet (Redis), when configured; they outlive supergraph reloads.
    pub plans: Option<Arc<PlanStore>>,
    /// How many operations a supergraph reload plans before taking traffic.
    pub warm_up: usize,
    /// The shared key of `POST /invalidation`; unset, the endpoint is off.
    pub invalidation_key: Option<String>,
}

impl Edge {
    /// Builds the edge of `config`; an invalid CORS table or Redis URL is an error here,
    /// at start, never at the first request.
    pub fn new(config: &Config) -> Result<Edge, String> {
        let gate = Gate::new(&config.rate_limit).map_err(|e| format!("rate_limit: {e}"))?;
        let documents = Arc::new(Documents::new(&config.persisted_queries)?);
        let plans = PlanStore::new(&config.plan_cache)
            .map_err(|e| format!("plan_cache.redis_url: {e}"))?
            .map(Arc::new);
        Ok(Edge {
            headers: config.headers.clone(),
            cors: Cors::new(config.cors.clone())?,
            csrf: config.csrf.clone(),
            batching: config.batching.clone(),
            max_body_bytes: config.limits.max_body_bytes,
            gate,
            trusted_proxies: config.rate_limit.trusted_proxies.clone(),
            playground: config.playground.enabled,
            metrics_here: config.telemetry.metrics.enabled
                && config.telemetry.metrics.listen.is_none(),
            documents,
            authorization: config.authorization.clone(),
            plans,
            warm_up: config.plan_cache.warm_up,
            invalidation_key: config.entity_cache.invalidation_key.clone(),
        })
    }

    /// The edge of an embedded router ([`AppState::new`]): the defaults, without rate
    /// limiting (a configured [`crate::serve`] has it on), forwarding `forward_headers`.
    pub fn embedded(forward_headers: Vec<String>) -> Edge {
        let config = Config {
            headers: HeadersConfig {
                forward: forward_headers,
                ..HeadersConfig::default()
            },
            rate_limit: RateLimitConfig {
                enabled: false,
                ..RateLimitConfig::default()
            },
            ..Config::default()
        };
        Edge::new(&config).expect("the default edge (CORS table, no Redis) is valid")
    }

    /// The client's address: the TCP peer, or `X-Forwarded-For` when the peer is a trusted
    /// proxy. Without a socket (a test's `oneshot`) it is the unspecified address.
    pub fn client_ip(&self, request: &Request) -> IpAddr {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        client_ip(peer, forwarded.as_deref(), &self.trusted_proxies)
    }
}

/// Answers CORS preflights, decorates responses for allowed origins, and gives every
/// request an `x-request-id` (the client's when sane), echoed on the response.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = request_id(request.headers());
    let id_value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    if Cors::is_preflight(request.method(), request.headers()) {
        let headers = state.edge.cors.preflight(request.headers());
        let mut response = (StatusCode::NO_CONTENT, headers).into_response();
        response.headers_mut().insert("x-request-id", id_value);
        return response;
    }
    request
        .headers_mut()
        .insert("x-request-id", id_value.clone());
    let origin_headers = origin_only(request.headers());
    let mut response = next.run(request).await;
    state
        .edge
        .cors
        .decorate(&origin_headers, response.headers_mut());
    response.headers_mut().insert("x-request-id", id_value);
    response
}

/// The request headers CORS needs after the request itself has been handed on.
fn origin_only(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        out.insert(axum::http::header::ORIGIN, origin.clone());
    }
    out
}
