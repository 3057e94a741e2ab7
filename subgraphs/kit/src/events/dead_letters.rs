//! Dead letters: an event whose handler failed `max_deliveries` times leaves its group's
//! pending list for `<stream>.dead.<group>`, with the error and the attempts, so it neither
//! retries forever nor hides. Operators list and replay them (`<subgraph> dead-letters`):
//! a replay appends the original event to its stream again (every group sees it once more;
//! handlers are idempotent by event id) and removes the dead letter.

use serde::{Deserialize, Serialize};

use super::{Delivery, DomainEvent, EventError, EventStream};

/// The kind of the entries of a dead-letter stream.
pub const KIND: &str = "DeadLetter";

/// What a dead-letter entry records.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeadLetter {
    pub stream: String,
    pub group: String,
    /// The last handler error.
    pub error: String,
    pub attempts: u64,
    pub event: DomainEvent,
}

/// Where `group`'s dead letters of `stream` go.
pub fn stream_of(stream: &str, group: &str) -> String {
    format!("{stream}.dead.{group}")
}

/// Moves a delivery that keeps failing to the dead-letter stream (the caller then acks it).
pub async fn bury(
    events: &dyn EventStream,
    stream: &str,
    group: &str,
    delivery: &Delivery,
    error: &str,
) -> Result<(), EventError> {
    let letter = DeadLetter {
        stream: stream.to_owned(),
        group: group.to_owned(),
        error: error.to_owned(),
        attempts: delivery.delivery_count,
        event: delivery.event.clone(),
    };
    let entry = DomainEvent::new(KIND, &delivery.event.actor, serde_json::to_value(letter)?);
    events.append(&stream_of(stream, group), &entry).await?;
    Ok(())
}

/// Up to `count` dead letters of `group` on `stream`, oldest first, by entry id.
pub async fn list(
    events: &dyn EventStream,
    stream: &str,
    group: &str,
    count: usize,
) -> Result<Vec<(String, DeadLetter)>, EventError> {
    let entries = events.range(&stream_of(stream, group), count).await?;
    entries
        .into_iter()
        .map(|(id, entry)| Ok((id, serde_json::from_value(entry.payload)?)))
        .collect()
}

/// Dead letters one replay looks at (run it again for more).
const REPLAY_AT_ONCE: usize = 10_000;

/// Appends the events of the dead letters `ids` (all of them when empty, up to 10 000) to
/// their stream again and removes those dead letters; returns how many were replayed.
pub async fn replay(
    events: &dyn EventStream,
    stream: &str,
    group: &str,
    ids: &[String],
) -> Result<usize, EventError> {
    let letters = list(events, stream, group, REPLAY_AT_ONCE).await?;
    let mut replayed = 0;
    for (id, letter) in letters {
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        events.append(&letter.stream, &letter.event).await?;
        events
            .delete(&stream_of(stream, group), std::slice::from_ref(&id))
            .await?;
        replayed += 1;
    }
    Ok(replayed)
}
