//! The inverse of composition: each subgraph's schema read back out of a supergraph, so a
//! schema check can recompose the unchanged subgraphs with a proposed one.

use std::fmt::Write;

use apollo_compiler::ast::{Definition, Directive, Document, Value};
use apollo_compiler::Node;

use super::print::quote;
use super::SubgraphInput;

const LINK: &str = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\", \"@shareable\", \"@external\", \"@requires\", \"@provides\", \"@override\", \"@inaccessible\", \"@tag\", \"@interfaceObject\"])\n";

/// Every subgraph of a supergraph, as SDL that composes back into an equivalent supergraph.
pub fn extract(supergraph: &str) -> Result<Vec<SubgraphInput>, String> {
    let document = Document::parse(supergraph, "supergraph.graphql")
        .map_err(|e| crate::diagnostics::plain(&e.errors))?;
    let graphs = graphs(&document)?;
    Ok(graphs
        .iter()
        .map(|(enum_name, name, url)| SubgraphInput {
            name: name.clone(),
            url: url.clone(),
            sdl: subgraph_sdl(&document, enum_name),
        })
        .collect())
}

/// `(enum value, name, url)` of every `join__Graph` value.
fn graphs(document: &Document) -> Result<Vec<(String, String, String)>, String> {
    for definition in &document.definitions {
        if let Definition::EnumTypeDefinition(def) = definition {
            if def.name == "join__Graph" {
                return Ok(def
                    .values
                    .iter()
                    .filter_map(|v| {
                        let graph = v.directives.get("join__graph")?;
                        Some((
                            v.value.to_string(),
                            arg(graph, "name")?,
                            arg(graph, "url").unwrap_or_default(),
                        ))
                    })
                    .collect());
            }
        }
    }
    Err("not a supergraph: no join__Graph enum".into())
}

fn arg(directive: &Node<Directive>, name: &str) -> Option<String> {
    match directive.specified_argument_by_name(name).map(|v| &**v) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Enum(e)) => Some(e.to_string()),
        Some(Value::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn in_graph<'a>(
    directives: impl Iterator<Item = &'a Node<Directive>>,
    graph: &str,
) -> Vec<&'a Node<Directive>> {
    directives
        .filter(|d| arg(d, "graph").as_deref() == Some(graph))
        .collect()
}

fn subgraph_sdl(document: &Document, graph: &str) -> String {
    let mut out = String::from(LINK);
    for definition in &document.definitions {
        let name = definition.name().map(|n| n.to_string()).unwrap_or_default();
        if name.starts_with("join__") || name.starts_with("link__") {
            continue;
        }
        let directives = definition.directives();
        let joins = in_graph(directives.get_all("join__type"), graph);
        if joins.is_empty() {
            continue;
        }
        let mut header = String::new();
        for join in &joins {
            if let Some(key) = arg(join, "key") {
                let resolvable = if arg(join, "resolvable").as_deref() == Some("false") {
                    ", resolvable: false"
                } else {
                    ""
                };
                let _ = write!(header, " @key(fields: {}{resolvable})", quote(&key));
            }
        }
        if joins
            .iter()
            .any(|j| arg(j, "isInterfaceObject").as_deref() == Some("true"))
        {
            header.push_str(" @interfaceObject");
        }
        header.push_str(&carried(directives.iter()));
        print_definition(
            &mut out,
            definition,
            graph,
            &header,
            graph_count(directives),
        );
    }
    out
}

/// How many distinct subgraphs define a type.
fn graph_count(directives: &apollo_compiler::ast::DirectiveList) -> usize {
    let mut graphs: Vec<String> = directives
        .get_all("join__type")
        .filter_map(|d| arg(d, "graph"))
        .collect();
    graphs.sort();
    graphs.dedup();
    graphs.len()
}

/// `@tag` and `@inaccessible` applied in the supergraph, carried into every subgraph.
fn carried<'a>(directives: impl Iterator<Item = &'a Node<Directive>>) -> String {
    directives
        .filter(|d| d.name == "tag" || d.name == "inaccessible" || d.name == "deprecated")
        .map(|d| format!(" {d}"))
        .collect()
}

