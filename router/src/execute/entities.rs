//! Collecting entity representations at a plan path of the merged data: each written once,
//! as the JSON sent to the subgraph, and deduplicated by those bytes.

use super::merged::{Addr, Merged, Sources, Val};
use crate::operation::{FieldSelection, Selection};
use crate::plan::{ContextRewrite, PathSegment};
use crate::supergraph::{GraphId, Supergraph};
use rustc_hash::FxHashMap;
use serde_json::Value;
use smallvec::SmallVec;

/// A concrete response path (`["topProducts", 0, "reviews", 1]`).
pub type ResponsePath = Vec<Value>;

/// One step of a concrete path, borrowed from the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(u32),
}

/// Turns borrowed steps into a response path.
pub fn response_path(steps: &[Step<'_>]) -> ResponsePath {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Value::String((*k).to_owned()),
            Step::Index(i) => Value::from(*i),
        })
        .collect()
}

/// Deduplicated representations and, per unique representation, the objects it was found
/// at, the path of its first occurrence and the values of the fetch's `@fromContext`
/// arguments there.
#[derive(Debug, Default)]
pub struct Representations<'a> {
    /// The unique representations as JSON objects separated by commas.
    pub json: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Per unique representation, the first source of every object it stands for.
    pub targets: Vec<SmallVec<[Addr; 1]>>,
    steps: Vec<Step<'a>>,
    paths: Vec<(usize, usize)>,
    /// Per unique representation, one value per context argument (empty without any).
    pub contexts: Vec<Vec<Value>>,
}

impl Representations<'_> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Representation `i` as the JSON bytes sent for it.
    pub fn bytes(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.json[start..end]
    }

    /// The representations `indices`, comma-separated as in `json`.
    pub fn json_of(&self, indices: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, &i) in indices.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.bytes(i));
        }
        out
    }

    /// Representation `i` as a value (context fetches regroup them: the cold path).
    pub fn value(&self, i: usize) -> Value {
        let (start, end) = self.spans[i];
        serde_json::from_slice(&self.json[start..end]).unwrap_or(Value::Null)
    }

    /// The client path of representation `i`'s first occurrence.
    pub fn path(&self, i: usize) -> Option<ResponsePath> {
        let &(start, end) = self.paths.get(i)?;
        Some(response_path(&self.steps[start..end]))
    }
}

struct Collector<'c, 'a> {
    sg: &'c Supergraph,
    graph: GraphId,
    merged: &'c Merged,
    requires: &'c [Selection],
    context: &'c [ContextRewrite],
    reps: Representations<'a>,
    /// Representations by a hash of their bytes: randomly seeded, since subgraph data (which
    /// clients can write) decides what is hashed.
    hasher: ahash::RandomState,
    seen: FxHashMap<u64, SmallVec<[u32; 1]>>,
}

/// Collects one representation per entity found at any of `paths` whose `__typename` matches one of
/// the `requires` fragments. Entities missing a key or required field are skipped. One entity
/// under ancestors with different context values yields one representation per value set.
pub fn collect<'a>(
    sg: &Supergraph,
    graph: GraphId,
    merged: &Merged,
    paths: &'a [Vec<PathSegment>],
    requires: &[Selection],
    context: &[ContextRewrite],
) -> Representations<'a> {
    let mut collector = Collector {
        sg,
        graph,
        merged,
        requires,
        context,
        reps: Representations::default(),
        hasher: ahash::RandomState::new(),
        seen: FxHashMap::default(),
    };
    let root = merged.root();
    let mut at = Vec::new();
    for path in paths {
        collector.walk(&root, path, &mut at);
    }
    collector.reps
}

