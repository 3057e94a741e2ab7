//! What every subgraph shares: configuration, telemetry, authentication, storage, events,
//! caching and the HTTP/WebSocket server wiring.

pub mod cache;
pub mod events;
pub mod metrics;
#[cfg(feature = "testing")]
pub mod testing;
