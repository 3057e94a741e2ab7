//! Values of `router serve` flags and `--config` keys that need parsing: durations
//! (`500ms`, `2s`, `1m`) and per-subgraph timeouts (`inventory=500ms`).

use crate::ExecutionSettings;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::time::Duration;

/// One `--subgraph-timeout` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubgraphTimeout {
    /// `<duration>`: the default for every subgraph.
    Default(Duration),
    /// `<subgraph>=<duration>`: one subgraph's own timeout.
    Subgraph(String, Duration),
}

/// Parses a duration: a whole number with the unit `ms`, `s` or `m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let invalid = || {
        format!(
            "invalid duration {text:?}: expected a whole number with ms, s or m (e.g. 500ms, 2s)"
        )
    };
    let value: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        _ => return Err(invalid()),
    };
    if duration.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: a timeout must be longer than 0"
        ));
    }
    Ok(duration)
}

/// Parses a `--subgraph-timeout` value: `<duration>` or `<subgraph>=<duration>`.
pub fn parse_subgraph_timeout(text: &str) -> Result<SubgraphTimeout, String> {
    match text.split_once('=') {
        Some((name, duration)) => {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!(
                    "{text:?}: expected <subgraph>=<duration>, the subgraph name is empty"
                ));
            }
            Ok(SubgraphTimeout::Subgraph(
                name.to_owned(),
                parse_duration(duration)?,
            ))
        }
        None => Ok(SubgraphTimeout::Default(parse_duration(text)?)),
    }
}

/// Applies `--subgraph-timeout` values over `settings`, later values winning.
pub fn apply_timeouts(settings: &mut ExecutionSettings, timeouts: &[SubgraphTimeout]) {
    for timeout in timeouts {
        match timeout {
            SubgraphTimeout::Default(duration) => settings.subgraph_timeout = *duration,
            SubgraphTimeout::Subgraph(name, duration) => {
                settings.subgraph_timeouts.insert(name.clone(), *duration);
            }
        }
    }
}

/// Serde: an optional duration string.
pub fn de_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(de)?
        .map(|text| parse_duration(&text))
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Serde: a table of subgraph name → duration string.
pub fn de_durations<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<HashMap<String, Duration>, D::Error> {
    HashMap::<String, String>::deserialize(de)?
        .into_iter()
        .map(|(name, text)| {
            let duration =
                parse_duration(&text).map_err(|e| format!("subgraph_timeouts.{name}: {e}"))?;
            Ok((name, duration))
        })
        .collect::<Result<_, String>>()
        .map_err(serde::de::Error::custom)
}
