//! Requests for entity fetches with `@fromContext` arguments. Entities whose context values
//! differ cannot share one `$contextualArgument` variable, so they are grouped by value set;
//! each group becomes one aliased `_entities` field of the same request (as Apollo Router
//! does), keeping one request per subgraph per plan step.

use super::entities::Representations;
use crate::operation::{print_selections, FieldSelection, Selection};
use crate::plan::ContextFetch;
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
}

/// Groups `reps` by context values (reordering them so each group is contiguous) and
/// builds the request; `variables` holds the client variables the fetch uses.
pub(super) fn request(
    context: &ContextFetch,
    reps: &mut Representations,
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
    if distinct.len() <= 1 {
        let values = distinct.into_iter().next().unwrap_or_default();
        for (rewrite, value) in context.arguments.iter().zip(values) {
            variables.insert(rewrite.variable.to_string(), value);
        }
        let representations = Value::Array(std::mem::take(&mut reps.unique));
        variables.insert("representations".into(), representations);
        return ContextRequest {
            operation: None,
            variables,
            batches: Vec::new(),
        };
    }
    reorder(reps, &batch_of);
    let mut unique = std::mem::take(&mut reps.unique).into_iter();
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
    }
}

/// Stable-sorts the representations by batch.
fn reorder(reps: &mut Representations, batch_of: &[usize]) {
    let mut order: Vec<usize> = (0..batch_of.len()).collect();
    order.sort_by_key(|&i| batch_of[i]);
    let mut unique: Vec<Option<Value>> = reps.unique.drain(..).map(Some).collect();
    let mut positions: Vec<Option<_>> = reps.positions.drain(..).map(Some).collect();
    let mut contexts: Vec<Option<_>> = reps.contexts.drain(..).map(Some).collect();
    for i in order {
        reps.unique.extend(unique[i].take());
        reps.positions.extend(positions[i].take());
        reps.contexts.extend(contexts[i].take());
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

/// The entities of a response, in representation order: `_entities`, or the aliased
/// fields one after another. `None` when one is missing.
pub(super) fn take_entities(
    data: &mut Map<String, Value>,
    batches: &[(String, usize)],
) -> Option<Value> {
    if batches.is_empty() {
        return data.remove("_entities");
    }
    let mut all = Vec::new();
    for (alias, _) in batches {
        match data.remove(alias) {
            Some(Value::Array(items)) => all.extend(items),
            _ => return None,
        }
    }
    Some(Value::Array(all))
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