impl<'a> Collector<'_, 'a> {
    fn walk(&mut self, val: &Val, path: &'a [PathSegment], at: &mut Vec<Step<'a>>) {
        match (path.split_first(), val) {
            (None, Val::Objects(bases)) => {
                let sources = self.merged.expand(bases);
                self.visit(&sources, at);
            }
            // A list-typed field whose list level the plan path did not spell out.
            (None, Val::Arrays(arrays)) => self.walk_items(arrays, path, at),
            (Some((PathSegment::List, rest)), Val::Arrays(arrays)) => {
                self.walk_items(arrays, rest, at)
            }
            (Some((PathSegment::Key(key), rest)), Val::Objects(bases)) => {
                let sources = self.merged.expand(bases);
                let child = self.merged.field(&sources, key);
                at.push(Step::Key(key.as_str()));
                self.walk(&child, rest, at);
                at.pop();
            }
            _ => {}
        }
    }

    fn walk_items(&mut self, arrays: &[Addr], rest: &'a [PathSegment], at: &mut Vec<Step<'a>>) {
        let merged = self.merged;
        for (i, item) in merged.items(arrays).enumerate() {
            at.push(Step::Index(i as u32));
            self.walk(&item, rest, at);
            at.pop();
        }
    }

    fn visit(&mut self, sources: &Sources, at: &[Step<'a>]) {
        let Some(typename) = self.merged.typename(self.sg, sources) else {
            return;
        };
        let fragment = self.requires.iter().find_map(|s| match s {
            Selection::Fragment(f) if self.sg.applies(&f.type_condition, typename) => Some(f),
            _ => None,
        });
        let Some(fragment) = fragment else { return };
        // An @interfaceObject subgraph knows the entity only by its interface name.
        let as_interface = (self.sg.has_interface_objects
            && self
                .sg
                .type_in_graph(&fragment.type_condition, self.graph)
                .is_some_and(|t| t.is_interface_object))
        .then_some(fragment.type_condition.as_str());
        let json = &mut self.reps.json;
        let before = json.len();
        if !json.is_empty() {
            json.push(b',');
        }
        let start = json.len();
        let writer = Writer {
            sg: self.sg,
            merged: self.merged,
        };
        if !writer.object(sources, &fragment.selections, typename, as_interface, json) {
            json.truncate(before);
            return;
        }
        let values: Vec<Value> = self
            .context
            .iter()
            .map(|rewrite| context_value(self.sg, self.merged, at, rewrite))
            .collect();
        let end = self.reps.json.len();
        let hash = self.hasher.hash_one(&self.reps.json[start..end]);
        let candidates = self.seen.entry(hash).or_default();
        let existing = candidates.iter().copied().find(|&i| {
            let (s, e) = self.reps.spans[i as usize];
            self.reps.json[s..e] == self.reps.json[start..end]
                && self.reps.contexts[i as usize] == values
        });
        let target = sources[0];
        match existing {
            Some(i) => {
                self.reps.json.truncate(before);
                self.reps.targets[i as usize].push(target);
            }
            None => {
                candidates.push(self.reps.spans.len() as u32);
                self.reps.spans.push((start, end));
                self.reps.targets.push(SmallVec::from_elem(target, 1));
                let first = self.reps.steps.len();
                self.reps.steps.extend_from_slice(at);
                self.reps.paths.push((first, self.reps.steps.len()));
                self.reps.contexts.push(values);
            }
        }
    }
}

/// Writes selections of merged objects as JSON: representations use field names (values
/// read under the possibly internal alias), and a missing field fails the whole object.
struct Writer<'c> {
    sg: &'c Supergraph,
    merged: &'c Merged,
}

