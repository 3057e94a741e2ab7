//! Values of `router serve` flags and config keys that need parsing: durations
//! (`500ms`, `2s`, `1m`) and per-subgraph timeouts (`inventory=500ms`).

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

/// `--subgraph-timeout` values as config keys (for [`crate::config::load`]'s flag layer),
/// later values winning.
pub fn timeout_flags(
    flags: &mut serde_json::Map<String, serde_json::Value>,
    timeouts: &[SubgraphTimeout],
) {
    for timeout in timeouts {
        let (key, duration) = match timeout {
            SubgraphTimeout::Default(duration) => ("traffic.subgraph_timeout".to_owned(), duration),
            SubgraphTimeout::Subgraph(name, duration) => {
                (format!("traffic.subgraph_timeouts.{name}"), duration)
            }
        };
        flags.insert(key, format_duration(*duration).into());
    }
}

/// A duration as the config writes it: the largest of `m`, `s`, `ms` that is exact.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Serde for a duration key (`"500ms"`, `"2s"`, `"1m"`; longer than zero).
pub mod duration {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
        parse_duration(&String::deserialize(de)?).map_err(serde::de::Error::custom)
    }
}

/// Serde for a duration key where `"0s"` means "off".
pub mod duration_or_zero {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(de)?;
        if text.trim().trim_end_matches(['m', 's']) == "0" {
            return Ok(Duration::ZERO);
        }
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for a table of subgraph name → duration.
pub mod duration_map {
    use super::*;
    use serde::ser::SerializeMap;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &HashMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(value.len()))?;
        for (name, duration) in value {
            map.serialize_entry(name, &format_duration(*duration))?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<HashMap<String, Duration>, D::Error> {
        HashMap::<String, String>::deserialize(de)?
            .into_iter()
            .map(|(name, text)| {
                let duration = parse_duration(&text).map_err(|e| format!("{name}: {e}"))?;
                Ok((name, duration))
            })
            .collect::<Result<_, String>>()
            .map_err(serde::de::Error::custom)
    }
}
