//! The selection strings of `@key`, `@requires` and `@provides` (`id organization { id }`).

use apollo_compiler::ast;

/// One selected field, with its sub-selection; `on` is set inside `... on T { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub name: String,
    pub on: Option<String>,
    pub children: Vec<Selection>,
}

/// Parses a field set; `None` when it is not a valid selection of fields (arguments are
/// allowed, as `@requires(fields: "price(currency: \"EUR\")")` needs; aliases, directives
/// and named fragments are not).
pub fn parse(text: &str) -> Option<Vec<Selection>> {
    let document = ast::Document::parse(format!("{{{text}}}"), "fieldset.graphql").ok()?;
    let [ast::Definition::OperationDefinition(operation)] = document.definitions.as_slice() else {
        return None;
    };
    let selections = convert(&operation.selection_set, None)?;
    (!selections.is_empty()).then_some(selections)
}

fn convert(set: &[ast::Selection], on: Option<&str>) -> Option<Vec<Selection>> {
    let mut out = Vec::new();
    for selection in set {
        match selection {
            ast::Selection::Field(field) => {
                if field.alias.is_some() || !field.directives.is_empty() {
                    return None;
                }
                out.push(Selection {
                    name: field.name.to_string(),
                    on: on.map(str::to_owned),
                    children: convert(&field.selection_set, None)?,
                });
            }
            ast::Selection::InlineFragment(fragment) => {
                let condition = fragment.type_condition.as_ref()?;
                if !fragment.directives.is_empty() {
                    return None;
                }
                out.extend(convert(&fragment.selection_set, Some(condition.as_str()))?);
            }
            ast::Selection::FragmentSpread(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_typed_selections() {
        let parsed = parse("id organization { id name }, ... on Book { isbn }").expect("valid");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].children.len(), 2);
        assert_eq!(parsed[2].on.as_deref(), Some("Book"));
        let with_arguments = parse(r#"price(currency: "EUR") id"#).expect("valid");
        assert_eq!(with_arguments[0].name, "price");
        for bad in [
            "",
            "{ id }",
            "id {",
            "id { }",
            "a: b",
            "a @skip(if: true)",
            "... Frag",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