impl Writer<'_> {
    fn object(
        &self,
        sources: &[Addr],
        sels: &[Selection],
        typename: &str,
        as_interface: Option<&str>,
        out: &mut Vec<u8>,
    ) -> bool {
        out.push(b'{');
        let mut written: SmallVec<[&str; 8]> = SmallVec::new();
        let ok = self.members(sources, sels, typename, as_interface, &mut written, out);
        if ok && as_interface.is_some() && !written.contains(&"__typename") {
            push_key(out, "__typename", !written.is_empty());
            super::doc::write_str(as_interface.unwrap_or_default(), out);
        }
        out.push(b'}');
        ok
    }

    fn members<'s>(
        &self,
        sources: &[Addr],
        sels: &'s [Selection],
        typename: &str,
        as_interface: Option<&str>,
        written: &mut SmallVec<[&'s str; 8]>,
        out: &mut Vec<u8>,
    ) -> bool {
        for selection in sels {
            match selection {
                Selection::Field(field) => {
                    if written.contains(&field.name.as_str()) {
                        continue;
                    }
                    push_key(out, &field.name, !written.is_empty());
                    written.push(field.name.as_str());
                    if field.name == "__typename" {
                        super::doc::write_str(as_interface.unwrap_or(typename), out);
                        continue;
                    }
                    let val = self.merged.field(sources, field.response_key());
                    if !self.value(&val, field, out) {
                        return false;
                    }
                }
                Selection::Fragment(f) if self.sg.applies(&f.type_condition, typename) => {
                    if !self.members(sources, &f.selections, typename, None, written, out) {
                        return false;
                    }
                }
                Selection::Fragment(_) => {}
            }
        }
        true
    }

    fn value(&self, val: &Val, field: &FieldSelection, out: &mut Vec<u8>) -> bool {
        match val {
            Val::Missing => false,
            Val::Null => {
                out.extend_from_slice(b"null");
                true
            }
            Val::Scalar(addr) => {
                self.merged.write(*addr, out);
                true
            }
            Val::Objects(bases) if !field.selections.is_empty() => {
                let sources = self.merged.expand(bases);
                let typename = self
                    .merged
                    .typename(self.sg, &sources)
                    .unwrap_or(field.ty.inner_named_type());
                self.object(&sources, &field.selections, typename, None, out)
            }
            Val::Arrays(arrays) if !field.selections.is_empty() => {
                out.push(b'[');
                for (i, item) in self.merged.items(arrays).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let ok = match item {
                        Val::Objects(_) => self.value(&item, field, out),
                        other => self.raw(&other, out),
                    };
                    if !ok {
                        return false;
                    }
                }
                out.push(b']');
                true
            }
            other => self.raw(other, out),
        }
    }

    /// A value copied as the subgraph sent it (the last source wins).
    fn raw(&self, val: &Val, out: &mut Vec<u8>) -> bool {
        match val {
            Val::Missing => return false,
            Val::Null => out.extend_from_slice(b"null"),
            Val::Scalar(addr) => self.merged.write(*addr, out),
            Val::Objects(addrs) | Val::Arrays(addrs) => {
                let last = addrs.last().copied();
                match last {
                    Some(addr) => self.merged.write(addr, out),
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
        true
    }
}

/// `"key":`, after a comma unless it is the first member.
pub fn push_key(out: &mut Vec<u8>, key: &str, comma: bool) {
    if comma {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// The value of a `@fromContext` argument for the entity at `at`: read from the ancestor at
/// the rewrite's path prefix; `null` when the ancestor or the field is missing.
fn context_value(
    sg: &Supergraph,
    merged: &Merged,
    at: &[Step<'_>],
    rewrite: &ContextRewrite,
) -> Value {
    let Some(prefix) = at.get(..rewrite.ancestor.len()) else {
        return Value::Null;
    };
    let mut val = merged.root();
    for step in prefix {
        val = match (step, &val) {
            (Step::Key(key), Val::Objects(bases)) => merged.field(&merged.expand(bases), key),
            (Step::Index(i), Val::Arrays(arrays)) => merged
                .items(arrays)
                .nth(*i as usize)
                .unwrap_or(Val::Missing),
            _ => return Value::Null,
        };
    }
    match merged.to_value(sg, &val) {
        Value::Object(object) => super::context::read_ancestor(sg, &object, rewrite),
        _ => Value::Null,
    }
}
