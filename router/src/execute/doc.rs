//! A subgraph response parsed once into a flat tape of nodes (pre-order, each container
//! knowing where its subtree ends), referring back into the response bytes.
//!
//! Nothing is copied into an owned tree: strings without escapes stay spans of the body and
//! are written to the client verbatim (they are already valid JSON), so a response is
//! neither re-allocated per value nor re-escaped. Coalesced requests share one `Doc`.

use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

pub type NodeId = u32;

/// One value of the tape. Object members are a key node followed by the value's subtree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    /// A string without escapes: its content is `src[start..start + len]`.
    Raw {
        start: u32,
        len: u32,
    },
    /// A string that had escapes, unescaped into `owned[start..start + len]`.
    Owned {
        start: u32,
        len: u32,
    },
    /// `len` members; `end` is the id after the subtree.
    Object {
        len: u32,
        end: NodeId,
    },
    /// `len` items; `end` is the id after the subtree.
    Array {
        len: u32,
        end: NodeId,
    },
}

/// A parsed JSON document.
#[derive(Clone)]
pub struct Doc {
    src: Bytes,
    owned: String,
    nodes: Vec<Node>,
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Doc({} nodes)", self.nodes.len())
    }
}

impl Doc {
    /// Parses `src` (serde_json's parser: strict JSON, nesting limited to 128 levels).
    pub fn parse(src: Bytes) -> Result<Doc, serde_json::Error> {
        if u32::try_from(src.len()).is_err() {
            return Err(serde::de::Error::custom("response larger than 4 GiB"));
        }
        let mut builder = Builder {
            base: src.as_ptr() as usize,
            len: src.len(),
            owned: String::new(),
            nodes: Vec::with_capacity(src.len() / 12 + 4),
        };
        let mut de = serde_json::Deserializer::from_slice(&src);
        Tape { b: &mut builder }.deserialize(&mut de)?;
        de.end()?;
        Ok(Doc {
            owned: builder.owned,
            nodes: builder.nodes,
            src,
        })
    }

    /// The document of a value built elsewhere (a subscription event). The value came out
    /// of serde_json's parser, so it parses again; `null` if it ever did not.
    pub fn from_value(value: &Value) -> Doc {
        let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Doc::parse(Bytes::from(bytes)).unwrap_or_else(|_| Doc {
            src: Bytes::new(),
            owned: String::new(),
            nodes: vec![Node::Null],
        })
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: NodeId) -> Node {
        self.nodes.get(id as usize).copied().unwrap_or(Node::Null)
    }

    /// The id after `id`'s subtree.
    pub fn next(&self, id: NodeId) -> NodeId {
        match self.node(id) {
            Node::Object { end, .. } | Node::Array { end, .. } => end,
            _ => id + 1,
        }
    }

    /// The bytes of a string node (unescaped), `None` for other nodes.
    pub fn str_bytes(&self, id: NodeId) -> Option<&[u8]> {
        match self.node(id) {
            Node::Raw { start, len } => self.src.get(start as usize..(start + len) as usize),
            Node::Owned { start, len } => self
                .owned
                .as_bytes()
                .get(start as usize..(start + len) as usize),
            _ => None,
        }
    }

    pub fn str(&self, id: NodeId) -> Option<&str> {
        std::str::from_utf8(self.str_bytes(id)?).ok()
    }

