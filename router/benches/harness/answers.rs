//! Checks that the routers answer an operation alike before any of them is timed.

use super::load::Connection;
use super::process::RouterProcess;
use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

/// The JSON body of a GraphQL request for `query`.
pub fn request_body(query: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "query": query }).to_string())
}

/// One answer from each router, checked: each has `data` and no `errors`, and all agree
/// (byte for byte, else as JSON). A disagreement fails unless BENCH_ALLOW_MISMATCH=1, since
/// timing a router that answers wrongly measures nothing useful.
pub async fn agree(
    routers: &[RouterProcess],
    body: &Bytes,
    what: &str,
) -> anyhow::Result<Vec<Bytes>> {
    let auth = HeaderValue::from_static("Bearer bench-check");
    let mut answers = Vec::new();
    for router in routers {
        let answer = Connection::open(&router.url)
            .await?
            .post(body.clone(), &auth)
            .await?;
        let json: Value = serde_json::from_slice(&answer)?;
        if let Some(problem) = problem(&json) {
            anyhow::bail!("{} answered {what} with {problem}", router.kind.label());
        }
        answers.push(answer);
    }
    let Some(first) = answers.first() else {
        return Ok(answers);
    };
    for (router, answer) in routers.iter().zip(&answers).skip(1) {
        let verdict = compare(first, answer)?;
        println!(
            "{what}: {} vs {}: {verdict}",
            routers[0].kind.label(),
            router.kind.label()
        );
        if verdict.starts_with("DIFFERENT") && !allow_mismatch() {
            anyhow::bail!(
                "the routers disagree on {what} (BENCH_ALLOW_MISMATCH=1 to time them anyway)"
            );
        }
    }
    Ok(answers)
}

fn allow_mismatch() -> bool {
    std::env::var("BENCH_ALLOW_MISMATCH").is_ok_and(|v| v == "1")
}

/// What is wrong with a response on its own: errors, or no data.
pub fn problem(json: &Value) -> Option<String> {
    if let Some(errors) = json.get("errors") {
        let first = errors.get(0).map(Value::to_string).unwrap_or_default();
        return Some(format!("errors (first: {first})"));
    }
    match json.get("data") {
        None | Some(Value::Null) => Some("no data".into()),
        Some(_) => None,
    }
}

/// `byte-identical`, `JSON-equal (...)`, or `DIFFERENT at <path>: <a> vs <b>`.
pub fn compare(a: &Bytes, b: &Bytes) -> anyhow::Result<String> {
    if a == b {
        return Ok(format!("byte-identical ({} bytes)", a.len()));
    }
    let (ja, jb): (Value, Value) = (serde_json::from_slice(a)?, serde_json::from_slice(b)?);
    if let Some(diff) = first_difference(&ja, &jb, "") {
        return Ok(format!("DIFFERENT at {diff}"));
    }
    // `Value`'s equality ignores key order; the printed form does not.
    let same_order = serde_json::to_vec(&ja)? == serde_json::to_vec(&jb)?;
    Ok(format!(
        "JSON-equal ({} vs {} bytes; {})",
        a.len(),
        b.len(),
        if same_order {
            "formatting differs"
        } else {
            "key order differs"
        }
    ))
}

/// The first path where `a` and `b` differ (object key order ignored), with both values.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let brief = |v: &Value| {
        let text = v.to_string();
        text.chars().take(120).collect::<String>()
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.map(|k| (k, x.get(k), y.get(k))).find_map(|(k, u, v)| {
                let here = format!("{path}.{k}");
                match (u, v) {
                    (Some(u), Some(v)) => first_difference(u, v, &here),
                    (u, v) => Some(format!("{here}: {u:?} vs {v:?}")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!(
            "{}: {} vs {}",
            if path.is_empty() { "." } else { path },
            brief(a),
            brief(b)
        )),
    }
}
