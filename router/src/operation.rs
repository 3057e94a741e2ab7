//! Normalized operations: fragments inlined, `@skip`/`@include` applied, fields merged.
//!
//! The planner, the executor and the response shaper all work on this plain tree instead of
//! the executable document, so the same type also describes `@key`, `@requires` and
//! `@provides` selections.

use apollo_compiler::ast::{self, OperationType, Type, Value};
use apollo_compiler::executable::{self, ExecutableDocument, Operation};
use apollo_compiler::{Name, Node, Schema};
use std::fmt::Write as _;

/// One selection of a normalized selection set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Selection {
    Field(FieldSelection),
    /// An inline fragment whose type condition differs from its parent type.
    Fragment(FragmentSelection),
}

/// A field with its (already merged) sub-selections.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldSelection {
    pub alias: Option<Name>,
    pub name: Name,
    #[serde(with = "arguments_serde")]
    pub arguments: Vec<Node<ast::Argument>>,
    /// The field's declared output type (wrappers included).
    pub ty: Type,
    pub selections: Vec<Selection>,
}

/// `... on TypeCondition { selections }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FragmentSelection {
    pub type_condition: Name,
    pub selections: Vec<Selection>,
}

/// Arguments as `[name, value]` pairs: apollo-compiler's `Argument` has no serde of its own
/// (plans are stored in Redis, see [`crate::plan::cache`]).
mod arguments_serde {
    use apollo_compiler::ast::{Argument, Value};
    use apollo_compiler::{Name, Node};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(args: &[Node<Argument>], s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&Name, &Node<Value>)> = args.iter().map(|a| (&a.name, &a.value)).collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Node<Argument>>, D::Error> {
        let pairs: Vec<(Name, Node<Value>)> = Vec::deserialize(d)?;
        Ok(pairs
            .into_iter()
            .map(|(name, value)| Node::new(Argument { name, value }))
            .collect())
    }
}

impl FieldSelection {
    /// The key under which the field appears in a response.
    pub fn response_key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }

    /// A leaf copy of `__typename`.
    pub fn typename() -> Self {
        FieldSelection {
            alias: None,
            name: Name::new_static_unchecked("__typename"),
            arguments: Vec::new(),
            ty: Type::Named(Name::new_static_unchecked("String")).non_null(),
            selections: Vec::new(),
        }
    }
}

/// An operation after normalization, ready for planning and response shaping.
#[derive(Debug, Clone)]
pub struct NormalizedOperation {
    pub kind: OperationType,
    pub name: Option<Name>,
    pub root_type: Name,
    pub variables: Vec<Node<ast::VariableDefinition>>,
    pub selections: Vec<Selection>,
}

/// Errors of normalization; they only occur on inputs that validation should have rejected.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("unknown fragment `{0}`")]
    UnknownFragment(Name),
    #[error("the `if` argument of @{0} must be a Boolean")]
    BadCondition(&'static str),
}

impl NormalizeError {
    /// Stable error code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        "GRAPHQL_VALIDATION_FAILED"
    }
}

/// Normalizes `operation` of `document` with coerced `variables`.
pub fn normalize(
    schema: &Schema,
    document: &ExecutableDocument,
    operation: &Operation,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Result<NormalizedOperation, NormalizeError> {
    let ctx = Ctx {
        schema,
        document,
        variables,
    };
    let root_type = operation.selection_set.ty.clone();
    let mut selections = Vec::new();
    ctx.collect(&operation.selection_set, &root_type, &mut selections)?;
    Ok(NormalizedOperation {
        kind: operation.operation_type,
        name: operation.name.clone(),
        root_type,
        variables: operation.variables.clone(),
        selections,
    })
}

/// Converts a field set (`@key`, `@requires`, `@provides` argument) into selections.
pub fn from_field_set(schema: &Schema, set: &executable::SelectionSet) -> Vec<Selection> {
    let document = ExecutableDocument::new();
    let variables = serde_json::Map::new();
    let ctx = Ctx {
        schema,
        document: &document,
        variables: &variables,
    };
    let mut out = Vec::new();
    // Field sets contain neither spreads nor conditions, so this cannot fail.
    let _ = ctx.collect(set, &set.ty, &mut out);
    out
}

struct Ctx<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    variables: &'a serde_json::Map<String, serde_json::Value>,
}

