//! Keeps planner-added fields (keys, `@requires`, `__typename`) from colliding with a
//! client field that uses the same response key for something else (`upc: name`).

use crate::operation::{FieldSelection, Selection};
use apollo_compiler::{ast, Name, Node};
use std::rc::Rc;

/// A client field at one level of the operation.
#[derive(Debug, PartialEq)]
pub(super) struct ClientField {
    pub(super) key: Name,
    name: Name,
    arguments: Vec<Node<ast::Argument>>,
    /// The client's fields one level down, under this key (every same-key field merged).
    pub(super) children: Rc<[ClientField]>,
}

/// The client's fields at one level, fragments included, with the levels below.
pub(super) fn client_fields(selections: &[Selection]) -> Rc<[ClientField]> {
    level(&[selections])
}

fn level(sets: &[&[Selection]]) -> Rc<[ClientField]> {
    let mut fields: Vec<&FieldSelection> = Vec::new();
    for set in sets {
        collect(set, &mut fields);
    }
    let mut out: Vec<ClientField> = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let key = field.response_key();
        let same_key: Vec<&[Selection]> = fields[i..]
            .iter()
            .filter(|f| f.response_key() == key)
            .map(|f| f.selections.as_slice())
            .collect();
        let first = fields[..i].iter().any(|f| f.response_key() == key);
        let children = if first || same_key.iter().all(|s| s.is_empty()) {
            Rc::from(Vec::new())
        } else {
            level(&same_key)
        };
        out.push(ClientField {
            key: key.clone(),
            name: field.name.clone(),
            arguments: field.arguments.clone(),
            children,
        });
    }
    out.into()
}

fn collect<'s>(selections: &'s [Selection], out: &mut Vec<&'s FieldSelection>) {
    for selection in selections {
        match selection {
            Selection::Field(f) => out.push(f),
            Selection::Fragment(f) => collect(&f.selections, out),
        }
    }
}

/// Aliases each top-level field of `selections` (fragments share the level, so theirs too)
/// whose name is a client response key bound to a different field. Representations are
/// built from field names, so aliases are safe.
pub(super) fn avoid_conflicts(
    client: &[ClientField],
    selections: Vec<Selection>,
) -> Vec<Selection> {
    selections
        .into_iter()
        .map(|selection| match selection {
            Selection::Field(field) if conflicts(client, &field) => {
                let alias = format!("{}__internal", field.name);
                let alias = Name::new(&alias).expect("a name plus a suffix is a name");
                Selection::Field(FieldSelection {
                    alias: Some(alias),
                    ..field
                })
            }
            Selection::Fragment(mut fragment) => {
                fragment.selections = avoid_conflicts(client, fragment.selections);
                Selection::Fragment(fragment)
            }
            other => other,
        })
        .collect()
}

/// Whether `selections`, answered for objects that also sit where the client selected
/// `client`, read every response key as the client meant it there: no aliases in them, and
/// each field the client also selected there (at any depth) is the same field.
pub(super) fn agrees(client: &[ClientField], selections: &[Selection]) -> bool {
    selections.iter().all(|selection| match selection {
        Selection::Field(field) => {
            field.alias.is_none()
                && client.iter().filter(|c| c.key == field.name).all(|c| {
                    c.name == field.name
                        && c.arguments == field.arguments
                        && agrees(&c.children, &field.selections)
                })
        }
        Selection::Fragment(fragment) => agrees(client, &fragment.selections),
    })
}

fn conflicts(client: &[ClientField], field: &FieldSelection) -> bool {
    client.iter().any(|c| {
        c.key == *field.response_key() && (c.name != field.name || c.arguments != field.arguments)
    })
}
