//! Printing the supergraph in the `@link`/`join__*` format Apollo's composition produces.

use std::fmt::Write;

use super::merge::{FieldSource, Merged, MergedField, MergedType};
use super::subgraph::{Arg, Common, Kind, Subgraph};

const JOIN_TYPE: &str = "directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR";
const TAG: &str = "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA";
const INACCESSIBLE: &str = "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION";

/// Enum value names of the subgraphs in `join__Graph` (`my-service` → `MY_SERVICE`).
pub fn graph_names(subgraphs: &[Subgraph]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for subgraph in subgraphs {
        let mut name: String = subgraph
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
            name.insert(0, '_');
        }
        let base = name.clone();
        let mut n = 1;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

pub fn print(merged: &Merged, subgraphs: &[Subgraph]) -> String {
    let graphs = graph_names(subgraphs);
    let uses = |f: &dyn Fn(&Common) -> bool| merged.types.values().any(|t| uses_in(t, f));
    let tags = uses(&|c| !c.tags.is_empty());
    let inaccessible = uses(&|c| c.inaccessible);
    let labels = merged
        .types
        .values()
        .flat_map(|t| t.fields.values())
        .flat_map(|f| &f.sources)
        .any(|s| s.override_label.is_some() || s.field.override_label.is_some());
    let used = super::features::Used::of(merged);
    let version = subgraphs.iter().map(|s| s.version).max().unwrap_or((2, 0));
    // Apollo's composition links the join version of the newest federation version used.
    let join = if used.joined || used.context || version >= (2, 8) {
        "v0.5"
    } else if labels || version >= (2, 7) {
        "v0.4"
    } else {
        "v0.3"
    };
    let v05 = join == "v0.5";
    let mut out = String::from("schema\n  @link(url: \"https://specs.apollo.dev/link/v1.0\")\n");
    let _ = writeln!(
        out,
        "  @link(url: \"https://specs.apollo.dev/join/{join}\", for: EXECUTION)"
    );
    if tags {
        out.push_str("  @link(url: \"https://specs.apollo.dev/tag/v0.3\")\n");
    }
    if inaccessible {
        out.push_str(
            "  @link(url: \"https://specs.apollo.dev/inaccessible/v0.2\", for: SECURITY)\n",
        );
    }
    used.links(&mut out);
    let mut custom_links: Vec<(&String, Vec<&String>)> = Vec::new();
    for (directive, url) in subgraphs.iter().flat_map(|s| &s.composed_links) {
        match custom_links.iter_mut().find(|(u, _)| *u == url) {
            Some((_, names)) if !names.contains(&directive) => names.push(directive),
            Some(_) => {}
            None => custom_links.push((url, vec![directive])),
        }
    }
    for (url, directives) in custom_links {
        let imports: Vec<String> = directives.iter().map(|d| quote(&format!("@{d}"))).collect();
        let _ = writeln!(
            out,
            "  @link(url: {}, import: [{}])",
            quote(url),
            imports.join(", ")
        );
    }
    out.push_str("{\n  query: Query\n");
    for root in ["mutation", "subscription"] {
        let name = format!("{}{}", root[..1].to_uppercase(), &root[1..]);
        if merged.types.contains_key(&name) {
            let _ = writeln!(out, "  {root}: {name}");
        }
    }
    out.push_str("}\n\n");
    if inaccessible {
        let _ = writeln!(out, "{INACCESSIBLE}\n");
    }
    used.definitions(&mut out);
    if v05 {
        out.push_str("directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION\n\n");
        out.push_str("input join__ContextArgument {\n  name: String!\n  type: String!\n  context: String!\n  selection: join__FieldValue!\n}\n\nscalar join__DirectiveArguments\n\nscalar join__FieldValue\n\n");
    }
    out.push_str("directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE\n\n");
    let label_arg = match join {
        "v0.5" => ", overrideLabel: String, contextArguments: [join__ContextArgument!]",
        "v0.4" => ", overrideLabel: String",
        _ => "",
    };
    let _ = writeln!(out, "directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean{label_arg}) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION\n");
    out.push_str("directive @join__graph(name: String!, url: String!) on ENUM_VALUE\n\n");
    out.push_str("directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE\n\n");
    let _ = writeln!(out, "{JOIN_TYPE}\n");
    out.push_str("directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION\n\n");
    out.push_str("directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA\n\n");
    if tags {
        let _ = writeln!(out, "{TAG}\n");
    }
    let mut custom: Vec<&String> = subgraphs
        .iter()
        .flat_map(|s| s.composed_directives.values())
        .collect();
    custom.sort();
    custom.dedup();
    for definition in custom {
        let _ = writeln!(out, "{definition}\n");
    }
    out.push_str("scalar join__FieldSet\n\nenum join__Graph {\n");
    for (graph, subgraph) in subgraphs.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} @join__graph(name: {}, url: {})",
            graphs[graph],
            quote(&subgraph.name),
            quote(&subgraph.url)
        );
    }
    out.push_str("}\n\nscalar link__Import\n\nenum link__Purpose {\n  \"\"\"\n  `SECURITY` features provide metadata necessary to securely resolve fields.\n  \"\"\"\n  SECURITY\n\n  \"\"\"\n  `EXECUTION` features provide metadata necessary for operation execution.\n  \"\"\"\n  EXECUTION\n}\n");
    let names_of: Vec<String> = subgraphs.iter().map(|s| s.name.clone()).collect();
    let mut names: Vec<&String> = merged.types.keys().collect();
    names.sort();
    for name in names {
        out.push('\n');
        print_type(&mut out, &merged.types[name], &graphs, &names_of);
    }
    out
}

