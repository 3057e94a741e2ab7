//! The merged data of one request, without copying any subgraph response.
//!
//! Every response stays the tape it was parsed into. An entity fetched for an object is
//! attached to that object as an extension (by index, per document), and reading a field
//! of an object reads its own members and then its extensions', with the deep-merge rules
//! of federation: objects merge, a later value replaces an earlier one, and `null` never
//! erases an object. One entity deduplicated across many positions is attached to all of
//! them, not copied.

use super::doc::{Doc, Node, NodeId};
use super::fetch::SubgraphResponse;
use crate::supergraph::Supergraph;
use smallvec::SmallVec;
use std::sync::Arc;

/// A node of one of the request's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Addr {
    pub doc: u32,
    pub node: NodeId,
}

/// The sources of one merged object: its own nodes, then their extensions, in merge order.
pub type Sources = SmallVec<[Addr; 4]>;

/// The merged value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Missing,
    Null,
    Scalar(Addr),
    /// Object nodes merged into one object (extensions not yet expanded).
    Objects(SmallVec<[Addr; 2]>),
    /// Arrays of equal length merged item by item.
    Arrays(SmallVec<[Addr; 2]>),
}

/// The request's documents, the root objects and the extensions attached so far.
#[derive(Default)]
pub struct Merged {
    docs: Vec<Arc<SubgraphResponse>>,
    roots: SmallVec<[Addr; 2]>,
    /// Per document, per node: 1 + the index into `lists` of its extensions (0: none).
    heads: Vec<Vec<u32>>,
    lists: Vec<SmallVec<[Addr; 2]>>,
}

impl Merged {
    /// Adds a response; returns its document index.
    pub fn add(&mut self, response: Arc<SubgraphResponse>) -> u32 {
        self.docs.push(response);
        self.heads.push(Vec::new());
        (self.docs.len() - 1) as u32
    }

    pub fn doc(&self, index: u32) -> &Doc {
        &self.docs[index as usize].doc
    }

    pub fn node(&self, addr: Addr) -> Node {
        self.doc(addr.doc).node(addr.node)
    }

    /// Merges a root fetch's data object at the response root.
    pub fn add_root(&mut self, addr: Addr) {
        if matches!(self.node(addr), Node::Object { .. }) {
            self.roots.push(addr);
        }
    }

    /// The root fetches' data objects.
    pub fn roots(&self) -> &[Addr] {
        &self.roots
    }

    /// The root object: every root fetch's data merged.
    pub fn root(&self) -> Val {
        Val::Objects(self.roots.clone())
    }

    /// Merges the object at `extension` into the object whose first source is `target`.
    pub fn extend(&mut self, target: Addr, extension: Addr) {
        if !matches!(self.node(extension), Node::Object { .. }) {
            return;
        }
        let nodes = self.doc(target.doc).len();
        let heads = &mut self.heads[target.doc as usize];
        if heads.is_empty() {
            heads.resize(nodes, 0);
        }
        let Some(head) = heads.get_mut(target.node as usize) else {
            return;
        };
        if *head == 0 {
            self.lists.push(SmallVec::new());
            *head = self.lists.len() as u32;
        }
        // One entity result is shared by every position it was deduplicated from, so its
        // nested objects are reached (and extended) once per position: keep one copy.
        let list = &mut self.lists[*head as usize - 1];
        if !list.contains(&extension) {
            list.push(extension);
        }
    }

    fn extensions(&self, addr: Addr) -> &[Addr] {
        let head = self.heads[addr.doc as usize]
            .get(addr.node as usize)
            .copied()
            .unwrap_or(0);
        match head {
            0 => &[],
            n => &self.lists[n as usize - 1],
        }
    }

    /// Sources of the merged object made of `bases`: each base, then what extends it.
    pub fn expand(&self, bases: &[Addr]) -> Sources {
        let mut out = Sources::new();
        for &base in bases {
            out.push(base);
            out.extend_from_slice(self.extensions(base));
        }
        out
    }

