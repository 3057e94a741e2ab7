//! `@requires` fields that take arguments. One field can be required with different
//! arguments by different fields (`usd` requires `price(currency: "USD")`, `eur` requires
//! `price(currency: "EUR")`): each argument set is fetched under an alias of its own
//! (`price__requires_0`), and since a representation holds a field once, by name, entity
//! fetches whose representations disagree on a field's arguments stay separate requests.

use super::Planner;
use crate::operation::{FieldSelection, Selection};
use apollo_compiler::Name;

impl Planner<'_> {
    /// `requires` with every field that takes arguments aliased by its argument set.
    pub(super) fn alias_arguments(&mut self, requires: &[Selection]) -> Vec<Selection> {
        requires
            .iter()
            .map(|selection| match selection {
                Selection::Field(field) if !field.arguments.is_empty() => {
                    let index = self.required_argument_index(field);
                    let alias = Name::new(&format!("{}__requires_{index}", field.name))
                        .expect("a name plus a suffix is a name");
                    Selection::Field(FieldSelection {
                        alias: Some(alias),
                        ..field.clone()
                    })
                }
                other => other.clone(),
            })
            .collect()
    }

    fn required_argument_index(&mut self, field: &FieldSelection) -> usize {
        let known = self
            .required_arguments
            .iter()
            .position(|f| f.name == field.name && f.arguments == field.arguments);
        known.unwrap_or_else(|| {
            self.required_arguments.push(FieldSelection {
                selections: Vec::new(),
                ..field.clone()
            });
            self.required_arguments.len() - 1
        })
    }
}