fn uses_in(ty: &MergedType, f: &dyn Fn(&Common) -> bool) -> bool {
    f(&ty.common)
        || ty
            .fields
            .values()
            .any(|field| f(&field.common) || field.args.values().any(|a| f(&a.common)))
        || ty.values.values().any(|(c, _)| f(c))
}

fn print_type(out: &mut String, ty: &MergedType, graphs: &[String], names: &[String]) {
    description(out, &ty.common.description, "");
    out.push_str(ty.kind.keyword());
    out.push(' ');
    out.push_str(&ty.name);
    if !ty.implements.is_empty() {
        let names: Vec<&str> = ty.implements.keys().map(String::as_str).collect();
        let _ = write!(out, " implements {}", names.join(" & "));
        for (interface, in_graphs) in &ty.implements {
            for graph in in_graphs {
                let _ = write!(
                    out,
                    "\n  @join__implements(graph: {}, interface: {})",
                    graphs[*graph],
                    quote(interface)
                );
            }
        }
    }
    // Every subgraph has a Query root (its `_entities`/`_service` fields), so Apollo's
    // composition joins Query to every graph, including those that add no query field.
    let all_graphs: Vec<super::merge::TypeSource>;
    let sources = if ty.name == "Query" {
        all_graphs = (0..graphs.len())
            .map(|graph| super::merge::TypeSource {
                graph,
                keys: Vec::new(),
                extension: false,
                interface_object: false,
            })
            .collect();
        &all_graphs
    } else {
        &ty.sources
    };
    for source in sources {
        let mut args = format!("graph: {}", graphs[source.graph]);
        if source.keys.is_empty() {
            push_type_flags(&mut args, source.extension, true, source.interface_object);
            let _ = write!(out, "\n  @join__type({args})");
        }
        for key in &source.keys {
            let mut args = format!("{args}, key: {}", quote(&key.fields));
            push_type_flags(
                &mut args,
                source.extension,
                key.resolvable,
                source.interface_object,
            );
            let _ = write!(out, "\n  @join__type({args})");
        }
    }
    for (member, in_graphs) in &ty.members {
        for graph in in_graphs {
            let _ = write!(
                out,
                "\n  @join__unionMember(graph: {}, member: {})",
                graphs[*graph],
                quote(member)
            );
        }
    }
    applied(out, &ty.common);
    joined(out, &ty.common, graphs, names);
    match ty.kind {
        Kind::Scalar => out.push('\n'),
        Kind::Union => {
            let members: Vec<&str> = ty.members.keys().map(String::as_str).collect();
            let _ = writeln!(out, "\n = {}", members.join(" | "));
        }
        Kind::Enum => {
            out.push_str("\n{\n");
            for (value, (common, in_graphs)) in &ty.values {
                description(out, &common.description, "  ");
                let _ = write!(out, "  {value}");
                for graph in in_graphs {
                    let _ = write!(out, " @join__enumValue(graph: {})", graphs[*graph]);
                }
                applied(out, common);
                out.push('\n');
            }
            out.push_str("}\n");
        }
        Kind::Input => {
            out.push_str("\n{\n");
            for field in ty.fields.values() {
                let arg = field
                    .sources
                    .iter()
                    .find_map(|s| s.field.args.get(""))
                    .cloned();
                description(out, &field.common.description, "  ");
                let _ = write!(out, "  {}: {}", field.name, field.ty);
                if let Some(default) = arg.and_then(|a| a.default) {
                    let _ = write!(out, " = {default}");
                }
                applied(out, &field.common);
                out.push('\n');
            }
            out.push_str("}\n");
        }
        Kind::Object | Kind::Interface => {
            out.push_str("\n{\n");
            let type_graphs: Vec<usize> = sources.iter().map(|s| s.graph).collect();
            for field in ty.fields.values() {
                print_field(out, field, &type_graphs, graphs, names);
            }
            out.push_str("}\n");
        }
    }
}

