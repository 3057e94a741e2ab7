//! What drives and observes the routers: child processes, the load generator, the answer
//! check and the printed tables.

pub mod answers;
pub mod load;
pub mod process;

/// Prints a Markdown table (pasteable into the README) with columns padded to fit.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c).map(|cell| cell.chars().count()))
                .chain([headers[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(headers.to_vec());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, w)| {
            if c < 2 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    line(rule.iter().map(String::as_str).collect());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    println!();
}

/// `value` with `decimals`, or `?` when unknown.
pub fn fmt(value: Option<f64>, decimals: usize) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or("?".into(), |v| format!("{v:.decimals$}"))
}

/// KiB as MiB with one decimal, or `?`.
pub fn mib(kib: Option<u64>) -> String {
    fmt(kib.map(|k| k as f64 / 1024.0), 1)
}

/// `ours / hive` as `0.00x`, or `-` when either is unknown or zero.
pub fn ratio(ours: Option<f64>, hive: Option<f64>) -> String {
    match (ours, hive) {
        (Some(o), Some(h)) if h != 0.0 && o.is_finite() && h.is_finite() => {
            format!("{:.2}x", o / h)
        }
        _ => "-".into(),
    }
}
