//! Streamed HTTP responses: GraphQL over Server-Sent Events (distinct connections mode) and
//! Apollo's multipart HTTP subscription protocol. Both send keep-alives and end with the
//! subscription, on shutdown, or when the client goes away (which releases the upstream).

use crate::subscription::{EventStream, SubscriptionSettings};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamMedia {
    /// `text/event-stream`.
    EventStream,
    /// `multipart/mixed;subscriptionSpec="1.0"`.
    Multipart,
}

const MULTIPART_CONTENT_TYPE: &str = r#"multipart/mixed;boundary="graphql";subscriptionSpec="1.0""#;
/// Every part ends with the boundary, so a client can process it as soon as it arrives.
const MULTIPART_OPEN: &str = "\r\n--graphql\r\n";
const MULTIPART_HEADERS: &str = "content-type: application/json\r\n\r\n";

enum Item {
    Result(Arc<str>),
    KeepAlive,
    End,
}

impl StreamMedia {
    fn content_type(self) -> &'static str {
        match self {
            StreamMedia::EventStream => "text/event-stream",
            StreamMedia::Multipart => MULTIPART_CONTENT_TYPE,
        }
    }

    fn encode(self, item: Item) -> Bytes {
        match (self, item) {
            (StreamMedia::EventStream, Item::Result(payload)) => {
                Bytes::from(format!("event: next\ndata: {payload}\n\n"))
            }
            (StreamMedia::EventStream, Item::KeepAlive) => Bytes::from_static(b":\n\n"),
            (StreamMedia::EventStream, Item::End) => {
                Bytes::from_static(b"event: complete\ndata:\n\n")
            }
            (StreamMedia::Multipart, Item::Result(payload)) => Bytes::from(format!(
                "{MULTIPART_HEADERS}{{\"payload\":{payload}}}\r\n--graphql\r\n"
            )),
            (StreamMedia::Multipart, Item::KeepAlive) => {
                Bytes::from(format!("{MULTIPART_HEADERS}{{}}\r\n--graphql\r\n"))
            }
            // A last heartbeat part carries the closing delimiter.
            (StreamMedia::Multipart, Item::End) => {
                Bytes::from(format!("{MULTIPART_HEADERS}{{}}\r\n--graphql--\r\n"))
            }
        }
    }
}

/// One result, then the end of the stream (queries and request errors on a stream-only
/// request).
pub(super) fn single(media: StreamMedia, payload: Arc<str>) -> Response {
    let items = stream::iter([Item::Result(payload), Item::End]);
    respond(media, items)
}

/// A subscription's results with keep-alives in between.
pub(super) fn events(
    media: StreamMedia,
    events: EventStream,
    settings: &SubscriptionSettings,
    shutdown: CancellationToken,
) -> Response {
    let keepalive = settings.keepalive;
    let results = events.into_stream().map(Item::Result);
    let ticks = keepalives(keepalive).map(|()| Item::KeepAlive);
    // Results end the merged stream; keep-alives alone never do.
    let merged = stream::select(
        results.map(Some).chain(stream::once(async { None })),
        ticks.map(Some),
    )
    .take_while(|item| std::future::ready(item.is_some()))
    .filter_map(std::future::ready)
    .take_until(shutdown.cancelled_owned())
    .chain(stream::once(async { Item::End }));
    respond(media, merged)
}

fn keepalives(every: Duration) -> impl Stream<Item = ()> + Send {
    stream::unfold(
        tokio::time::interval_at(tokio::time::Instant::now() + every, every),
        |mut interval| async move {
            interval.tick().await;
            Some(((), interval))
        },
    )
}

fn respond(media: StreamMedia, items: impl Stream<Item = Item> + Send + 'static) -> Response {
    let open = match media {
        StreamMedia::Multipart => Some(Bytes::from_static(MULTIPART_OPEN.as_bytes())),
        StreamMedia::EventStream => None,
    };
    let body = stream::iter(open)
        .chain(items.map(move |item| media.encode(item)))
        .map(Ok::<_, Infallible>);
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // NGINX would otherwise buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