    /// [`Merged::field`] for reading many fields of one object in order: `hints` holds one
    /// position per source (see [`Doc::get_from`]), all 0 at first.
    pub fn field_in_order(&self, sources: &[Addr], hints: &mut [NodeId], key: &str) -> Val {
        let mut val = Val::Missing;
        for (&source, hint) in sources.iter().zip(hints) {
            if let Some(node) = self.doc(source.doc).get_from(source.node, key, hint) {
                let addr = Addr {
                    doc: source.doc,
                    node,
                };
                self.fold(&mut val, addr);
            }
        }
        val
    }

    /// The merged value of `key` in the object made of `sources`.
    pub fn field(&self, sources: &[Addr], key: &str) -> Val {
        let mut hints: SmallVec<[NodeId; 4]> = SmallVec::from_elem(0, sources.len());
        self.field_in_order(sources, &mut hints, key)
    }

    /// The runtime type named by the object's `__typename`: the first one, unless a later
    /// source names an object type. An `@interfaceObject` subgraph answers with the
    /// interface's name, which must not replace the real type found elsewhere; without
    /// interface objects every source names the same type and the first one is read.
    pub fn typename<'m>(&'m self, sg: &Supergraph, sources: &[Addr]) -> Option<&'m str> {
        let mut found: Option<&str> = None;
        for &source in sources {
            let doc = self.doc(source.doc);
            let Some(name) = doc.get(source.node, "__typename").and_then(|n| doc.str(n)) else {
                continue;
            };
            let replaces = match found {
                None => true,
                Some(current) => current != name && sg.api_schema.get_object(name).is_some(),
            };
            if replaces {
                found = Some(name);
            }
            if !sg.has_interface_objects {
                break;
            }
        }
        found
    }

    /// The items of merged arrays, each merged across the arrays; one array (the usual
    /// case, nothing to merge) is read in place.
    pub fn items<'m>(&'m self, arrays: &[Addr]) -> impl Iterator<Item = Val> + 'm {
        let (single, merged) = match arrays {
            [array] => (Some(*array), Vec::new()),
            _ => (None, self.merge_items(arrays)),
        };
        let in_place = single.into_iter().flat_map(move |array| {
            let doc = array.doc;
            self.doc(doc)
                .items(array.node)
                .map(move |node| self.val(Addr { doc, node }))
        });
        in_place.chain(merged)
    }

    fn merge_items(&self, arrays: &[Addr]) -> Vec<Val> {
        let mut out: Vec<Val> = Vec::new();
        for (n, &array) in arrays.iter().enumerate() {
            let doc = self.doc(array.doc);
            for (i, node) in doc.items(array.node).enumerate() {
                if n == 0 {
                    out.push(Val::Missing);
                }
                if let Some(val) = out.get_mut(i) {
                    self.fold(
                        val,
                        Addr {
                            doc: array.doc,
                            node,
                        },
                    );
                }
            }
        }
        out
    }

    /// Writes the node at `addr` as JSON.
    pub fn write(&self, addr: Addr, out: &mut Vec<u8>) {
        self.doc(addr.doc).write(addr.node, out);
    }

    /// An owned copy of a merged value (context arguments: a cold path).
    pub fn to_value(&self, sg: &Supergraph, val: &Val) -> serde_json::Value {
        use serde_json::Value;
        match val {
            Val::Missing | Val::Null => Value::Null,
            Val::Scalar(addr) => self.doc(addr.doc).to_value(addr.node),
            Val::Arrays(arrays) => Value::Array(
                self.items(arrays)
                    .map(|item| self.to_value(sg, &item))
                    .collect(),
            ),
            Val::Objects(bases) => {
                let sources = self.expand(bases);
                let mut map = serde_json::Map::new();
                for &source in &sources {
                    let doc = self.doc(source.doc);
                    for (key, _) in doc.members(source.node) {
                        let Some(key) = doc.str(key) else { continue };
                        if !map.contains_key(key) {
                            let value = match key {
                                "__typename" => self
                                    .typename(sg, &sources)
                                    .map_or(Value::Null, |t| Value::String(t.to_owned())),
                                _ => self.to_value(sg, &self.field(&sources, key)),
                            };
                            map.insert(key.to_owned(), value);
                        }
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// The value of one node on its own.
    pub fn val(&self, addr: Addr) -> Val {
        let mut val = Val::Missing;
        self.fold(&mut val, addr);
        val
    }

    /// Folds one more source value into `val` by the deep-merge rules.
    fn fold(&self, val: &mut Val, addr: Addr) {
        match self.node(addr) {
            Node::Null => {
                if !matches!(val, Val::Objects(_)) {
                    *val = Val::Null;
                }
            }
            Node::Object { .. } => match val {
                Val::Objects(bases) => bases.push(addr),
                _ => *val = Val::Objects(SmallVec::from_elem(addr, 1)),
            },
            Node::Array { len, .. } => match val {
                Val::Arrays(arrays) if self.array_len(arrays[0]) == len => arrays.push(addr),
                _ => *val = Val::Arrays(SmallVec::from_elem(addr, 1)),
            },
            _ => *val = Val::Scalar(addr),
        }
    }

    fn array_len(&self, addr: Addr) -> u32 {
        match self.node(addr) {
            Node::Array { len, .. } => len,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const SUPERGRAPH: &str = include_str!("../../tests/fixtures/interface_object.graphql");

    fn add(merged: &mut Merged, json: &str) -> Addr {
        let doc = Doc::parse(Bytes::from(json.to_owned())).expect("valid JSON");
        let response = SubgraphResponse {
            doc,
            data: Some(0),
            errors: Vec::new(),
            raw: Bytes::new(),
            cache_control: None,
        };
        Addr {
            doc: merged.add(Arc::new(response)),
            node: 0,
        }
    }

    fn object_at(merged: &Merged, key: &str) -> Sources {
        match merged.field(&merged.expand(merged.roots()), key) {
            Val::Objects(bases) => merged.expand(&bases),
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn extensions_deep_merge_and_null_never_erases_an_object() {
        let mut merged = Merged::default();
        let root = add(
            &mut merged,
            r#"{"a":{"id":"1","n":{"x":1},"s":"old","l":[{"p":1}]}}"#,
        );
        merged.add_root(root);
        let a = object_at(&merged, "a")[0];
        let ext = add(&mut merged, r#"{"n":null,"s":"new","m":2,"l":[{"q":2}]}"#);
        merged.extend(a, ext);
        let sources = object_at(&merged, "a");
        assert_eq!(sources.len(), 2);
        let value = merged.to_value(
            &Supergraph::parse(SUPERGRAPH).unwrap(),
            &Val::Objects(SmallVec::from_elem(a, 1)),
        );
        assert_eq!(
            value,
            serde_json::json!({"id":"1","n":{"x":1},"s":"new","l":[{"p":1,"q":2}],"m":2})
        );
    }

    #[test]
    fn an_interface_name_never_replaces_the_runtime_type() {
        let sg = Supergraph::parse(SUPERGRAPH).expect("fixture parses");
        let object = sg
            .api_schema
            .types
            .iter()
            .find(|(_, t)| matches!(t, apollo_compiler::schema::ExtendedType::Object(_)))
            .map(|(name, _)| name.to_string())
            .expect("an object type");
        let interface = sg
            .api_schema
            .types
            .iter()
            .find(|(_, t)| matches!(t, apollo_compiler::schema::ExtendedType::Interface(_)))
            .map(|(name, _)| name.to_string())
            .expect("an interface");
        let mut merged = Merged::default();
        let base = add(&mut merged, &format!(r#"{{"__typename":"{interface}"}}"#));
        let real = add(&mut merged, &format!(r#"{{"__typename":"{object}"}}"#));
        let again = add(&mut merged, &format!(r#"{{"__typename":"{interface}"}}"#));
        merged.extend(base, real);
        merged.extend(base, again);
        let sources = merged.expand(&[base]);
        assert_eq!(merged.typename(&sg, &sources), Some(object.as_str()));
    }
}
