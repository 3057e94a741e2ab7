//! What every subgraph shares: configuration, telemetry, authentication, storage, events,
//! caching and the HTTP/WebSocket server wiring.

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod federation;
pub mod identity;
pub mod infra;
pub mod lifecycle;
pub mod metrics;
pub mod outbox;
pub mod server;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod test_client;
#[cfg(feature = "testing")]
pub mod test_process;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ApiResult};
pub use identity::Caller;
pub use infra::Infra;
