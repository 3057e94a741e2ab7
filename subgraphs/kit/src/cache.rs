//! Read-through Redis cache (being written).
