//! Operation limits: measured once per parsed document (the document cache keeps the
//! measurement), compared with the configured maximums before anything is planned.
//!
//! Named fragments are measured once each and reused wherever they are spread, so a
//! "fragment bomb" (fragments spreading fragments many times over) costs linear time to
//! measure while its expanded size still counts in full (saturating, never overflowing).

use apollo_compiler::executable::{ExecutableDocument, Operation, Selection, SelectionSet};
use apollo_compiler::Name;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `[limits]`: each maximum is inclusive; an operation over any of them is refused with
/// HTTP 400 and that limit's code before planning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Deepest field nesting (a root field is depth 1). `MAX_DEPTH_LIMIT`.
    pub max_depth: usize,
    /// Fields in total, fragments expanded where they are spread. `MAX_HEIGHT_LIMIT`.
    pub max_height: usize,
    /// Aliased fields, fragments expanded. `MAX_ALIASES_LIMIT`.
    pub max_aliases: usize,
    /// Fields of the root selection set, fragments expanded. `MAX_ROOT_FIELDS_LIMIT`.
    pub max_root_fields: usize,
    /// Directives on any one field, fragment or operation. `MAX_DIRECTIVES_LIMIT`.
    pub max_directives: usize,
    /// Lexical tokens of the document; the parser stops at the limit, so a huge document
    /// costs almost nothing to refuse. `MAX_TOKENS_LIMIT`.
    pub max_tokens: usize,
    /// Bytes of the operation text. `DOCUMENT_TOO_LARGE`.
    pub max_document_bytes: usize,
    /// Bytes of a request body (HTTP 413 `REQUEST_BODY_TOO_LARGE`) and of a WebSocket message.
    pub max_body_bytes: usize,
}

impl Default for LimitsConfig {
    /// Generous for the platform's clients and GraphiQL's introspection query (depth 13,
    /// about 1,400 tokens), tight enough that a 2,000-alias or 200-deep query is refused.
    fn default() -> Self {
        LimitsConfig {
            max_depth: 20,
            max_height: 400,
            max_aliases: 30,
            max_root_fields: 20,
            max_directives: 10,
            max_tokens: 15_000,
            max_document_bytes: 64 * 1024,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// What the limits are compared with, for one operation of a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    pub depth: usize,
    pub height: usize,
    pub aliases: usize,
    pub root_fields: usize,
    pub directives: usize,
}

/// A limit an operation exceeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the operation is {actual} fields deep; at most {max} are allowed")]
    Depth { actual: usize, max: usize },
    #[error("the operation selects {actual} fields; at most {max} are allowed")]
    Height { actual: usize, max: usize },
    #[error("the operation has {actual} aliases; at most {max} are allowed")]
    Aliases { actual: usize, max: usize },
    #[error("the operation has {actual} root fields; at most {max} are allowed")]
    RootFields { actual: usize, max: usize },
    #[error("{actual} directives at one location; at most {max} are allowed")]
    Directives { actual: usize, max: usize },
    #[error("the document has more than {max} tokens")]
    Tokens { max: usize },
    #[error("the document is {actual} bytes; at most {max} are allowed")]
    DocumentSize { actual: usize, max: usize },
}

impl LimitError {
    /// Stable error code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::Depth { .. } => "MAX_DEPTH_LIMIT",
            LimitError::Height { .. } => "MAX_HEIGHT_LIMIT",
            LimitError::Aliases { .. } => "MAX_ALIASES_LIMIT",
            LimitError::RootFields { .. } => "MAX_ROOT_FIELDS_LIMIT",
            LimitError::Directives { .. } => "MAX_DIRECTIVES_LIMIT",
            LimitError::Tokens { .. } => "MAX_TOKENS_LIMIT",
            LimitError::DocumentSize { .. } => "DOCUMENT_TOO_LARGE",
        }
    }
}

impl LimitsConfig {
    /// The first limit `measure` exceeds.
    pub fn check(&self, measure: &Measure) -> Result<(), LimitError> {
        let over = |actual: usize, max: usize| actual > max;
        if over(measure.depth, self.max_depth) {
            return Err(LimitError::Depth {
                actual: measure.depth,
                max: self.max_depth,
            });
        }
        if over(measure.height, self.max_height) {
            return Err(LimitError::Height {
                actual: measure.height,
                max: self.max_height,
            });
        }
        if over(measure.aliases, self.max_aliases) {
            return Err(LimitError::Aliases {
                actual: measure.aliases,
                max: self.max_aliases,
            });
        }
        if over(measure.root_fields, self.max_root_fields) {
            return Err(LimitError::RootFields {
                actual: measure.root_fields,
                max: self.max_root_fields,
            });
        }
        if over(measure.directives, self.max_directives) {
            return Err(LimitError::Directives {
                actual: measure.directives,
                max: self.max_directives,
            });
        }
        Ok(())
    }

    /// The document size limit, checked before parsing.
    pub fn check_size(&self, document: &str) -> Result<(), LimitError> {
        if document.len() > self.max_document_bytes {
            return Err(LimitError::DocumentSize {
                actual: document.len(),
                max: self.max_document_bytes,
            });
        }
        Ok(())
    }
}

