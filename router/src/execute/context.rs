//! Requests for entity fetches with `@fromContext` arguments. Entities whose context values
//! differ cannot share one `$contextualArgument` variable, so they are grouped by value set;
//! each group becomes one aliased `_entities` field of the same request (as Apollo Router
//! does), keeping one request per subgraph per plan step.

use super::doc::{self, Doc, NodeId};
use super::entities::Representations;
use crate::operation::{print_selections, FieldSelection, Selection};
use crate::plan::{ContextFetch, ContextRewrite};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::Value as GqlValue;
use apollo_compiler::{Name, Node};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// A request for a context fetch.
pub(super) struct ContextRequest {
    /// `None`: the plan's own operation.
    pub operation: Option<String>,
    pub variables: Map<String, Value>,
    /// Per aliased `_entities` field, in order, how many representations it carries; empty
    /// when every entity had the same values and the plan's own operation is sent.
    pub batches: Vec<(String, usize)>,
    /// The representation index of each entity in the request, in request order.
    pub order: Vec<usize>,
}

/// Groups `reps` by context values (each group contiguous in the request) and builds the
/// request; `variables` holds the client variables the fetch uses.
pub(super) fn request(
    context: &ContextFetch,
    reps: &Representations<'_>,
    mut variables: Map<String, Value>,
) -> ContextRequest {
    let mut distinct: Vec<&Vec<Value>> = Vec::new();
    let batch_of: Vec<usize> = reps
        .contexts
        .iter()
        .map(|values| match distinct.iter().position(|d| *d == values) {
            Some(i) => i,
            None => {
                distinct.push(values);
                distinct.len() - 1
            }
        })
        .collect();
    let distinct: Vec<Vec<Value>> = distinct.into_iter().cloned().collect();
    // Stable: each group keeps the order the entities were found in.
    let mut order: Vec<usize> = (0..batch_of.len()).collect();
    order.sort_by_key(|&i| batch_of[i]);
    if distinct.len() <= 1 {
        let values = distinct.into_iter().next().unwrap_or_default();
        for (rewrite, value) in context.arguments.iter().zip(values) {
            variables.insert(rewrite.variable.to_string(), value);
        }
        let representations = (0..reps.len()).map(|i| reps.value(i)).collect();
        variables.insert("representations".into(), Value::Array(representations));
        return ContextRequest {
            operation: None,
            variables,
            batches: Vec::new(),
            order,
        };
    }
    let mut unique = order.iter().map(|&i| reps.value(i));
    let mut batches = Vec::with_capacity(distinct.len());
    let mut declarations = Vec::new();
    let mut body = String::from("{");
    for (k, values) in distinct.into_iter().enumerate() {
        let count = batch_of.iter().filter(|&&b| b == k).count();
        let alias = format!("_{k}");
        variables.insert(
            format!("representations_{k}"),
            Value::Array(unique.by_ref().take(count).collect()),
        );
        declarations.push(format!("$representations_{k}: [_Any!]!"));
        let mut renamed = Vec::new();
        for (rewrite, value) in context.arguments.iter().zip(values) {
            let variable = format!("{}_{k}", rewrite.variable);
            declarations.push(format!("${variable}: {}", rewrite.ty));
            variables.insert(variable.clone(), value);
            renamed.push((rewrite.variable.clone(), variable));
        }
        let _ = write!(
            body,
            " {alias}: _entities(representations: $representations_{k}) "
        );
        print_selections(&mut body, &rename(&context.selections, &renamed));
        batches.push((alias, count));
    }
    body.push_str(" }");
    declarations.extend(context.client_declarations.iter().cloned());
    let operation = format!(
        "{}({}) {body}",
        context.operation_head,
        declarations.join(", ")
    );
    ContextRequest {
        operation: Some(operation),
        variables,
        batches,
        order,
    }
}

/// `selections` with variable arguments renamed (`$a` → `$a_1`).
fn rename(selections: &[Selection], names: &[(Name, String)]) -> Vec<Selection> {
    selections
        .iter()
        .map(|selection| match selection {
            Selection::Field(field) => Selection::Field(FieldSelection {
                arguments: field
                    .arguments
                    .iter()
                    .map(|argument| match argument.value.as_ref() {
                        GqlValue::Variable(v) => match names.iter().find(|(from, _)| from == v) {
                            Some((_, to)) => {
                                let mut renamed = argument.as_ref().clone();
                                let to = Name::new(to).expect("a variable name plus a suffix");
                                renamed.value = Node::new(GqlValue::Variable(to));
                                Node::new(renamed)
                            }
                            None => argument.clone(),
                        },
                        _ => argument.clone(),
                    })
                    .collect(),
                selections: rename(&field.selections, names),
                ..field.clone()
            }),
            Selection::Fragment(fragment) => {
                let mut fragment = fragment.clone();
                fragment.selections = rename(&fragment.selections, names);
                Selection::Fragment(fragment)
            }
        })
        .collect()
}

