//! Walking response data: collecting entity representations at a plan path and merging
//! fetched data back in place (values are moved, never whole responses cloned).

use crate::operation::{FieldSelection, Selection};
use crate::plan::{ContextRewrite, PathSegment};
use crate::supergraph::{GraphId, Supergraph};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A concrete response path (`["topProducts", 0, "reviews", 1]`).
pub type ResponsePath = Vec<Value>;

/// Deduplicated representations and, per unique representation, where it occurs and the
/// values of the fetch's `@fromContext` arguments there.
#[derive(Debug, Default)]
pub struct Representations {
    pub unique: Vec<Value>,
    pub positions: Vec<Vec<ResponsePath>>,
    /// Per unique representation, one value per context argument (empty without any).
    pub contexts: Vec<Vec<Value>>,
}

/// Collects one representation per entity found at any of `paths` whose `__typename` matches one of
/// the `requires` fragments. Entities missing a key or required field are skipped. One entity
/// under ancestors with different context values yields one representation per value set.
pub fn collect(
    sg: &Supergraph,
    graph: GraphId,
    data: &Value,
    paths: &[Vec<PathSegment>],
    requires: &[Selection],
    context: &[ContextRewrite],
) -> Representations {
    let mut reps = Representations::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut current = Vec::new();
    for path in paths {
        walk(data, path, &mut current, &mut |value, at| {
            let Some(rep) = representation(sg, graph, value, requires) else {
                return;
            };
            let values: Vec<Value> = context
                .iter()
                .map(|rewrite| context_value(sg, data, at, rewrite))
                .collect();
            let mut text = rep.to_string();
            for value in &values {
                text.push('\0');
                text.push_str(&value.to_string());
            }
            let index = *seen.entry(text).or_insert_with(|| {
                reps.unique.push(rep);
                reps.positions.push(Vec::new());
                reps.contexts.push(values);
                reps.unique.len() - 1
            });
            reps.positions[index].push(at.clone());
        });
    }
    reps
}

/// The value of a `@fromContext` argument for the entity at `at`: read from the ancestor at
/// the rewrite's path prefix; `null` when the ancestor or the field is missing.
fn context_value(sg: &Supergraph, data: &Value, at: &[Value], rewrite: &ContextRewrite) -> Value {
    let ancestor = at
        .get(..rewrite.ancestor.len())
        .and_then(|prefix| get(data, prefix));
    let Some(Value::Object(object)) = ancestor else {
        return Value::Null;
    };
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
        Selection::Fragment(f) if applies(sg, &f.type_condition, typename) => {
            applicable_field(sg, &f.selections, typename)
        }
        _ => None,
    })
}

fn walk(
    value: &Value,
    path: &[PathSegment],
    at: &mut ResponsePath,
    visit: &mut dyn FnMut(&Value, &ResponsePath),
) {
    let Some((first, rest)) = path.split_first() else {
        match value {
            Value::Array(items) => {
                // A list-typed field whose list level the plan path did not spell out.
                for (i, item) in items.iter().enumerate() {
                    at.push(Value::from(i));
                    walk(item, path, at, visit);
                    at.pop();
                }
            }
            Value::Object(_) => visit(value, at),
            _ => {}
        }
        return;
    };
    match (first, value) {
        (PathSegment::Key(key), Value::Object(map)) => {
            if let Some(child) = map.get(key.as_str()) {
                at.push(Value::String(key.to_string()));
                walk(child, rest, at, visit);
                at.pop();
            }
        }
        (PathSegment::List, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Value::from(i));
                walk(item, rest, at, visit);
                at.pop();
            }
        }
        _ => {}
    }
}

fn representation(
    sg: &Supergraph,
    graph: GraphId,
    value: &Value,
    requires: &[Selection],
) -> Option<Value> {
    let object = value.as_object()?;
    let typename = object.get("__typename")?.as_str()?;
    let fragment = requires.iter().find_map(|s| match s {
        Selection::Fragment(f) if applies(sg, &f.type_condition, typename) => Some(f),
        _ => None,
    })?;
    let mut rep = select(sg, object, &fragment.selections, typename)?;
    // An @interfaceObject subgraph knows the entity only by its interface name.
    let as_interface = sg
        .type_in_graph(&fragment.type_condition, graph)
        .is_some_and(|t| t.is_interface_object);
    if as_interface {
        rep.insert(
            "__typename".into(),
            Value::String(fragment.type_condition.to_string()),
        );
    }
    Some(Value::Object(rep))
}

fn applies(sg: &Supergraph, condition: &str, typename: &str) -> bool {
    condition == typename || sg.api_schema.is_subtype(condition, typename)
}

/// Copies the selected fields out of `object`; `None` if one is missing.
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
                // Read under the (possibly internal) alias, send under the field name.
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
            Selection::Fragment(fragment) if applies(sg, &fragment.type_condition, typename) => {
                out.extend(select(sg, object, &fragment.selections, typename)?);
            }
            Selection::Fragment(_) => {}
        }
    }
    Some(out)
}

/// The value at a concrete path, if present.
pub fn get<'v>(data: &'v Value, path: &[Value]) -> Option<&'v Value> {
    let mut current = data;
    for segment in path {
        current = match (segment, current) {
            (Value::String(key), Value::Object(map)) => map.get(key.as_str())?,
            (Value::Number(n), Value::Array(items)) => {
                items.get(usize::try_from(n.as_u64()?).ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// The value at a concrete path, if present, mutably.
pub fn get_mut<'v>(data: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    let mut current = data;
    for segment in path {
        current = match (segment, current) {
            (Value::String(key), Value::Object(map)) => map.get_mut(key.as_str())?,
            (Value::Number(n), Value::Array(items)) => {
                items.get_mut(usize::try_from(n.as_u64()?).ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Deep-merges `source` into `target`. A `null` never erases data already there.
pub fn merge(target: &mut Value, source: Value) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (t, s) in target.iter_mut().zip(source) {
                merge(t, s);
            }
        }
        (target, source) => {
            if !source.is_null() || !target.is_object() {
                *target = source;
            }
        }
    }
}