/// Measures `operation` of a validated document (validation rules out fragment cycles).
pub fn measure(document: &ExecutableDocument, operation: &Operation) -> Measure {
    let mut fragments = HashMap::new();
    let set = measure_set(document, &operation.selection_set, &mut fragments);
    Measure {
        depth: set.depth,
        height: set.height,
        aliases: set.aliases,
        root_fields: set.top,
        directives: set.directives.max(operation.directives.len()),
    }
}

/// A selection set's measure; `top` counts its own fields (fragments expanded).
#[derive(Debug, Clone, Copy, Default)]
struct SetMeasure {
    depth: usize,
    height: usize,
    aliases: usize,
    top: usize,
    directives: usize,
}

impl SetMeasure {
    fn add(&mut self, other: SetMeasure) {
        self.depth = self.depth.max(other.depth);
        self.height = self.height.saturating_add(other.height);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.top = self.top.saturating_add(other.top);
        self.directives = self.directives.max(other.directives);
    }
}

fn measure_set(
    document: &ExecutableDocument,
    set: &SelectionSet,
    fragments: &mut HashMap<Name, SetMeasure>,
) -> SetMeasure {
    let mut total = SetMeasure::default();
    for selection in &set.selections {
        let part = match selection {
            Selection::Field(field) => {
                let inner = measure_set(document, &field.selection_set, fragments);
                SetMeasure {
                    depth: inner.depth.saturating_add(1),
                    height: inner.height.saturating_add(1),
                    aliases: inner
                        .aliases
                        .saturating_add(usize::from(field.alias.is_some())),
                    top: 1,
                    directives: inner.directives.max(field.directives.len()),
                }
            }
            Selection::InlineFragment(inline) => {
                let mut inner = measure_set(document, &inline.selection_set, fragments);
                inner.directives = inner.directives.max(inline.directives.len());
                inner
            }
            Selection::FragmentSpread(spread) => {
                let mut inner = fragment(document, &spread.fragment_name, fragments);
                inner.directives = inner.directives.max(spread.directives.len());
                inner
            }
        };
        total.add(part);
    }
    total
}

fn fragment(
    document: &ExecutableDocument,
    name: &Name,
    fragments: &mut HashMap<Name, SetMeasure>,
) -> SetMeasure {
    if let Some(known) = fragments.get(name) {
        return *known;
    }
    // Insert a zero first: a cycle (which validation refuses) could then not recurse forever.
    fragments.insert(name.clone(), SetMeasure::default());
    let measured = match document.fragments.get(name) {
        Some(definition) => {
            let mut inner = measure_set(document, &definition.selection_set, fragments);
            inner.directives = inner.directives.max(definition.directives.len());
            inner
        }
        None => SetMeasure::default(),
    };
    fragments.insert(name.clone(), measured);
    measured
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::Schema;

    const SCHEMA: &str = "type Query { me: User, users: [User] } type User { id: ID, name: String, friends: [User] }";

    fn measured(query: &str) -> Measure {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql").expect("schema");
        let doc = ExecutableDocument::parse_and_validate(&schema, query, "q.graphql")
            .expect("valid query");
        let op = doc.operations.get(None).expect("one operation");
        measure(&doc, op)
    }

    #[test]
    fn fields_depth_aliases_and_roots() {
        let m = measured("{ me { id friends { name } } a: users { id } b: users { id } }");
        assert_eq!(
            m,
            Measure {
                depth: 3,
                height: 8,
                aliases: 2,
                root_fields: 3,
                directives: 0,
            }
        );
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let m = measured(
            "query { me { ...F ...F } ... on Query { users { ...F } } } fragment F on User { id x: name }",
        );
        assert_eq!(m.height, 2 + 6);
        assert_eq!(m.aliases, 3);
        assert_eq!(m.root_fields, 2);
        assert_eq!(m.depth, 2);
    }

    #[test]
    fn a_fragment_bomb_saturates_quickly() {
        let mut query = String::from("{ me { ...F0 } }\n");
        for i in 0..40 {
            let next = i + 1;
            query.push_str(&format!(
                "fragment F{i} on User {{ friends {{ ...F{next} }} friends {{ ...F{next} }} }}\n"
            ));
        }
        query.push_str("fragment F40 on User { id }\n");
        let m = measured(&query);
        assert!(m.height > 1 << 40, "{m:?}");
        assert_eq!(m.depth, 42);
    }

    #[test]
    fn directives_are_counted_per_location() {
        let m = measured("query($s: Boolean!) { me @skip(if: $s) @include(if: true) { id } }");
        assert_eq!(m.directives, 2);
    }

    #[test]
    fn the_first_limit_over_is_reported_with_its_code() {
        let limits = LimitsConfig {
            max_aliases: 1,
            ..LimitsConfig::default()
        };
        let m = measured("{ a: me { id } b: me { id } }");
        let err = limits.check(&m).expect_err("two aliases");
        assert_eq!(err.code(), "MAX_ALIASES_LIMIT");
        assert!(LimitsConfig::default().check(&m).is_ok());
        assert_eq!(
            limits.check_size(&"x".repeat(70_000)).map_err(|e| e.code()),
            Err("DOCUMENT_TOO_LARGE")
        );
    }
}