/// The entity nodes of a response's `data`, in request order: `_entities`, or the aliased
/// fields one after another. `None` when one is missing.
pub(super) fn entity_nodes(
    doc: &Doc,
    data: NodeId,
    batches: &[(String, usize)],
) -> Option<Vec<NodeId>> {
    if batches.is_empty() {
        let entities = doc.get(data, "_entities")?;
        return matches!(doc.node(entities), doc::Node::Array { .. })
            .then(|| doc.items(entities).collect());
    }
    let mut all = Vec::new();
    for (alias, _) in batches {
        let items = doc.get(data, alias)?;
        if !matches!(doc.node(items), doc::Node::Array { .. }) {
            return None;
        }
        all.extend(doc.items(items));
    }
    Some(all)
}

/// Rewrites an error path `[alias, i, ..]` to `["_entities", offset + i, ..]`.
pub(super) fn unalias_error(error: &Value, batches: &[(String, usize)]) -> Value {
    let mut error = error.clone();
    let Some(path) = error.get_mut("path").and_then(Value::as_array_mut) else {
        return error;
    };
    let Some(alias) = path.first().and_then(Value::as_str) else {
        return error;
    };
    let Some(batch) = batches.iter().position(|(a, _)| a == alias) else {
        return error;
    };
    let offset: usize = batches[..batch].iter().map(|(_, count)| count).sum();
    if let Some(index) = path.get(1).and_then(Value::as_u64) {
        path[0] = Value::String("_entities".into());
        path[1] = Value::from(offset as u64 + index);
    }
    error
}

/// Reads a `@fromContext` argument from the ancestor object that sets the context.
pub(super) fn read_ancestor(
    sg: &Supergraph,
    object: &Map<String, Value>,
    rewrite: &ContextRewrite,
) -> Value {
    let typename = object
        .get("__typename")
        .and_then(Value::as_str)
        .unwrap_or(&rewrite.ancestor_type);
    read_context(sg, object, &rewrite.selection, typename, rewrite.leaf)
}

/// The one field of `sels` that applies to `typename` (besides `__typename`), read from
/// `object`: followed down to its leaf for scalar arguments, copied for input objects.
fn read_context(
    sg: &Supergraph,
    object: &Map<String, Value>,
    sels: &[Selection],
    typename: &str,
    leaf: bool,
) -> Value {
    let Some(field) = applicable_field(sg, sels, typename) else {
        return Value::Null;
    };
    let value = object
        .get(field.response_key().as_str())
        .unwrap_or(&Value::Null);
    if field.selections.is_empty() {
        return value.clone();
    }
    descend(sg, value, field, leaf)
}

fn descend(sg: &Supergraph, value: &Value, field: &FieldSelection, leaf: bool) -> Value {
    match value {
        Value::Object(child) => {
            let typename = child
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or(field.ty.inner_named_type());
            if leaf {
                read_context(sg, child, &field.selections, typename, leaf)
            } else {
                select(sg, child, &field.selections, typename).map_or(Value::Null, Value::Object)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| descend(sg, item, field, leaf))
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn applicable_field<'s>(
    sg: &Supergraph,
    sels: &'s [Selection],
    typename: &str,
) -> Option<&'s FieldSelection> {
    sels.iter().find_map(|s| match s {
        Selection::Field(f) if f.name != "__typename" => Some(f),
        Selection::Fragment(f) if sg.applies(&f.type_condition, typename) => {
            applicable_field(sg, &f.selections, typename)
        }
        _ => None,
    })
}

/// Copies the selected fields out of `object` under their field names; `None` if one is
/// missing.
fn select(
    sg: &Supergraph,
    object: &Map<String, Value>,
    sels: &[Selection],
    typename: &str,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for selection in sels {
        match selection {
            Selection::Field(field) => {
                // Read under the (possibly internal) alias, sent under the field name.
                let value = object.get(field.response_key().as_str())?;
                let value = match value {
                    Value::Object(child) if !field.selections.is_empty() => {
                        let child_type = child
                            .get("__typename")
                            .and_then(Value::as_str)
                            .unwrap_or(field.ty.inner_named_type());
                        Value::Object(select(sg, child, &field.selections, child_type)?)
                    }
                    Value::Array(items) if !field.selections.is_empty() => Value::Array(
                        items
                            .iter()
                            .map(|item| match item.as_object() {
                                Some(child) => select(
                                    sg,
                                    child,
                                    &field.selections,
                                    field.ty.inner_named_type(),
                                )
                                .map(Value::Object),
                                None => Some(item.clone()),
                            })
                            .collect::<Option<Vec<_>>>()?,
                    ),
                    other => other.clone(),
                };
                out.insert(field.name.to_string(), value);
            }
            Selection::Fragment(fragment) if sg.applies(&fragment.type_condition, typename) => {
                out.extend(select(sg, object, &fragment.selections, typename)?);
            }
            Selection::Fragment(_) => {}
        }
    }
    Some(out)
}
