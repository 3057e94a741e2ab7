//! Apollo Federation v2 router: supergraph → plan → execute → respond.

pub mod operation;
pub mod pipeline;
pub mod plan;
pub mod supergraph;
