//! Backend-neutral query, update and index descriptions.

use serde_json::{Map, Value};

use super::{StoreError, StoreResult};

/// A query predicate. `Eq` is meant for scalar fields; use `Contains` for "array holds value".
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    All,
    Eq(String, Value),
    Ne(String, Value),
    In(String, Vec<Value>),
    Gt(String, Value),
    Gte(String, Value),
    Lt(String, Value),
    Lte(String, Value),
    /// The array at `field` holds `value`.
    Contains(String, Value),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

impl Filter {
    pub fn eq(field: &str, value: impl Into<Value>) -> Self {
        Filter::Eq(field.to_owned(), value.into())
    }
    pub fn ne(field: &str, value: impl Into<Value>) -> Self {
        Filter::Ne(field.to_owned(), value.into())
    }
    pub fn is_in<V: Into<Value>>(field: &str, values: impl IntoIterator<Item = V>) -> Self {
        Filter::In(
            field.to_owned(),
            values.into_iter().map(Into::into).collect(),
        )
    }
    pub fn gt(field: &str, value: impl Into<Value>) -> Self {
        Filter::Gt(field.to_owned(), value.into())
    }
    pub fn gte(field: &str, value: impl Into<Value>) -> Self {
        Filter::Gte(field.to_owned(), value.into())
    }
    pub fn lt(field: &str, value: impl Into<Value>) -> Self {
        Filter::Lt(field.to_owned(), value.into())
    }
    pub fn lte(field: &str, value: impl Into<Value>) -> Self {
        Filter::Lte(field.to_owned(), value.into())
    }
    pub fn contains(field: &str, value: impl Into<Value>) -> Self {
        Filter::Contains(field.to_owned(), value.into())
    }
    pub fn and(self, other: Filter) -> Self {
        match (self, other) {
            (Filter::All, f) | (f, Filter::All) => f,
            (Filter::And(mut a), f) => {
                a.push(f);
                Filter::And(a)
            }
            (a, b) => Filter::And(vec![a, b]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FindOptions {
    pub sort: Vec<(String, Order)>,
    pub limit: Option<u64>,
}

impl FindOptions {
    pub fn sort(mut self, field: &str, order: Order) -> Self {
        self.sort.push((field.to_owned(), order));
        self
    }
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Field updates, applied in order. Maps onto `$set`, `$unset`, `$inc`, `$addToSet`, `$pull`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub unset: Vec<String>,
    pub inc: Vec<(String, i64)>,
    /// Adds a value to an array unless it is already there.
    pub add_to_set: Vec<(String, Value)>,
    pub pull: Vec<(String, Value)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.set.push((field.to_owned(), value.into()));
        self
    }
    /// Sets the field when `value` is `Some`, unsets it when `None`.
    pub fn set_opt<V: Into<Value>>(self, field: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.set(field, v),
            None => self.unset(field),
        }
    }
    pub fn unset(mut self, field: &str) -> Self {
        self.unset.push(field.to_owned());
        self
    }
    pub fn inc(mut self, field: &str, by: i64) -> Self {
        self.inc.push((field.to_owned(), by));
        self
    }
    pub fn add_to_set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.add_to_set.push((field.to_owned(), value.into()));
        self
    }
    pub fn pull(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.pull.push((field.to_owned(), value.into()));
        self
    }

    /// Every path this update touches.
    fn paths(&self) -> impl Iterator<Item = &str> {
        fn fields(v: &[(String, Value)]) -> impl Iterator<Item = &str> {
            v.iter().map(|(f, _)| f.as_str())
        }
        fields(&self.set)
            .chain(self.unset.iter().map(String::as_str))
            .chain(self.inc.iter().map(|(f, _)| f.as_str()))
            .chain(fields(&self.add_to_set))
            .chain(fields(&self.pull))
    }

    /// MongoDB refuses an update that touches one path twice (or a path and its parent), so
    /// both backends refuse it.
    pub(crate) fn validate(&self) -> StoreResult<()> {
        let paths: Vec<&str> = self.paths().collect();
        for (i, a) in paths.iter().enumerate() {
            check_name(a)?;
            reject_id(a)?;
            for b in &paths[i + 1..] {
                let nested = |x: &str, y: &str| {
                    x.len() > y.len() && x.starts_with(y) && x.as_bytes()[y.len()] == b'.'
                };
                if a == b || nested(a, b) || nested(b, a) {
                    return Err(StoreError::InvalidName(format!(
                        "update touches {a} and {b}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Applies the update to a document in memory (the embedded backend's read-modify-write).
    pub(crate) fn apply(&self, doc: &mut Map<String, Value>) -> StoreResult<()> {
        self.validate()?;
        for (field, value) in &self.set {
            *slot(doc, field) = value.clone();
        }
        for field in &self.unset {
            remove(doc, field);
        }
        for (field, by) in &self.inc {
            let slot = slot(doc, field);
            let current = slot.as_i64().unwrap_or(0);
            *slot = Value::from(current + by);
        }
        for (field, value) in &self.add_to_set {
            let slot = slot(doc, field);
            match slot {
                Value::Array(items) if items.contains(value) => {}
                Value::Array(items) => items.push(value.clone()),
                other => *other = Value::Array(vec![value.clone()]),
            }
        }
        for (field, value) in &self.pull {
            if let Value::Array(items) = slot(doc, field) {
                items.retain(|item| item != value);
            }
        }
        Ok(())
    }
}

fn reject_id(field: &str) -> StoreResult<()> {
    if field == "id" {
        return Err(StoreError::InvalidName("id cannot be updated".into()));
    }
    Ok(())
}

/// The value at a dotted path, created (as null inside objects) when missing.
fn slot<'a>(doc: &'a mut Map<String, Value>, path: &str) -> &'a mut Value {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or(path);
    let mut current = doc.entry(first.to_owned()).or_insert(Value::Null);
    for part in parts {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        current = match current {
            Value::Object(map) => map.entry(part.to_owned()).or_insert(Value::Null),
            _ => unreachable!("just made an object"),
        };
    }
    current
}

fn remove(doc: &mut Map<String, Value>, path: &str) {
    match path.rsplit_once('.') {
        None => {
            doc.remove(path);
        }
        Some((parent, last)) => {
            if let Value::Object(map) = slot(doc, parent) {
                map.remove(last);
            }
        }
    }
}

/// An index created at start.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexSpec {
    pub collection: &'static str,
    pub fields: Vec<(&'static str, Order)>,
    pub unique: bool,
}

impl IndexSpec {
    pub fn new(collection: &'static str, fields: &[&'static str]) -> Self {
        Self {
            collection,
            fields: fields.iter().map(|f| (*f, Order::Asc)).collect(),
            unique: false,
        }
    }
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    pub fn name(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(f, _)| f.replace('.', "_"))
            .collect();
        format!("ix_{}_{}", self.collection, fields.join("_"))
    }
}

/// Collection and field names end up in SQL text and index names: allow only a safe alphabet.
pub(crate) fn check_name(name: &str) -> StoreResult<&str> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !name.starts_with('.')
        && !name.ends_with('.');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}