    /// The members of an object node as `(key id, value id)`; nothing for other nodes.
    pub fn members(&self, id: NodeId) -> Members<'_> {
        let (next, end) = match self.node(id) {
            Node::Object { end, .. } => (id + 1, end),
            _ => (0, 0),
        };
        Members {
            doc: self,
            next,
            end,
        }
    }

    /// The items of an array node; nothing for other nodes.
    pub fn items(&self, id: NodeId) -> Items<'_> {
        let (next, end) = match self.node(id) {
            Node::Array { end, .. } => (id + 1, end),
            _ => (0, 0),
        };
        Items {
            doc: self,
            next,
            end,
        }
    }

    /// The value of member `key` of an object node.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.get_from(id, key, &mut 0)
    }

    /// [`Doc::get`] starting at member `*hint` (a key id; 0 for the first member) and
    /// wrapping around; on a match `*hint` moves past it. Subgraphs answer fields in the
    /// order they were asked, which is the order they are read in, so a walk over an
    /// object's fields is linear instead of quadratic.
    pub fn get_from(&self, id: NodeId, key: &str, hint: &mut NodeId) -> Option<NodeId> {
        let Node::Object { end, .. } = self.node(id) else {
            return None;
        };
        let start = if *hint > id && *hint < end {
            *hint
        } else {
            id + 1
        };
        let key = key.as_bytes();
        let found = self
            .scan(start, end, key)
            .or_else(|| self.scan(id + 1, start, key))?;
        *hint = self.next(found);
        Some(found)
    }

    /// The value of the member named `key` among the members from `from` to `to`.
    fn scan(&self, mut from: NodeId, to: NodeId, key: &[u8]) -> Option<NodeId> {
        while from < to {
            let value = from + 1;
            if self.str_bytes(from) == Some(key) {
                return Some(value);
            }
            from = self.next(value);
        }
        None
    }

    /// Renames member `alias` to `name` in every object reached from `id` by the member
    /// keys of `path` (arrays are walked through). The tape keeps its shape: only key nodes
    /// change, to strings in `owned`.
    pub fn rename(&mut self, id: NodeId, path: &[&str], alias: &str, name: &str) {
        match self.node(id) {
            Node::Array { .. } => {
                let items: Vec<NodeId> = self.items(id).collect();
                for item in items {
                    self.rename(item, path, alias, name);
                }
            }
            Node::Object { .. } => match path.split_first() {
                Some((first, rest)) => {
                    if let Some(child) = self.get(id, first) {
                        self.rename(child, rest, alias, name);
                    }
                }
                None => {
                    let keys: Vec<NodeId> = self
                        .members(id)
                        .filter(|(key, _)| self.str_bytes(*key) == Some(alias.as_bytes()))
                        .map(|(key, _)| key)
                        .collect();
                    for key in keys {
                        let start = self.owned.len() as u32;
                        self.owned.push_str(name);
                        let len = name.len() as u32;
                        self.nodes[key as usize] = Node::Owned { start, len };
                    }
                }
            },
            _ => {}
        }
    }

    /// Appends `id`'s subtree as JSON text.
    pub fn write(&self, id: NodeId, out: &mut Vec<u8>) {
        match self.node(id) {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::U64(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Node::I64(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Node::F64(n) => write_f64(n, out),
            Node::Raw { .. } => {
                out.push(b'"');
                out.extend_from_slice(self.str_bytes(id).unwrap_or_default());
                out.push(b'"');
            }
            Node::Owned { .. } => write_str(self.str(id).unwrap_or_default(), out),
            Node::Object { .. } => {
                out.push(b'{');
                for (i, (key, value)) in self.members(id).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(key, out);
                    out.push(b':');
                    self.write(value, out);
                }
                out.push(b'}');
            }
            Node::Array { .. } => {
                out.push(b'[');
                for (i, item) in self.items(id).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(item, out);
                }
                out.push(b']');
            }
        }
    }

    /// `id`'s subtree as an owned value (errors, context arguments: the cold paths).
    pub fn to_value(&self, id: NodeId) -> Value {
        let mut text = Vec::new();
        self.write(id, &mut text);
        serde_json::from_slice(&text).unwrap_or(Value::Null)
    }
}

/// A JSON string literal for `s`, escaped as serde_json escapes.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_f64(n: f64, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, &n);
}