fn print_definition(
    out: &mut String,
    definition: &Definition,
    graph: &str,
    header: &str,
    type_graphs: usize,
) {
    match definition {
        Definition::ObjectTypeDefinition(def) => {
            let implements: Vec<String> =
                in_graph(def.directives.get_all("join__implements"), graph)
                    .iter()
                    .filter_map(|d| arg(d, "interface"))
                    .collect();
            let implements = if implements.is_empty() {
                String::new()
            } else {
                format!(" implements {}", implements.join(" & "))
            };
            let is_interface_object = header.contains("@interfaceObject");
            let keyword = "type";
            let mut body = String::new();
            print_fields(
                &mut body,
                &def.fields,
                graph,
                is_interface_object,
                type_graphs,
            );
            // Apollo joins Query to every subgraph; one that adds no query field has none here.
            if !body.is_empty() {
                let _ = write!(
                    out,
                    "{keyword} {}{implements}{header} {{\n{body}}}\n",
                    def.name
                );
            }
        }
        Definition::InterfaceTypeDefinition(def) => {
            let object = header.contains("@interfaceObject");
            let mut body = String::new();
            print_fields(&mut body, &def.fields, graph, object, type_graphs);
            if !body.is_empty() {
                let keyword = if object { "type" } else { "interface" };
                let _ = write!(out, "{keyword} {}{header} {{\n{body}}}\n", def.name);
            }
        }
        Definition::UnionTypeDefinition(def) => {
            let members: Vec<String> = in_graph(def.directives.get_all("join__unionMember"), graph)
                .iter()
                .filter_map(|d| arg(d, "member"))
                .collect();
            let _ = writeln!(out, "union {}{header} = {}", def.name, members.join(" | "));
        }
        Definition::EnumTypeDefinition(def) => {
            let _ = writeln!(out, "enum {}{header} {{", def.name);
            for value in &def.values {
                let joins: Vec<_> = value.directives.get_all("join__enumValue").collect();
                if joins.is_empty() || !in_graph(joins.into_iter(), graph).is_empty() {
                    let _ = writeln!(out, "  {}{}", value.value, carried(value.directives.iter()));
                }
            }
            out.push_str("}\n");
        }
        Definition::InputObjectTypeDefinition(def) => {
            let _ = writeln!(out, "input {}{header} {{", def.name);
            for field in &def.fields {
                let joins: Vec<_> = field.directives.get_all("join__field").collect();
                if joins.is_empty() || !in_graph(joins.into_iter(), graph).is_empty() {
                    let default = field
                        .default_value
                        .as_ref()
                        .map(|v| format!(" = {v}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {}: {}{default}{}",
                        field.name,
                        field.ty,
                        carried(field.directives.iter())
                    );
                }
            }
            out.push_str("}\n");
        }
        Definition::ScalarTypeDefinition(def) => {
            let _ = writeln!(out, "scalar {}{header}", def.name);
        }
        _ => {}
    }
}

fn print_fields(
    out: &mut String,
    fields: &[Node<apollo_compiler::ast::FieldDefinition>],
    graph: &str,
    interface_object: bool,
    type_graphs: usize,
) {
    for field in fields {
        let joins: Vec<&Node<Directive>> = field.directives.get_all("join__field").collect();
        let mine = in_graph(joins.iter().copied(), graph);
        if !joins.is_empty() && mine.is_empty() {
            continue;
        }
        let mut directives = String::new();
        let mut ty = field.ty.to_string();
        if let Some(join) = mine.first() {
            if arg(join, "usedOverridden").as_deref() == Some("true") {
                continue;
            }
            if let Some(t) = arg(join, "type") {
                ty = t;
            }
            if arg(join, "external").as_deref() == Some("true") {
                directives.push_str(" @external");
            }
            for (name, directive) in [("requires", "requires"), ("provides", "provides")] {
                if let Some(fields) = arg(join, name) {
                    let _ = write!(directives, " @{directive}(fields: {})", quote(&fields));
                }
            }
            if let Some(from) = arg(join, "override") {
                let label = arg(join, "overrideLabel")
                    .map(|l| format!(", label: {}", quote(&l)))
                    .unwrap_or_default();
                let _ = write!(directives, " @override(from: {}{label})", quote(&from));
            }
        }
        // A field resolved by several subgraphs was shareable in each of them.
        let resolvers = if joins.is_empty() {
            type_graphs
        } else {
            joins
                .iter()
                .filter(|j| {
                    arg(j, "external").as_deref() != Some("true") && arg(j, "graph").is_some()
                })
                .count()
        };
        if resolvers > 1 && !directives.contains("@external") && !interface_object {
            directives.push_str(" @shareable");
        }
        directives.push_str(&carried(field.directives.iter()));
        let args: Vec<String> = field
            .arguments
            .iter()
            .map(|a| {
                let default = a
                    .default_value
                    .as_ref()
                    .map(|v| format!(" = {v}"))
                    .unwrap_or_default();
                format!(
                    "{}: {}{default}{}",
                    a.name,
                    a.ty,
                    carried(a.directives.iter())
                )
            })
            .collect();
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        let _ = writeln!(out, "  {}{args}: {ty}{directives}", field.name);
    }
}
