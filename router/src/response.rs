//! Response shaping per the GraphQL spec, written straight into the client's JSON: the
//! client's field order and aliases, `__typename`, type conditions resolved by runtime type,
//! and null propagation to the nearest nullable parent (what was written for a position
//! that turns out null is cut back, and `null` written instead). Values are copied once,
//! from the subgraph responses into the output buffer.

use crate::execute::doc::{write_str, NodeId};
use crate::execute::entities::{push_key, response_path, Step};
use crate::execute::merged::{Addr, Merged, Sources, Val};
use crate::operation::{FieldSelection, NormalizedOperation, Selection};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::Type;
use serde_json::{json, Map, Value};
use smallvec::SmallVec;

/// A field error forcing `null` up to the nearest nullable parent.
struct NullBubble;

struct Writer<'a, 's> {
    sg: &'a Supergraph,
    merged: &'a Merged,
    errors: &'a mut Vec<Value>,
    /// Errors present before shaping; a null coming with one of them needs no new error.
    prior_errors: usize,
    introspection: Option<Map<String, Value>>,
    out: Vec<u8>,
    /// The response path being written, for errors.
    path: Vec<Step<'s>>,
    /// Values nulled because clients may not see them (`extensions.valueCompletion`).
    completion: Vec<Value>,
}

/// The start of every execution result.
pub const DATA: &[u8] = b"{\"data\":";

/// Writes the start of the client's response, `{"data":` and the data for `merged` (`null`
/// if a non-null root field was null), and appends non-null violations to `errors`; the
/// caller ends it ([`executed_body`]). `capacity`: the expected size.
pub fn write_data(
    sg: &Supergraph,
    operation: &NormalizedOperation,
    merged: &Merged,
    introspection: Option<Map<String, Value>>,
    errors: &mut Vec<Value>,
    capacity: usize,
    cost: Option<Value>,
) -> Vec<u8> {
    let prior_errors = errors.len();
    let mut writer = Writer {
        sg,
        merged,
        errors,
        prior_errors,
        introspection,
        out: Vec::with_capacity(capacity.clamp(256, 64 << 20) + 64),
        path: Vec::with_capacity(16),
        completion: Vec::new(),
    };
    writer.out.extend_from_slice(DATA);
    let root = merged.expand(merged.roots());
    let sets = [operation.selections.as_slice()];
    if writer
        .object(&operation.root_type, &root, &sets, true)
        .is_err()
    {
        writer.out.truncate(DATA.len());
        writer.out.extend_from_slice(b"null");
    }
    writer.extensions(cost);
    writer.out
}

/// The fields of one response key, from one or more selection sets (fragments merged).
type Group<'s> = SmallVec<[&'s FieldSelection; 1]>;