pub struct Members<'d> {
    doc: &'d Doc,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Members<'_> {
    type Item = (NodeId, NodeId);

    fn next(&mut self) -> Option<(NodeId, NodeId)> {
        if self.next >= self.end {
            return None;
        }
        let key = self.next;
        let value = key + 1;
        self.next = self.doc.next(value);
        Some((key, value))
    }
}

pub struct Items<'d> {
    doc: &'d Doc,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Items<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let item = self.next;
        self.next = self.doc.next(item);
        Some(item)
    }
}

struct Builder {
    base: usize,
    len: usize,
    owned: String,
    nodes: Vec<Node>,
}

impl Builder {
    fn id(&self) -> NodeId {
        // Fits: a node takes at least one byte of a source checked to be under 4 GiB.
        self.nodes.len() as NodeId
    }

    fn string(&mut self, s: &str, borrowed: bool) {
        let offset = (s.as_ptr() as usize).wrapping_sub(self.base);
        if borrowed && offset <= self.len && s.len() <= self.len - offset {
            self.nodes.push(Node::Raw {
                start: offset as u32,
                len: s.len() as u32,
            });
            return;
        }
        let start = self.owned.len() as u32;
        self.owned.push_str(s);
        self.nodes.push(Node::Owned {
            start,
            len: s.len() as u32,
        });
    }
}

/// Parses one value into the builder's tape.
struct Tape<'b> {
    b: &'b mut Builder,
}

impl<'de> DeserializeSeed<'de> for Tape<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tape<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.b.nodes.push(Node::Null);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.b.nodes.push(Node::Bool(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.b.nodes.push(Node::U64(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.b.nodes.push(Node::I64(v));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.b.nodes.push(Node::F64(v));
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.b.string(v, true);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.b.string(v, false);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.b.nodes.len();
        self.b.nodes.push(Node::Null);
        let mut len = 0u32;
        while seq.next_element_seed(Tape { b: &mut *self.b })?.is_some() {
            len += 1;
        }
        let end = self.b.id();
        self.b.nodes[at] = Node::Array { len, end };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = self.b.nodes.len();
        self.b.nodes.push(Node::Null);
        let mut len = 0u32;
        // Keys are strings: serde_json hands them to the same string visits.
        while map.next_key_seed(Tape { b: &mut *self.b })?.is_some() {
            map.next_value_seed(Tape { b: &mut *self.b })?;
            len += 1;
        }
        let end = self.b.id();
        self.b.nodes[at] = Node::Object { len, end };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let doc = Doc::parse(Bytes::from(text.to_owned())).expect("valid JSON");
        let mut out = Vec::new();
        doc.write(0, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn writes_back_what_serde_json_would() {
        let text = r#"{"a":[1,-2,3.5,1e300,true,false,null],"b":{"c":"x\"y\n\u00e9","d":"plain é"},"e":[],"f":{}}"#;
        let expected = serde_json::to_string(&serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(round_trip(text), expected.unwrap());
    }

    #[test]
    fn navigates_members_and_items() {
        let doc = Doc::parse(Bytes::from_static(
            br#"{"x":{"y":[{"z":1},{"z":2}]},"w":"v"}"#,
        ))
        .expect("valid JSON");
        let y = doc.get(0, "x").and_then(|x| doc.get(x, "y")).expect("x.y");
        let zs: Vec<Value> = doc
            .items(y)
            .filter_map(|item| doc.get(item, "z"))
            .map(|z| doc.to_value(z))
            .collect();
        assert_eq!(zs, vec![Value::from(1), Value::from(2)]);
        assert_eq!(doc.get(0, "w").and_then(|w| doc.str(w)), Some("v"));
        assert_eq!(doc.get(0, "missing"), None);
    }

    #[test]
    fn refuses_malformed_and_too_deep_input() {
        for bad in ["{", "[1,]", r#"{"a":1}x"#, "\"\\ud800\"", &"[".repeat(200)] {
            assert!(Doc::parse(Bytes::from(bad.to_owned())).is_err(), "{bad}");
        }
    }
}