fn push_type_flags(args: &mut String, extension: bool, resolvable: bool, interface_object: bool) {
    if extension {
        args.push_str(", extension: true");
    }
    if !resolvable {
        args.push_str(", resolvable: false");
    }
    if interface_object {
        args.push_str(", isInterfaceObject: true");
    }
}

fn print_field(
    out: &mut String,
    field: &MergedField,
    type_graphs: &[usize],
    graphs: &[String],
    names: &[String],
) {
    description(out, &field.common.description, "  ");
    let _ = write!(out, "  {}", field.name);
    if !field.args.is_empty() {
        let args: Vec<String> = field.args.values().map(print_arg).collect();
        let _ = write!(out, "({})", args.join(", "));
    }
    let _ = write!(out, ": {}", field.ty);
    if field.from_interface_object {
        out.push_str(" @join__field");
    } else if needs_join_field(field, type_graphs) {
        for source in &field.sources {
            let args = join_field_args(source, graphs, &names[source.graph]);
            let _ = write!(out, " @join__field({args})");
        }
    }
    applied(out, &field.common);
    joined(out, &field.common, graphs, names);
    out.push('\n');
}

/// Fields defined identically by every subgraph that defines the type need no `@join__field`.
fn needs_join_field(field: &MergedField, type_graphs: &[usize]) -> bool {
    let graphs: Vec<usize> = field.sources.iter().map(|s| s.graph).collect();
    graphs.len() != type_graphs.len()
        || field.sources.iter().any(|s| {
            s.field.external
                || s.field.requires.is_some()
                || s.field.provides.is_some()
                || s.field.override_from.is_some()
                || s.type_override.is_some()
                || s.used_overridden
                || s.override_label.is_some()
                || s.field
                    .args
                    .values()
                    .any(|a| a.common.from_context.is_some())
        })
}

fn join_field_args(source: &FieldSource, graphs: &[String], subgraph: &str) -> String {
    let mut args = format!("graph: {}", graphs[source.graph]);
    let field = &source.field;
    if let Some(requires) = &field.requires {
        let _ = write!(args, ", requires: {}", quote(requires));
    }
    if let Some(provides) = &field.provides {
        let _ = write!(args, ", provides: {}", quote(provides));
    }
    if let Some(ty) = &source.type_override {
        let _ = write!(args, ", type: {}", quote(ty));
    }
    if field.external {
        args.push_str(", external: true");
    }
    if let Some(from) = &field.override_from {
        let _ = write!(args, ", override: {}", quote(from));
    }
    if source.used_overridden {
        args.push_str(", usedOverridden: true");
    }
    if let Some(label) = field
        .override_label
        .as_ref()
        .or(source.override_label.as_ref())
    {
        let _ = write!(args, ", overrideLabel: {}", quote(label));
    }
    if let Some(context) = super::features::context_arguments(subgraph, &field.args) {
        let _ = write!(args, ", contextArguments: {context}");
    }
    args
}

fn print_arg(arg: &Arg) -> String {
    let mut out = String::new();
    if let Some(text) = &arg.common.description {
        let _ = write!(out, "{} ", quote(text));
    }
    let _ = write!(out, "{}: {}", arg.name, arg.ty);
    if let Some(default) = &arg.default {
        let _ = write!(out, " = {default}");
    }
    applied(&mut out, &arg.common);
    out
}

fn applied(out: &mut String, common: &Common) {
    for tag in &common.tags {
        let _ = write!(out, " @tag(name: {})", quote(tag));
    }
    if common.inaccessible {
        out.push_str(" @inaccessible");
    }
    if let Some(reason) = &common.deprecated {
        let _ = write!(out, " @deprecated(reason: {})", quote(reason));
    }
    for custom in &common.custom {
        let _ = write!(out, " {custom}");
    }
    super::features::applied(out, common);
}

/// `@join__directive`s: they name graphs, so only types and fields carry them.
fn joined(out: &mut String, common: &Common, graphs: &[String], names: &[String]) {
    let graph_of = |name: &str| {
        let index = names.iter().position(|n| n == name).unwrap_or_default();
        graphs[index].clone()
    };
    super::features::joined(out, common, &graph_of);
}

fn description(out: &mut String, text: &Option<String>, indent: &str) {
    if let Some(text) = text {
        let _ = writeln!(out, "{indent}\"\"\"");
        for line in text.replace("\"\"\"", "\\\"\"\"").lines() {
            let _ = writeln!(out, "{indent}{line}");
        }
        let _ = writeln!(out, "{indent}\"\"\"");
    }
}

/// A GraphQL string literal.
pub fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
