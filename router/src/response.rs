//! Response shaping per the GraphQL spec: the client's field order and aliases, `__typename`,
//! type conditions resolved by runtime type, and null propagation to the nearest nullable
//! parent. Values are moved out of the merged subgraph data, not cloned.

use crate::operation::{push_merged, FieldSelection, NormalizedOperation, Selection};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::Type;
use apollo_compiler::Name;
use serde_json::{json, Map, Value};

/// A field error forcing `null` up to the nearest nullable parent.
struct NullBubble;

struct Shaper<'a> {
    sg: &'a Supergraph,
    errors: &'a mut Vec<Value>,
    /// Errors present before shaping; a null coming with one of them needs no new error.
    prior_errors: usize,
    introspection: Option<Map<String, Value>>,
}

/// Shapes `data` for the client. Returns the `data` value (`null` if a non-null root field
/// was null) and appends non-null violations to `errors`.
pub fn shape(
    sg: &Supergraph,
    operation: &NormalizedOperation,
    data: Value,
    introspection: Option<Map<String, Value>>,
    errors: &mut Vec<Value>,
) -> Value {
    let prior_errors = errors.len();
    let mut shaper = Shaper {
        sg,
        errors,
        prior_errors,
        introspection,
    };
    let Value::Object(mut object) = data else {
        return Value::Null;
    };
    let mut path = Vec::new();
    match shaper.object(
        &operation.root_type,
        &mut object,
        &operation.selections,
        &mut path,
        true,
    ) {
        Ok(map) => Value::Object(map),
        Err(NullBubble) => Value::Null,
    }
}

impl Shaper<'_> {
    fn object(
        &mut self,
        static_type: &Name,
        source: &mut Map<String, Value>,
        selections: &[Selection],
        path: &mut Vec<Value>,
        root: bool,
    ) -> Result<Map<String, Value>, NullBubble> {
        let runtime = match source.get("__typename").and_then(Value::as_str) {
            Some(name) => name.to_owned(),
            None => static_type.to_string(),
        };
        let fields = self.collect_fields(&runtime, selections);
        let mut out = Map::with_capacity(fields.len());
        for field in fields.iter().filter_map(as_field) {
            let key = field.response_key();
            let value = if field.name == "__typename" {
                Value::String(runtime.clone())
            } else if root && (field.name == "__schema" || field.name == "__type") {
                self.introspection
                    .as_mut()
                    .and_then(|i| i.remove(key.as_str()))
                    .unwrap_or(Value::Null)
            } else {
                path.push(Value::String(key.to_string()));
                let raw = source.remove(key.as_str()).unwrap_or(Value::Null);
                let completed = self.complete(&runtime, field, &field.ty, raw, path);
                path.pop();
                completed?
            };
            out.insert(key.to_string(), value);
        }
        Ok(out)
    }

    /// CollectFields for one runtime type: fragments that apply are flattened, fields with
    /// the same response key merged, in first-occurrence order.
    fn collect_fields<'s>(
        &self,
        runtime: &str,
        selections: &'s [Selection],
    ) -> std::borrow::Cow<'s, [Selection]> {
        if selections.iter().all(|s| matches!(s, Selection::Field(_))) {
            return std::borrow::Cow::Borrowed(selections);
        }
        let mut out = Vec::new();
        self.flatten_into(runtime, selections, &mut out);
        std::borrow::Cow::Owned(out)
    }

    fn flatten_into(&self, runtime: &str, selections: &[Selection], out: &mut Vec<Selection>) {
        for selection in selections {
            match selection {
                Selection::Field(_) => push_merged(out, selection.clone()),
                Selection::Fragment(f) => {
                    if f.type_condition == runtime
                        || self.sg.api_schema.is_subtype(&f.type_condition, runtime)
                    {
                        self.flatten_into(runtime, &f.selections, out);
                    }
                }
            }
        }
    }

    fn complete(
        &mut self,
        parent: &str,
        field: &FieldSelection,
        ty: &Type,
        value: Value,
        path: &mut Vec<Value>,
    ) -> Result<Value, NullBubble> {
        if !ty.is_non_null() {
            return Ok(self
                .complete_nullable(parent, field, ty, value, path)
                .unwrap_or(Value::Null));
        }
        let completed = self.complete_nullable(parent, field, ty, value, path)?;
        if completed.is_null() {
            self.null_error(parent, field, path);
            return Err(NullBubble);
        }
        Ok(completed)
    }

    fn complete_nullable(
        &mut self,
        parent: &str,
        field: &FieldSelection,
        ty: &Type,
        value: Value,
        path: &mut Vec<Value>,
    ) -> Result<Value, NullBubble> {
        match (ty, value) {
            (_, Value::Null) => Ok(Value::Null),
            (Type::List(inner) | Type::NonNullList(inner), Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    path.push(Value::from(i));
                    let completed = self.complete(parent, field, inner, item, path);
                    path.pop();
                    out.push(completed?);
                }
                Ok(Value::Array(out))
            }
            (Type::List(_) | Type::NonNullList(_), _) => Ok(Value::Null),
            (_, Value::Object(mut object)) if !field.selections.is_empty() => self
                .object(
                    ty.inner_named_type(),
                    &mut object,
                    &field.selections,
                    path,
                    false,
                )
                .map(Value::Object),
            (_, _) if !field.selections.is_empty() => Ok(Value::Null),
            (_, leaf) => Ok(leaf),
        }
    }

    /// Reports a non-null violation unless a subgraph or fetch error already explains it.
    fn null_error(&mut self, parent: &str, field: &FieldSelection, path: &[Value]) {
        let explained = self.errors[..self.prior_errors].iter().any(|e| {
            match e.get("path").and_then(Value::as_array) {
                None => true,
                Some(p) => p.starts_with(path) || path.starts_with(p),
            }
        });
        if !explained {
            self.errors.push(json!({
                "message": format!("Cannot return null for non-nullable field {parent}.{}", field.name),
                "path": path,
                "extensions": { "code": "INTERNAL_SERVER_ERROR" },
            }));
        }
    }
}

fn as_field(selection: &Selection) -> Option<&FieldSelection> {
    match selection {
        Selection::Field(field) => Some(field),
        Selection::Fragment(_) => None,
    }
}
