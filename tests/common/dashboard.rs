//! The metrics the provisioned Grafana dashboard queries, read from its JSON model. Used by
//! tests/deploy_files.rs (the names are ones the code defines) and by the end-to-end tests
//! (the running router and subgraphs export every one of them).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The dashboard Grafana provisions in docker-compose.yml, relative to the repository root.
pub const DASHBOARD: &str = "deploy/compose/grafana/dashboards/platform.json";

/// The dashboard's JSON model.
pub fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DASHBOARD);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every PromQL expression of the dashboard: the panels' targets (rows included) and the
/// template variables' queries.
pub fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_targets(&dashboard["panels"], &mut out);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = &variable["query"];
        if let Some(query) = query.as_str().or(query["query"].as_str()) {
            out.push(query.to_owned());
        }
    }
    out
}

fn collect_targets(panels: &Value, out: &mut Vec<String>) {
    for panel in panels.as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(expr.to_owned());
            }
        }
        // A collapsed row holds its panels.
        collect_targets(&panel["panels"], out);
    }
}

/// Metric names (identifiers starting with `platform_`) an expression selects, as they appear
/// in the exposition: `platform_router_requests_total`, `..._duration_seconds_bucket`.
/// Quoted strings (label values, regexes) are skipped.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '"' | '\'' | '`') {
            let mut escaped = false;
            for d in chars.by_ref() {
                if d == c && !escaped {
                    break;
                }
                escaped = d == '\\' && !escaped;
            }
        } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '$' {
            let mut word = String::from(c);
            while let Some(&d) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || d == '_' || d == ':') {
                    break;
                }
                word.push(d);
                chars.next();
            }
            if word.starts_with("platform_") {
                names.insert(word);
            }
        }
    }
    names
}

/// Every metric name the dashboard queries, as exported (see [`metric_names`]).
pub fn dashboard_metrics() -> BTreeSet<String> {
    expressions(&dashboard())
        .iter()
        .map(String::as_str)
        .flat_map(metric_names)
        .collect()
}
