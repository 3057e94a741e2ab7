//! Keeps planner-added fields (keys, `@requires`, `__typename`) from colliding with a
//! client field that uses the same response key for something else (`upc: name`).

use crate::operation::{FieldSelection, Selection};
use apollo_compiler::{ast, Name, Node};
use std::rc::Rc;

/// A client field at one level of the operation.
#[derive(Debug)]
pub(super) struct ClientField {
    key: Name,
    name: Name,
    arguments: Vec<Node<ast::Argument>>,
    /// The client's sub-selection (for fetches combined across paths, see [`agrees`]).
    selections: Vec<Selection>,
}

/// The client's fields at one level, fragments included.
pub(super) fn client_fields(selections: &[Selection]) -> Rc<[ClientField]> {
    let mut out = Vec::new();
    collect(selections, &mut out);
    out.into()
}

fn collect(selections: &[Selection], out: &mut Vec<ClientField>) {
    for selection in selections {
        match selection {
            Selection::Field(f) => out.push(ClientField {
                key: f.response_key().clone(),
                name: f.name.clone(),
                arguments: f.arguments.clone(),
                selections: f.selections.clone(),
            }),
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
                        && nested_agrees(&c.selections, &field.selections)
                })
        }
        Selection::Fragment(fragment) => agrees(client, &fragment.selections),
    })
}

/// [`agrees`] one level down, against the client's own selections there.
fn nested_agrees(client: &[Selection], selections: &[Selection]) -> bool {
    selections.iter().all(|selection| match selection {
        Selection::Field(field) => {
            field.alias.is_none()
                && same_key(client, &field.name)
                    .all(|c| c.name == field.name && c.arguments == field.arguments)
                && same_key(client, &field.name)
                    .all(|c| nested_agrees(&c.selections, &field.selections))
        }
        Selection::Fragment(fragment) => nested_agrees(client, &fragment.selections),
    })
}

/// The client's fields (fragments flattened) answered under `key`.
fn same_key<'s>(
    client: &'s [Selection],
    key: &'s Name,
) -> Box<dyn Iterator<Item = &'s FieldSelection> + 's> {
    Box::new(client.iter().flat_map(
        move |s| -> Box<dyn Iterator<Item = &'s FieldSelection> + 's> {
            match s {
                Selection::Field(f) if f.response_key() == key => Box::new(std::iter::once(f)),
                Selection::Field(_) => Box::new(std::iter::empty()),
                Selection::Fragment(fr) => same_key(&fr.selections, key),
            }
        },
    ))
}

fn conflicts(client: &[ClientField], field: &FieldSelection) -> bool {
    client.iter().any(|c| {
        c.key == *field.response_key() && (c.name != field.name || c.arguments != field.arguments)
    })
}
