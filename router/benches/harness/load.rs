//! A light closed-loop load generator: one task per connection, each a keep-alive HTTP/1.1
//! connection (hyper's client connection, no pool) sending the next request as soon as the
//! previous answer has been read. All connections share one current-thread runtime on a
//! thread of their own, so the generator uses at most one core and its CPU time can be read
//! apart from the subgraphs'.

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long one exchange may take before it counts as an error, so a hung router cannot
/// hold the bench.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// One keep-alive HTTP/1.1 connection to a router's GraphQL endpoint.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    path: String,
    /// Sent as `Origin` (a browser's cross-origin request), when set.
    pub origin: Option<HeaderValue>,
}

impl Connection {
    /// Connects to `url` (`http://<ip>:<port>/<path>`, loopback).
    pub async fn open(url: &str) -> anyhow::Result<Connection> {
        let uri: Uri = url.parse()?;
        let authority = uri.authority().context("URL without host")?.as_str();
        let addr: SocketAddr = authority.parse().context("expected <ip>:<port>")?;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            host: HeaderValue::from_str(authority)?,
            path: uri.path().to_owned(),
            origin: None,
        })
    }

    async fn send(
        &mut self,
        body: Bytes,
        auth: &HeaderValue,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut request = Request::post(self.path.as_str())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, auth.clone());
        if let Some(origin) = &self.origin {
            request = request.header(ORIGIN, origin.clone());
        }
        let request = request.body(Full::new(body))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        anyhow::ensure!(response.status().is_success(), "HTTP {}", response.status());
        Ok(response)
    }

    /// POSTs `body` and reads the answer, returning only its length (nothing is kept).
    pub async fn post_counting(
        &mut self,
        body: Bytes,
        auth: &HeaderValue,
    ) -> anyhow::Result<usize> {
        let exchange = async {
            let mut incoming = self.send(body, auth).await?.into_body();
            let mut length = 0;
            while let Some(frame) = incoming.frame().await {
                length += frame?.data_ref().map_or(0, Bytes::len);
            }
            Ok::<_, anyhow::Error>(length)
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await?
    }

    /// POSTs `body` and returns the whole answer.
    pub async fn post(&mut self, body: Bytes, auth: &HeaderValue) -> anyhow::Result<Bytes> {
        let exchange = async {
            let response = self.send(body, auth).await?;
            Ok::<_, anyhow::Error>(response.into_body().collect().await?.to_bytes())
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await?
    }
}

/// `Authorization` for connection `i`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// One header for every connection: identical in-flight subgraph requests may be shared.
    Shared,
    /// A header per connection: nothing can be shared across connections.
    PerConnection,
}

impl Auth {
    pub fn label(self) -> &'static str {
        match self {
            Auth::Shared => "shared auth",
            Auth::PerConnection => "auth per conn",
        }
    }

    fn header(self, connection: usize) -> HeaderValue {
        let value = match self {
            Auth::Shared => "Bearer bench-shared".to_owned(),
            Auth::PerConnection => format!("Bearer bench-connection-{connection}"),
        };
        HeaderValue::from_str(&value).expect("ASCII header value")
    }
}

/// One load run: `connections` loops POSTing `body` from `start` until `until`; requests
/// that start before `measure_from` warm up and are not counted.
#[derive(Clone)]
pub struct Load {
    pub url: String,
    pub body: Bytes,
    pub connections: usize,
    pub auth: Auth,
    pub measure_from: Instant,
    pub until: Instant,
    /// The verified response length: any other length counts as an error.
    pub expect_len: usize,
    /// An `Origin` header on every request.
    pub origin: Option<&'static str>,
}

/// What the measured window of a load run saw.
pub struct Outcome {
    pub requests: usize,
    pub errors: usize,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u32>,
    pub measured: Duration,
    /// CPU seconds of the generator thread over the whole run, warm-up included.
    pub generator_cpu: Option<f64>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.measured.as_secs_f64().max(1e-9)
    }

    /// The `p`-quantile latency (nearest rank), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let Some(last) = self.latencies_us.len().checked_sub(1) else {
            return f64::NAN;
        };
        let rank = ((last as f64) * p).round() as usize;
        f64::from(self.latencies_us[rank.min(last)]) / 1000.0
    }
}

/// Runs `load` on a thread of its own and returns when every connection has stopped.
pub async fn run(load: Load) -> anyhow::Result<Outcome> {
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let cpu_before = super::process::cpu_seconds("/proc/thread-self/stat");
        let mut outcome = runtime.block_on(drive(&load));
        let cpu_after = super::process::cpu_seconds("/proc/thread-self/stat");
        outcome.generator_cpu = cpu_after.zip(cpu_before).map(|(a, b)| a - b);
        Ok(outcome)
    })
    .await?
}

async fn drive(load: &Load) -> Outcome {
    let tasks: Vec<_> = (0..load.connections)
        .map(|i| tokio::spawn(connection_loop(load.clone(), load.auth.header(i))))
        .collect();
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        latencies_us: Vec::new(),
        measured: load.until.saturating_duration_since(load.measure_from),
        generator_cpu: None,
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap_or_default();
        outcome.requests += latencies.len();
        outcome.errors += errors;
        outcome.latencies_us.extend(latencies);
    }
    outcome.latencies_us.sort_unstable();
    outcome
}

/// One connection's loop: latencies of its measured successes and its measured errors (an
/// exchange is measured when it starts after `measure_from` and ends by `until`).
/// A failed exchange drops the connection; the next iteration opens a new one.
async fn connection_loop(load: Load, auth: HeaderValue) -> (Vec<u32>, usize) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let mut connection: Option<Connection> = None;
    while Instant::now() < load.until {
        let started = Instant::now();
        let measured = started >= load.measure_from;
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => match Connection::open(&load.url).await {
                Ok(mut conn) => {
                    conn.origin = load.origin.map(HeaderValue::from_static);
                    connection.insert(conn)
                }
                Err(_) => {
                    errors += usize::from(measured);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let result = conn.post_counting(load.body.clone(), &auth).await;
        let ok = matches!(result, Ok(len) if len == load.expect_len);
        if result.is_err() {
            connection = None;
        }
        let finished = Instant::now();
        if !measured || finished > load.until {
            continue;
        }
        if ok {
            let micros = (finished - started).as_micros();
            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        } else {
            errors += 1;
        }
    }
    (latencies, errors)
}
