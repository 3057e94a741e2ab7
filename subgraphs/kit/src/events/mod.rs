//! Live fan-out and durable domain events (being written).
