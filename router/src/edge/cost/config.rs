//! `[demand_control]` configuration: whether operations are estimated, and what happens to
//! those over the maximum.

use super::CostError;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `[demand_control]`: every operation's estimated cost, compared with `max_cost` before any
/// subgraph is called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemandControlConfig {
    /// Estimate the cost of every operation.
    pub enabled: bool,
    /// `enforce` refuses an operation estimated above `max_cost` with
    /// `COST_ESTIMATED_TOO_EXPENSIVE`; `measure` only computes (and exposes) the estimate.
    pub mode: DemandControlMode,
    /// The highest estimated cost accepted.
    pub max_cost: f64,
    /// The assumed length of a list field without `@listSize` (or whose `@listSize` gives
    /// neither a slicing argument nor `assumedSize`).
    pub list_size: u32,
    /// Add `extensions.cost` (`estimated`, `max`) to every response.
    pub expose_estimate: bool,
}

/// What happens to an operation estimated above `max_cost`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandControlMode {
    /// Refuse it before any subgraph is called.
    #[default]
    Enforce,
    /// Let it run; the estimate is only reported.
    Measure,
}

impl Default for DemandControlConfig {
    /// `max_cost` 5,000: the platform's heaviest page costs under a quarter of it (a board with
    /// its members, a full 100-task page with assignees and creators, and its room's last 50
    /// messages with authors and mentions: 1,075; see the tests), while pages nested in a list
    /// (`myBoards { tasks(first: 100) { … } }`: about 25,000) or a `first: 1000` are refused.
    /// `list_size` 10 is the value Apollo's docs configure (Apollo requires one, no default).
    fn default() -> Self {
        DemandControlConfig {
            enabled: true,
            mode: DemandControlMode::Enforce,
            max_cost: 5_000.0,
            list_size: 10,
            expose_estimate: false,
        }
    }
}

impl DemandControlConfig {
    /// Refuses `estimated` when enforcing and it is above `max_cost`.
    pub fn check(&self, estimated: f64) -> Result<(), CostError> {
        let enforced = self.enabled && self.mode == DemandControlMode::Enforce;
        if enforced && estimated > self.max_cost {
            return Err(CostError::TooExpensive {
                estimated,
                max: self.max_cost,
            });
        }
        Ok(())
    }

    /// The value of `extensions.cost` when `expose_estimate` is on.
    pub fn extension(&self, estimated: f64) -> serde_json::Value {
        json!({ "estimated": estimated, "max": self.max_cost })
    }
}