impl<'s> Writer<'_, 's> {
    /// `extensions`: values nulled for clients (`valueCompletion`, where Apollo's routers
    /// report them rather than in `errors`) and the demand-control estimate when exposed.
    fn extensions(&mut self, cost: Option<Value>) {
        if self.completion.is_empty() && cost.is_none() {
            return;
        }
        self.out.extend_from_slice(b",\"extensions\":{");
        if !self.completion.is_empty() {
            self.out.extend_from_slice(b"\"valueCompletion\":");
            let _ = serde_json::to_writer(&mut self.out, &self.completion);
        }
        if let Some(cost) = cost {
            if !self.completion.is_empty() {
                self.out.push(b',');
            }
            self.out.extend_from_slice(b"\"cost\":");
            let _ = serde_json::to_writer(&mut self.out, &cost);
        }
        self.out.push(b'}');
    }

    /// Writes the object made of `sources` for the selection sets `sets` (several when a
    /// field was selected more than once, e.g. in fragments: their selections merge).
    fn object(
        &mut self,
        static_type: &str,
        sources: &Sources,
        sets: &[&'s [Selection]],
        root: bool,
    ) -> Result<(), NullBubble> {
        let runtime = self
            .merged
            .typename(self.sg, sources)
            .unwrap_or(static_type);
        self.out.push(b'{');
        let mut hints: SmallVec<[NodeId; 4]> = SmallVec::from_elem(0, sources.len());
        match sets {
            [set] if set.iter().all(|s| matches!(s, Selection::Field(_))) => {
                for (i, field) in set.iter().filter_map(as_field).enumerate() {
                    self.field(runtime, sources, &mut hints, &[field], i > 0, root)?;
                }
            }
            _ => {
                let mut groups: Vec<Group<'s>> = Vec::new();
                for set in sets {
                    self.collect_fields(runtime, set, &mut groups);
                }
                for (i, group) in groups.iter().enumerate() {
                    self.field(runtime, sources, &mut hints, group, i > 0, root)?;
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    /// CollectFields for one runtime type: fragments that apply are flattened, fields
    /// grouped by response key in first-occurrence order.
    fn collect_fields(&self, runtime: &str, selections: &'s [Selection], out: &mut Vec<Group<'s>>) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    let key = field.response_key();
                    match out.iter_mut().find(|g| g[0].response_key() == key) {
                        Some(group) => group.push(field),
                        None => out.push(SmallVec::from_elem(field, 1)),
                    }
                }
                Selection::Fragment(f) => {
                    if self.sg.applies(&f.type_condition, runtime) {
                        self.collect_fields(runtime, &f.selections, out);
                    }
                }
            }
        }
    }

    fn field(
        &mut self,
        runtime: &str,
        sources: &Sources,
        hints: &mut [NodeId],
        group: &[&'s FieldSelection],
        comma: bool,
        root: bool,
    ) -> Result<(), NullBubble> {
        let field = group[0];
        let key = field.response_key().as_str();
        push_key(&mut self.out, key, comma);
        if field.name == "__typename" {
            write_str(runtime, &mut self.out);
            return Ok(());
        }
        if root && (field.name == "__schema" || field.name == "__type") {
            let value = self.introspection.as_mut().and_then(|i| i.remove(key));
            let _ = serde_json::to_writer(&mut self.out, &value.unwrap_or(Value::Null));
            return Ok(());
        }
        let sets: SmallVec<[&'s [Selection]; 1]> =
            group.iter().map(|f| f.selections.as_slice()).collect();
        let val = self.merged.field_in_order(sources, hints, key);
        self.path.push(Step::Key(key));
        let completed = self.complete(runtime, field, &sets, &field.ty, val);
        self.path.pop();
        completed
    }

    fn complete(
        &mut self,
        parent: &str,
        field: &'s FieldSelection,
        sets: &[&'s [Selection]],
        ty: &Type,
        val: Val,
    ) -> Result<(), NullBubble> {
        let mark = self.out.len();
        let written = self.complete_nullable(parent, field, sets, ty, val);
        if !ty.is_non_null() {
            if written.is_err() {
                self.out.truncate(mark);
                self.out.extend_from_slice(b"null");
            }
            return Ok(());
        }
        if written? == Written::Null {
            self.null_error(parent, field);
            return Err(NullBubble);
        }
        Ok(())
    }

    fn complete_nullable(
        &mut self,
        parent: &str,
        field: &'s FieldSelection,
        sets: &[&'s [Selection]],
        ty: &Type,
        val: Val,
    ) -> Result<Written, NullBubble> {
        let null = |out: &mut Vec<u8>| {
            out.extend_from_slice(b"null");
            Ok(Written::Null)
        };
        match (ty, val) {
            (_, Val::Missing | Val::Null) => null(&mut self.out),
            (Type::List(inner) | Type::NonNullList(inner), Val::Arrays(arrays)) => {
                self.out.push(b'[');
                let merged = self.merged;
                for (i, item) in merged.items(&arrays).enumerate() {
                    self.item(parent, field, sets, inner, item, i)?;
                }
                self.out.push(b']');
                Ok(Written::Value)
            }
            (Type::List(_) | Type::NonNullList(_), _) => null(&mut self.out),
            // A selection left empty by `@skip`/`@include` still answers `{}`.
            (_, Val::Objects(bases))
                if !field.selections.is_empty() || self.sg.is_composite(ty.inner_named_type()) =>
            {
                let sources = self.merged.expand(&bases);
                if self.hidden_type(&sources) {
                    return Ok(self.invalid(parent, field, ty, "__typename", "object at"));
                }
                self.object(ty.inner_named_type(), &sources, sets, false)?;
                Ok(Written::Value)
            }
            (_, _) if !field.selections.is_empty() => null(&mut self.out),
            (_, Val::Scalar(addr)) => {
                if self.hidden_value(ty, addr) {
                    return Ok(self.invalid(parent, field, ty, "value", "value for"));
                }
                self.merged.write(addr, &mut self.out);
                Ok(Written::Value)
            }
            // A custom scalar holding JSON: the last source wins, as in a merge.
            (_, Val::Objects(addrs) | Val::Arrays(addrs)) => match addrs.last() {
                Some(&addr) => {
                    self.merged.write(addr, &mut self.out);
                    Ok(Written::Value)
                }
                None => null(&mut self.out),
            },
        }
    }

    fn item(
        &mut self,
        parent: &str,
        field: &'s FieldSelection,
        sets: &[&'s [Selection]],
        inner: &Type,
        item: Val,
        i: usize,
    ) -> Result<(), NullBubble> {
        if i > 0 {
            self.out.push(b',');
        }
        self.path.push(Step::Index(i as u32));
        let completed = self.complete(parent, field, sets, inner, item);
        self.path.pop();
        completed
    }

    /// Whether `addr`, a value of enum type `ty`, is `@inaccessible`.
    fn hidden_value(&self, ty: &Type, addr: Addr) -> bool {
        let Some(hidden) = &self.sg.hidden else {
            return false;
        };
        let Some(allowed) = hidden.enum_values.get(ty.inner_named_type()) else {
            return false;
        };
        let value = self.merged.doc(addr.doc).str(addr.node);
        value.is_some_and(|v| !allowed.iter().any(|a| a == v))
    }

    /// Whether the object made of `sources` has an `@inaccessible` runtime type.
    fn hidden_type(&self, sources: &Sources) -> bool {
        match &self.sg.hidden {
            Some(hidden) if !hidden.object_types.is_empty() => self
                .merged
                .typename(self.sg, sources)
                .is_some_and(|t| hidden.object_types.iter().any(|h| h == t)),
            _ => false,
        }
    }

    /// Writes `null` for a value clients may not see and reports it as Apollo's routers do.
    fn invalid(
        &mut self,
        parent: &str,
        field: &FieldSelection,
        ty: &Type,
        what: &str,
        at: &str,
    ) -> Written {
        let message = match self.path.last() {
            Some(Step::Index(i)) => format!(
                "Invalid {what} found for {at} array element of type {} at index {i}.",
                ty.inner_named_type()
            ),
            _ if what == "value" => {
                format!("Invalid value found for field {parent}.{}.", field.name)
            }
            _ => format!(
                "Invalid {what} found for {at} field {parent}.{}.",
                field.name
            ),
        };
        self.completion.push(json!({
            "message": message,
            "path": response_path(&self.path),
            "extensions": { "code": "INVALID_GRAPHQL" },
        }));
        self.out.extend_from_slice(b"null");
        Written::Null
    }

    /// Reports a non-null violation unless a subgraph or fetch error already explains it,
    /// or the null is a value nulled for clients (reported in `valueCompletion`).
    fn null_error(&mut self, parent: &str, field: &FieldSelection) {
        let path = response_path(&self.path);
        let nulled = |e: &Value| {
            let p = e.get("path").and_then(Value::as_array);
            p.is_some_and(|p| p.starts_with(&path))
        };
        if self.completion.iter().any(nulled) {
            return;
        }
        let explained = self.errors[..self.prior_errors].iter().any(|e| {
            match e.get("path").and_then(Value::as_array) {
                None => true,
                Some(p) => p.starts_with(&path) || path.starts_with(p),
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

#[derive(PartialEq)]
enum Written {
    Null,
    Value,
}

fn as_field(selection: &Selection) -> Option<&FieldSelection> {
    match selection {
        Selection::Field(field) => Some(field),
        Selection::Fragment(_) => None,
    }
}

/// An execution result as clients receive it: `data`, then `errors` when there are any.
pub fn result_body(data: Value, errors: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("data".into(), data);
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(body)
}

/// An executed result as clients receive it: `data` as [`write_data`] started it, then the
/// errors, if any.
pub fn executed_body(mut data: Vec<u8>, errors: &[Value]) -> Vec<u8> {
    if !errors.is_empty() {
        data.extend_from_slice(b",\"errors\":");
        let _ = serde_json::to_writer(&mut data, errors);
    }
    data.push(b'}');
    data
}

/// [`executed_body`] as text (for streams and WebSocket frames). The body is UTF-8: every
/// string in it came through serde_json's validation.
pub fn executed_text(data: Vec<u8>, errors: &[Value]) -> String {
    String::from_utf8(executed_body(data, errors))
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
