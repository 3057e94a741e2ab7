//! Derives the API schema: the supergraph without federation machinery (`@link`ed spec
//! directives, `join__*`/`link__*` types) and without `@inaccessible` elements.

use super::parse::is_machinery;
use super::SupergraphError;
use apollo_compiler::ast::{self, Definition, DirectiveList};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Node, Schema};
use std::collections::HashSet;

/// Names of directives that belong to linked specs, plus the `@inaccessible` name in use.
struct Machinery {
    directives: HashSet<String>,
    prefixes: Vec<String>,
    inaccessible: String,
}

impl Machinery {
    fn from_schema(definitions: &[Definition]) -> Machinery {
        let mut m = Machinery {
            directives: ["link", "core"].map(String::from).into_iter().collect(),
            prefixes: vec!["join__".into(), "link__".into(), "core__".into()],
            inaccessible: "inaccessible".into(),
        };
        for def in definitions {
            let Definition::SchemaDefinition(schema) = def else {
                continue;
            };
            for directive in schema.directives.iter() {
                m.add_link(directive);
            }
        }
        m
    }

    fn add_link(&mut self, directive: &ast::Directive) {
        let url = match directive.name.as_str() {
            "link" => directive.specified_argument_by_name("url"),
            "core" => directive.specified_argument_by_name("feature"),
            _ => None,
        };
        let Some(url) = url.and_then(|v| v.as_str()) else {
            return;
        };
        let Some(rest) = url.strip_prefix("https://specs.apollo.dev/") else {
            return;
        };
        let spec = rest.split('/').next().unwrap_or_default().to_owned();
        let alias = directive
            .specified_argument_by_name("as")
            .and_then(|v| v.as_str())
            .map_or(spec.clone(), str::to_owned);
        if spec == "inaccessible" {
            self.inaccessible = alias.clone();
        }
        self.prefixes.push(format!("{alias}__"));
        self.directives.insert(alias);
        let imports = directive.specified_argument_by_name("import");
        for import in imports.and_then(|v| v.as_list()).into_iter().flatten() {
            let (name, renamed) = match import.as_ref() {
                ast::Value::String(s) => (s.as_str(), None),
                ast::Value::Object(fields) => {
                    let get = |k: &str| {
                        fields
                            .iter()
                            .find(|(n, _)| n == k)
                            .and_then(|(_, v)| v.as_str())
                    };
                    (get("name").unwrap_or_default(), get("as"))
                }
                _ => continue,
            };
            let local = renamed.unwrap_or(name);
            if let Some(directive) = local.strip_prefix('@') {
                if name == "@inaccessible" {
                    self.inaccessible = directive.to_owned();
                }
                self.directives.insert(directive.to_owned());
            }
        }
    }

    fn is_machinery_directive(&self, name: &str) -> bool {
        self.directives.contains(name) || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// A type a linked spec defines (`requiresScopes__Scope`, `policy__Policy`).
    fn is_spec_type(&self, name: &str) -> bool {
        self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    fn hidden(&self, directives: &DirectiveList) -> bool {
        directives
            .iter()
            .any(|d| d.name.as_str() == self.inaccessible)
    }

    fn strip(&self, directives: &mut DirectiveList) {
        directives
            .0
            .retain(|d| !self.is_machinery_directive(&d.name));
    }
}

/// Builds and validates the API schema of a supergraph.
pub(super) fn derive(supergraph_sdl: &str) -> Result<Valid<Schema>, SupergraphError> {
    let mut document = ast::Document::parse(supergraph_sdl, "supergraph.graphql")
        .map_err(|e| SupergraphError::InvalidSchema(crate::diagnostics::plain(&e.errors)))?;
    let machinery = Machinery::from_schema(&document.definitions);
    let hidden_types: HashSet<Name> = document
        .definitions
        .iter()
        .filter_map(|def| {
            let name = def.name()?;
            let hidden = is_machinery(name)
                || machinery.is_spec_type(name)
                || machinery.hidden(def.directives());
            hidden.then(|| name.clone())
        })
        .collect();
    document.definitions.retain(|def| match def {
        Definition::DirectiveDefinition(d) => !machinery.is_machinery_directive(&d.name),
        _ => def.name().is_none_or(|n| !hidden_types.contains(n)),
    });
    for def in &mut document.definitions {
        clean_definition(def, &machinery, &hidden_types);
    }
    Schema::parse_and_validate(document.to_string(), "api_schema.graphql")
        .map_err(|e| SupergraphError::InvalidApiSchema(crate::diagnostics::plain(&e.errors)))
}

fn clean_definition(def: &mut Definition, m: &Machinery, hidden_types: &HashSet<Name>) {
    match def {
        Definition::SchemaDefinition(schema) => m.strip(&mut schema.make_mut().directives),
        Definition::ObjectTypeDefinition(node) => {
            let ty = node.make_mut();
            m.strip(&mut ty.directives);
            ty.implements_interfaces
                .retain(|i| !hidden_types.contains(i));
            clean_fields(&mut ty.fields, m);
        }
        Definition::InterfaceTypeDefinition(node) => {
            let ty = node.make_mut();
            m.strip(&mut ty.directives);
            ty.implements_interfaces
                .retain(|i| !hidden_types.contains(i));
            clean_fields(&mut ty.fields, m);
        }
        Definition::UnionTypeDefinition(node) => {
            let ty = node.make_mut();
            m.strip(&mut ty.directives);
            ty.members.retain(|member| !hidden_types.contains(member));
        }
        Definition::EnumTypeDefinition(node) => {
            let ty = node.make_mut();
            m.strip(&mut ty.directives);
            ty.values.retain(|v| !m.hidden(&v.directives));
            for value in &mut ty.values {
                m.strip(&mut value.make_mut().directives);
            }
        }
        Definition::InputObjectTypeDefinition(node) => {
            let ty = node.make_mut();
            m.strip(&mut ty.directives);
            clean_inputs(&mut ty.fields, m);
        }
        Definition::ScalarTypeDefinition(node) => m.strip(&mut node.make_mut().directives),
        Definition::DirectiveDefinition(node) => clean_inputs(&mut node.make_mut().arguments, m),
        _ => {}
    }
}

fn clean_fields(fields: &mut Vec<Node<ast::FieldDefinition>>, m: &Machinery) {
    fields.retain(|f| !m.hidden(&f.directives));
    for field in fields {
        let field = field.make_mut();
        m.strip(&mut field.directives);
        clean_inputs(&mut field.arguments, m);
    }
}

fn clean_inputs(inputs: &mut Vec<Node<ast::InputValueDefinition>>, m: &Machinery) {
    inputs.retain(|i| !m.hidden(&i.directives));
    for input in inputs {
        m.strip(&mut input.make_mut().directives);
    }
}
