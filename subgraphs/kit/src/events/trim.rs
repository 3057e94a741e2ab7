//! Bounded streams: entries every consumer group has read and acked are removed once they
//! are older than the retention window (`event_retention_secs`, a day by default), so storage
//! stays flat while a new group still finds recent history. Dead-letter streams are not
//! trimmed: they wait for an operator.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::SharedEventStream;
use crate::metrics::Metrics;

/// How often a trimmer keeping `retain` runs: a tenth of it, between 1 s and a minute.
pub fn interval(retain: Duration) -> Duration {
    (retain / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Trims `stream` every `every` until `shutdown`; removed entries count as `trimmed`. Every
/// replica may run one: trimming is idempotent.
pub fn spawn_trimmer(
    events: SharedEventStream,
    stream: &str,
    retain: Duration,
    every: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let stream = stream.to_owned();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            match events.trim(&stream, retain).await {
                Ok(removed) => metrics.count_events(&stream, "trimmed", removed),
                Err(error) => tracing::warn!(%stream, %error, "trimming the event stream failed"),
            }
        }
    })
}