impl Ctx<'_> {
    fn collect(
        &self,
        set: &executable::SelectionSet,
        parent: &Name,
        out: &mut Vec<Selection>,
    ) -> Result<(), NormalizeError> {
        for selection in &set.selections {
            if !self.included(selection.directives())? {
                continue;
            }
            match selection {
                executable::Selection::Field(field) => {
                    let mut children = Vec::new();
                    self.collect(&field.selection_set, &field.selection_set.ty, &mut children)?;
                    push_merged(
                        out,
                        Selection::Field(FieldSelection {
                            alias: field.alias.clone(),
                            name: field.name.clone(),
                            arguments: field.arguments.clone(),
                            ty: field.definition.ty.clone(),
                            selections: children,
                        }),
                    );
                }
                executable::Selection::InlineFragment(inline) => {
                    let condition = inline.type_condition.as_ref();
                    self.fragment(condition, &inline.selection_set, parent, out)?;
                }
                executable::Selection::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.fragment_name)
                        .ok_or_else(|| {
                            NormalizeError::UnknownFragment(spread.fragment_name.clone())
                        })?;
                    let condition = Some(fragment.type_condition());
                    self.fragment(condition, &fragment.selection_set, parent, out)?;
                }
            }
        }
        Ok(())
    }

    fn fragment(
        &self,
        condition: Option<&Name>,
        set: &executable::SelectionSet,
        parent: &Name,
        out: &mut Vec<Selection>,
    ) -> Result<(), NormalizeError> {
        let always_applies = match condition {
            None => true,
            Some(tc) => {
                tc == parent
                    || (self.schema.get_object(parent).is_some()
                        && self.schema.is_subtype(tc, parent))
            }
        };
        match condition {
            Some(tc) if !always_applies => {
                let mut children = Vec::new();
                self.collect(set, tc, &mut children)?;
                push_merged(
                    out,
                    Selection::Fragment(FragmentSelection {
                        type_condition: tc.clone(),
                        selections: children,
                    }),
                );
                Ok(())
            }
            _ => self.collect(set, parent, out),
        }
    }

    fn included(&self, directives: &executable::DirectiveList) -> Result<bool, NormalizeError> {
        for (name, expected) in [("skip", false), ("include", true)] {
            let Some(directive) = directives.get(name) else {
                continue;
            };
            let value =
                directive
                    .specified_argument_by_name("if")
                    .ok_or(NormalizeError::BadCondition(if expected {
                        "include"
                    } else {
                        "skip"
                    }))?;
            let flag = match value.as_ref() {
                Value::Boolean(flag) => *flag,
                Value::Variable(var) => self
                    .variables
                    .get(var.as_str())
                    .and_then(serde_json::Value::as_bool)
                    .ok_or(NormalizeError::BadCondition(if expected {
                        "include"
                    } else {
                        "skip"
                    }))?,
                _ => return Err(NormalizeError::BadCondition("skip")),
            };
            if flag != expected {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Names of the variables used by `@skip`/`@include` anywhere in the document, in order.
///
/// Their values are part of the plan cache key because conditions are applied at plan time.
pub fn condition_variables(document: &ExecutableDocument, operation: &Operation) -> Vec<Name> {
    let mut names = Vec::new();
    let mut visit = |set: &executable::SelectionSet| collect_conditions(set, &mut names);
    visit(&operation.selection_set);
    for fragment in document.fragments.values() {
        visit(&fragment.selection_set);
    }
    names
}

fn collect_conditions(set: &executable::SelectionSet, names: &mut Vec<Name>) {
    for selection in &set.selections {
        for name in ["skip", "include"] {
            let var = selection
                .directives()
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .and_then(|v| v.as_variable().cloned());
            if let Some(var) = var {
                if !names.contains(&var) {
                    names.push(var);
                }
            }
        }
        match selection {
            executable::Selection::Field(f) => collect_conditions(&f.selection_set, names),
            executable::Selection::InlineFragment(f) => collect_conditions(&f.selection_set, names),
            executable::Selection::FragmentSpread(_) => {}
        }
    }
}

/// Adds `selection` to `target`, merging it with a field of the same response key, or with
/// a fragment of the same type condition when that is the last selection: merging into an
/// earlier one would move its fields before the selections between them, and response
/// fields come in the order CollectFields first meets them. A fragment equal to one already
/// there is dropped.
pub fn push_merged(target: &mut Vec<Selection>, selection: Selection) {
    // A fragment equal to an earlier one adds nothing (its fields were collected there,
    // first); kept, it would make the subgraph resolve every entity once more per copy, as
    // when one entity fetch serves many paths that select alike.
    if matches!(selection, Selection::Fragment(_)) && target.contains(&selection) {
        return;
    }
    let existing = match &selection {
        Selection::Field(b) => target.iter_mut().find(|s| match s {
            Selection::Field(a) => a.response_key() == b.response_key(),
            Selection::Fragment(_) => false,
        }),
        Selection::Fragment(b) => target.last_mut().filter(
            |s| matches!(s, Selection::Fragment(a) if a.type_condition == b.type_condition),
        ),
    };
    let (Some(existing), children) = (existing, selection_children(&selection)) else {
        target.push(selection);
        return;
    };
    let into = match existing {
        Selection::Field(f) => &mut f.selections,
        Selection::Fragment(f) => &mut f.selections,
    };
    for child in children {
        push_merged(into, child.clone());
    }
}

/// Merges every selection of `from` into `target`.
pub fn merge_all(target: &mut Vec<Selection>, from: Vec<Selection>) {
    for selection in from {
        push_merged(target, selection);
    }
}

fn selection_children(selection: &Selection) -> &[Selection] {
    match selection {
        Selection::Field(f) => &f.selections,
        Selection::Fragment(f) => &f.selections,
    }
}

/// Prints selections as GraphQL text: `{ a b: c(x: $y) { d } ... on T { e } }`.
pub fn print_selections(out: &mut String, selections: &[Selection]) {
    out.push('{');
    for selection in selections {
        out.push(' ');
        match selection {
            Selection::Field(field) => print_field(out, field),
            Selection::Fragment(fragment) => {
                let _ = write!(out, "... on {} ", fragment.type_condition);
                print_selections(out, &fragment.selections);
            }
        }
    }
    out.push_str(" }");
}

fn print_field(out: &mut String, field: &FieldSelection) {
    if let Some(alias) = &field.alias {
        let _ = write!(out, "{alias}: ");
    }
    out.push_str(&field.name);
    if !field.arguments.is_empty() {
        out.push('(');
        for (i, arg) in field.arguments.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}: {}", arg.name, arg.value);
        }
        out.push(')');
    }
    if !field.selections.is_empty() {
        out.push(' ');
        print_selections(out, &field.selections);
    }
}

/// Collects the names of variables referenced by arguments in `selections`.
pub fn variable_usages(selections: &[Selection], out: &mut Vec<Name>) {
    for selection in selections {
        match selection {
            Selection::Field(field) => {
                for arg in &field.arguments {
                    value_variables(&arg.value, out);
                }
                variable_usages(&field.selections, out);
            }
            Selection::Fragment(fragment) => variable_usages(&fragment.selections, out),
        }
    }
}

fn value_variables(value: &Value, out: &mut Vec<Name>) {
    match value {
        Value::Variable(name) if !out.contains(name) => out.push(name.clone()),
        Value::List(items) => items.iter().for_each(|v| value_variables(v, out)),
        Value::Object(fields) => fields.iter().for_each(|(_, v)| value_variables(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(on: &str, field: &str) -> Selection {
        let mut leaf = FieldSelection::typename();
        leaf.name = Name::new(field).expect("a name");
        Selection::Fragment(FragmentSelection {
            type_condition: Name::new(on).expect("a name"),
            selections: vec![Selection::Field(leaf)],
        })
    }

    #[test]
    fn an_equal_fragment_is_selected_once_even_when_not_adjacent() {
        // One entity fetch serving paths that alternate between two types (the benchmark's
        // aliased roots): equal fragments would make the subgraph resolve each entity again.
        let mut target = Vec::new();
        let from = [
            ("User", "a"),
            ("Product", "b"),
            ("User", "a"),
            ("Product", "b"),
        ];
        merge_all(&mut target, from.map(|(on, f)| fragment(on, f)).to_vec());
        assert_eq!(
            target,
            vec![fragment("User", "a"), fragment("Product", "b")]
        );
        // Fragments that differ stay, in order: merging `User { c }` into the first one would
        // move `c` before `Product`'s fields.
        push_merged(&mut target, fragment("User", "c"));
        assert_eq!(target.len(), 3);
    }
}
