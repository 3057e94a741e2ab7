//! Subgraph operations valid against the subgraph's own schema. Fields that share a
//! response key must have the same response shape (GraphQL spec, SameResponseShape), and a
//! subgraph may type them differently from the supergraph: `A.id: ID!` and `B.id: ID` there,
//! both `ID` in the supergraph, so `... on A { id } ... on B { id }` is valid for the client
//! and not for the subgraph. As Apollo's planner does, every field whose shape differs from
//! the first one under its key is sent under an alias (`id__alias_0`), and the executor
//! renames it back in the subgraph's response before anything reads it.

use crate::operation::{FieldSelection, Selection};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::ast::Type;
use apollo_compiler::Name;

/// A member to rename in a subgraph response: in every object reached by `path` (response
/// keys of the subgraph's answer, lists walked through), `alias` becomes `name`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rename {
    pub path: Vec<Name>,
    pub alias: Name,
    pub name: Name,
}

/// Aliases the fields of `selections` (on `parent`, as `graph` types them) that would
/// conflict there; returns the renames that undo it, deepest first.
pub fn alias_conflicts(
    sg: &Supergraph,
    graph: GraphId,
    parent: &Name,
    selections: &mut [Selection],
) -> Vec<Rename> {
    let mut fields = Vec::new();
    collect(parent, selections, &mut fields);
    let mut pass = Pass {
        sg,
        graph,
        renames: Vec::new(),
        path: Vec::new(),
        counter: 0,
    };
    pass.scope(fields);
    pass.renames
        .sort_by_key(|r| std::cmp::Reverse(r.path.len()));
    pass.renames
}

type Scoped<'s> = (Name, &'s mut FieldSelection);

/// The fields of one selection set with their parent types, fragments flattened.
fn collect<'s>(parent: &Name, selections: &'s mut [Selection], out: &mut Vec<Scoped<'s>>) {
    for selection in selections {
        match selection {
            Selection::Field(field) => out.push((parent.clone(), field)),
            Selection::Fragment(fragment) => {
                collect(&fragment.type_condition, &mut fragment.selections, out)
            }
        }
    }
}

struct Pass<'a> {
    sg: &'a Supergraph,
    graph: GraphId,
    renames: Vec<Rename>,
    path: Vec<Name>,
    counter: usize,
}

impl Pass<'_> {
    /// One scope of SameResponseShape: fields merged under one response key, whose children
    /// are then checked together.
    fn scope(&mut self, mut fields: Vec<Scoped<'_>>) {
        let mut first: Vec<(Name, Type)> = Vec::new();
        let mut aliases: Vec<(Name, Type, Name)> = Vec::new();
        for (parent, field) in fields.iter_mut() {
            let key = field.response_key().clone();
            let ty = self.subgraph_type(parent, field);
            let Some((_, shape)) = first.iter().find(|(k, _)| *k == key) else {
                first.push((key, ty));
                continue;
            };
            if self.same_shape(shape, &ty) {
                continue;
            }
            let existing = aliases
                .iter()
                .find(|(k, t, _)| *k == key && self.same_shape(t, &ty));
            let alias = match existing {
                Some((_, _, alias)) => alias.clone(),
                None => {
                    let alias =
                        Name::new(&format!("{key}__alias_{}", self.counter)).expect("a valid name");
                    self.counter += 1;
                    aliases.push((key.clone(), ty, alias.clone()));
                    self.renames.push(Rename {
                        path: self.path.clone(),
                        alias: alias.clone(),
                        name: key,
                    });
                    alias
                }
            };
            field.alias = Some(alias);
        }
        let mut children: Vec<(Name, Vec<Scoped<'_>>)> = Vec::new();
        for (_, field) in fields {
            if field.selections.is_empty() {
                continue;
            }
            let key = field.response_key().clone();
            let child_parent = field.ty.inner_named_type().clone();
            let index = match children.iter().position(|(k, _)| *k == key) {
                Some(index) => index,
                None => {
                    children.push((key, Vec::new()));
                    children.len() - 1
                }
            };
            collect(&child_parent, &mut field.selections, &mut children[index].1);
        }
        for (key, fields) in children {
            self.path.push(key);
            self.scope(fields);
            self.path.pop();
        }
    }

    fn subgraph_type(&self, parent: &Name, field: &FieldSelection) -> Type {
        self.sg
            .subgraph_field_type(parent, &field.name, self.graph)
            .unwrap_or(&field.ty)
            .clone()
    }

    /// SameResponseShape for two field types: the same wrappers, and the same leaf type
    /// (composite types are compared through their fields, in the next scope).
    fn same_shape(&self, a: &Type, b: &Type) -> bool {
        match (a, b) {
            (Type::NonNullList(a), Type::NonNullList(b)) | (Type::List(a), Type::List(b)) => {
                self.same_shape(a, b)
            }
            (Type::NonNullNamed(a), Type::NonNullNamed(b)) | (Type::Named(a), Type::Named(b)) => {
                a == b || (self.sg.is_composite(a) && self.sg.is_composite(b))
            }
            _ => false,
        }
    }
}
