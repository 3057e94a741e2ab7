//! apollo-compiler's diagnostics as plain text. Their `Display` renders source snippets with
//! ariadne, which panics on some inputs with multi-byte characters (found by
//! `tests/hostile_input.rs`); the router never renders them that way.

use apollo_compiler::validation::DiagnosticList;

/// One line per diagnostic: its message and where it is (`at 3:14`).
pub fn plain(list: &DiagnosticList) -> String {
    let lines: Vec<String> = list
        .iter()
        .map(|diagnostic| {
            let error = diagnostic.to_json();
            match error.locations.first() {
                Some(at) => format!("{} (at {}:{})", error.message, at.line, at.column),
                None => error.message,
            }
        })
        .collect();
    lines.join("\n")
}
