//! `messageAdded`: a room's messages in storage (sequence) order, with no gaps, across replicas.
//!
//! Pub/sub only says "something happened in this room"; the messages themselves are always
//! read from the store by sequence number, so what a subscriber sees is exactly the history
//! order whichever replica stored a message and in whatever order notifications arrive.
//! When message `n + 1` is stored but `n` is not yet (its sender allocated `n` first but is
//! still inserting it), the subscriber waits for `n`. After [`GAP_TIMEOUT`] it stores a
//! tombstone under `n` (the unique `(roomId, seq)` index decides): if that succeeds the number
//! is skipped for good, and a sender that was merely slow gets a duplicate error and re-sends
//! under a new number, so history never holds a message a subscriber skipped; if it fails, the
//! message has just arrived and is delivered. A lost notification is made up for by a periodic
//! poll, which also re-checks membership, so a member removed from the room gets a `FORBIDDEN`
//! error and the subscription ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use kit::store::{Filter, FindOptions, Order};
use kit::{ApiError, ApiResult};
use tokio::sync::mpsc;

use crate::model::MessageDoc;
use crate::service::{room_channel, ChatService};

/// How long a sequence number may stay missing behind stored later ones before it is claimed
/// by a tombstone and skipped.
pub const GAP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an idle subscription polls the store and re-checks membership.
const POLL: Duration = Duration::from_secs(2);
/// How often a subscription waiting for a missing sequence number looks again.
const GAP_POLL: Duration = Duration::from_millis(25);
/// Messages read from the store per catch-up query.
const BATCH: u64 = 200;
/// Messages buffered for a slow client before the follower waits for it.
const BUFFER: usize = 256;

/// The live stream of `room_id` for `user_id`, starting after the newest stored message.
/// Fails at once with `NOT_FOUND`/`FORBIDDEN` when the caller may not read the room.
pub async fn follow(
    service: Arc<ChatService>,
    user_id: &str,
    room_id: &str,
) -> ApiResult<impl Stream<Item = ApiResult<MessageDoc>>> {
    // Subscribe before reading the position, so nothing stored in between is missed.
    let notifications = service
        .pubsub
        .subscribe(&room_channel(room_id))
        .await
        .map_err(ApiError::internal)?;
    let room = service.room_for_member(user_id, room_id).await?;
    let (tx, rx) = mpsc::channel(BUFFER);
    let registration = Registration::new(&service, &room.id);
    let follower = Follower {
        _registration: registration,
        service,
        user_id: user_id.to_owned(),
        room_id: room.id,
        next_seq: room.last_seq + 1,
        gap_since: None,
        tx,
    };
    tokio::spawn(follower.run(notifications));
    Ok(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Counts a live subscription in [`ChatService::live_subscriptions`] while it exists.
struct Registration {
    followers: Arc<Mutex<HashMap<String, usize>>>,
    room_id: String,
}

impl Registration {
    fn new(service: &ChatService, room_id: &str) -> Self {
        let followers = service.followers.clone();
        *lock(&followers).entry(room_id.to_owned()).or_default() += 1;
        Self {
            followers,
            room_id: room_id.to_owned(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut followers = lock(&self.followers);
        if let Some(count) = followers.get_mut(&self.room_id) {
            *count -= 1;
            if *count == 0 {
                followers.remove(&self.room_id);
            }
        }
    }
}

/// A poisoned counter map is still a usable counter map.
fn lock(map: &Mutex<HashMap<String, usize>>) -> MutexGuard<'_, HashMap<String, usize>> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

struct Follower {
    _registration: Registration,
    service: Arc<ChatService>,
    user_id: String,
    room_id: String,
    /// The next sequence number to deliver.
    next_seq: i64,
    /// Since when `next_seq` has been missing while a later message exists.
    gap_since: Option<Instant>,
    tx: mpsc::Sender<ApiResult<MessageDoc>>,
}

enum Wake {
    Closed,
    Notified { members: bool },
    Tick,
}

impl Follower {
    async fn run(mut self, mut notifications: BoxStream<'static, String>) {
        loop {
            let wait = if self.gap_since.is_some() {
                GAP_POLL
            } else {
                POLL
            };
            let wake = tokio::select! {
                () = self.tx.closed() => Wake::Closed,
                next = notifications.next() => match next {
                    Some(payload) => Wake::Notified { members: drain(&mut notifications, payload) },
                    None => {
                        // Pub/sub is gone (e.g. Redis down): keep going on polls alone.
                        notifications = futures::stream::pending().boxed();
                        Wake::Tick
                    }
                },
                () = tokio::time::sleep(wait) => Wake::Tick,
            };
            let check_members = match wake {
                Wake::Closed => return,
                Wake::Notified { members } => members,
                Wake::Tick => self.gap_since.is_none(),
            };
            if let Err(error) = self.step(check_members).await {
                // The client gets the reason, then the subscription completes.
                let _ = self.tx.send(Err(error)).await;
                return;
            }
        }
    }

    async fn step(&mut self, check_members: bool) -> ApiResult<()> {
        if check_members {
            self.service
                .room_for_member(&self.user_id, &self.room_id)
                .await?;
        }
        self.catch_up().await
    }

    /// Delivers stored messages from `next_seq` on, in order, up to the first gap that has
    /// not timed out yet.
    async fn catch_up(&mut self) -> ApiResult<()> {
        'query: loop {
            let filter =
                Filter::eq("roomId", self.room_id.as_str()).and(Filter::gte("seq", self.next_seq));
            let options = FindOptions::default().sort("seq", Order::Asc).limit(BATCH);
            let batch = self.service.messages.find(&filter, &options).await?;
            let full = batch.len() as u64 == BATCH;
            if batch.is_empty() {
                self.gap_since = None;
                return Ok(());
            }
            for message in batch {
                if message.seq > self.next_seq {
                    if !self.gap_timed_out() {
                        return Ok(());
                    }
                    if !self.claim_missing(message.seq).await? {
                        continue 'query; // a missing message arrived after all
                    }
                }
                self.next_seq = message.seq + 1;
                self.gap_since = None;
                if !message.deleted && self.tx.send(Ok(message)).await.is_err() {
                    return Ok(()); // the client left; `run` notices
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Whether `next_seq` has been missing (behind a stored later message) for too long.
    fn gap_timed_out(&mut self) -> bool {
        match self.gap_since {
            Some(since) => since.elapsed() >= GAP_TIMEOUT,
            None => {
                self.gap_since = Some(Instant::now());
                false
            }
        }
    }

    /// Tombstones the missing numbers `next_seq..until`; false as soon as one turns out to be
    /// taken by a message, which must then be delivered first.
    async fn claim_missing(&self, until: i64) -> ApiResult<bool> {
        for seq in self.next_seq..until {
            if !self.service.tombstone(&self.room_id, seq).await? {
                return Ok(false);
            }
        }
        tracing::warn!(room = %self.room_id, from = self.next_seq, until, "skipped sequence numbers whose messages were never stored");
        Ok(true)
    }
}

/// Consumes notifications that are already waiting (one store read serves them all); true
/// when any of them was a membership change.
fn drain(notifications: &mut BoxStream<'static, String>, first: String) -> bool {
    let mut members = is_membership(&first);
    while let Some(Some(payload)) = notifications.next().now_or_never() {
        members |= is_membership(&payload);
    }
    members
}

fn is_membership(payload: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(payload).is_ok_and(|v| v.get("members").is_some())
}
