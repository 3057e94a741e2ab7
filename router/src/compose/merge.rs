//! Merging subgraph types into supergraph types: kinds, fields, arguments, enums, inputs,
//! unions, interfaces, descriptions and `@inaccessible`/`@tag`, by the federation rules.

use apollo_compiler::ast;
use indexmap::IndexMap;

use super::subgraph::{Arg, Common, Field, Kind, Subgraph, TypeDef};
use super::{CompositionError, ErrorCode};

/// A type as defined by one subgraph (for `@join__type`).
#[derive(Clone, Debug)]
pub struct TypeSource {
    pub graph: usize,
    pub keys: Vec<super::subgraph::Key>,
    pub extension: bool,
    pub interface_object: bool,
}

/// A field as defined by one subgraph (for `@join__field`).
#[derive(Clone, Debug)]
pub struct FieldSource {
    pub graph: usize,
    pub field: Field,
    /// Set when this subgraph's type differs from the merged type.
    pub type_override: Option<String>,
    /// Overridden by another subgraph but still needed here (it is part of a key).
    pub used_overridden: bool,
    /// Progressive override: the label under which this source is (or stops being) used.
    pub override_label: Option<String>,
}

#[derive(Clone, Debug)]
pub struct MergedField {
    pub name: String,
    pub ty: ast::Type,
    pub args: IndexMap<String, Arg>,
    pub sources: Vec<FieldSource>,
    pub common: Common,
    /// Fields an `@interfaceObject` adds to an implementation: `@join__field` without graph.
    pub from_interface_object: bool,
}

#[derive(Clone, Debug)]
pub struct MergedType {
    pub name: String,
    pub kind: Kind,
    pub sources: Vec<TypeSource>,
    pub fields: IndexMap<String, MergedField>,
    /// Union members and implemented interfaces, each with the graphs declaring it.
    pub members: IndexMap<String, Vec<usize>>,
    pub implements: IndexMap<String, Vec<usize>>,
    pub values: IndexMap<String, (Common, Vec<usize>)>,
    pub common: Common,
}

/// The merged schema before printing.
pub struct Merged {
    pub types: IndexMap<String, MergedType>,
}

pub fn merge(subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) -> Merged {
    let mut types: IndexMap<String, MergedType> = IndexMap::new();
    for (graph, subgraph) in subgraphs.iter().enumerate() {
        for ty in subgraph.types.values() {
            let kind = if ty.interface_object {
                Kind::Interface
            } else {
                ty.kind
            };
            let merged = types.entry(ty.name.clone()).or_insert_with(|| MergedType {
                name: ty.name.clone(),
                kind,
                sources: Vec::new(),
                fields: IndexMap::new(),
                members: IndexMap::new(),
                implements: IndexMap::new(),
                values: IndexMap::new(),
                common: Common::default(),
            });
            if merged.kind != kind {
                errors.push(CompositionError::new(
                    ErrorCode::TypeKindMismatch,
                    format!(
                        "type \"{}\" is a {} in subgraph \"{}\" but a {} elsewhere",
                        ty.name,
                        ty.kind.keyword(),
                        subgraph.name,
                        merged.kind.keyword()
                    ),
                ));
                continue;
            }
            add_type(merged, graph, ty);
        }
    }
    for ty in types.values_mut() {
        for field in ty.fields.values_mut() {
            merge_field(&ty.name, field, subgraphs, errors);
        }
    }
    let mut merged = Merged { types };
    merge_enums(&mut merged, subgraphs, errors);
    merge_inputs(&mut merged, subgraphs, errors);
    merged
}

fn add_type(merged: &mut MergedType, graph: usize, ty: &TypeDef) {
    merged.sources.push(TypeSource {
        graph,
        keys: ty.keys.clone(),
        extension: ty.extension,
        interface_object: ty.interface_object,
    });
    merge_common(&mut merged.common, &ty.common);
    for interface in &ty.implements {
        merged
            .implements
            .entry(interface.clone())
            .or_default()
            .push(graph);
    }
    for member in &ty.members {
        merged
            .members
            .entry(member.clone())
            .or_default()
            .push(graph);
    }
    for (value, common) in &ty.values {
        let entry = merged
            .values
            .entry(value.clone())
            .or_insert_with(|| (Common::default(), Vec::new()));
        merge_common(&mut entry.0, common);
        entry.1.push(graph);
    }
    for field in ty.fields.values() {
        let entry = merged
            .fields
            .entry(field.name.clone())
            .or_insert_with(|| MergedField {
                name: field.name.clone(),
                ty: field.ty.clone(),
                args: IndexMap::new(),
                sources: Vec::new(),
                common: Common::default(),
                from_interface_object: false,
            });
        merge_common(&mut entry.common, &field.common);
        entry.sources.push(FieldSource {
            graph,
            field: field.clone(),
            type_override: None,
            used_overridden: false,
            override_label: None,
        });
    }
}

/// Descriptions: the first subgraph's that has one; `@inaccessible` anywhere wins; tags add up.
pub fn merge_common(into: &mut Common, from: &Common) {
    if into.description.is_none() {
        into.description.clone_from(&from.description);
    }
    into.inaccessible |= from.inaccessible;
    for tag in &from.tags {
        if !into.tags.contains(tag) {
            into.tags.push(tag.clone());
        }
    }
    if into.deprecated.is_none() {
        into.deprecated.clone_from(&from.deprecated);
    }
    for custom in &from.custom {
        if !into.custom.contains(custom) {
            into.custom.push(custom.clone());
        }
    }
    for directive in &from.spec {
        super::features::merge_spec(&mut into.spec, directive.clone());
    }
    for joined in &from.joined {
        if !into.joined.contains(joined) {
            into.joined.push(joined.clone());
        }
    }
    for context in &from.contexts {
        if !into.contexts.contains(context) {
            into.contexts.push(context.clone());
        }
    }
}

/// Field type and arguments across the subgraphs defining the field.
fn merge_field(
    parent: &str,
    field: &mut MergedField,
    subgraphs: &[Subgraph],
    errors: &mut Vec<CompositionError>,
) {
    let is_input = field.sources.iter().all(|s| s.field.args.contains_key(""));
    let types: Vec<&ast::Type> = field.sources.iter().map(|s| &s.field.ty).collect();
    let subtype = |sup: &str, sub: &str| {
        subgraphs.iter().any(|g| {
            g.types
                .get(sub)
                .is_some_and(|t| t.implements.iter().any(|i| i == sup))
                || g.types
                    .get(sup)
                    .is_some_and(|t| t.members.iter().any(|m| m == sub))
        })
    };
    let no_subtypes = |_: &str, _: &str| false;
    let subtyping: &dyn Fn(&str, &str) -> bool = if is_input { &no_subtypes } else { &subtype };
    match merge_types(&types, !is_input, subtyping) {
        Some(ty) => field.ty = ty,
        None => {
            let detail: Vec<String> = field
                .sources
                .iter()
                .map(|s| {
                    format!(
                        "\"{}\" in subgraph \"{}\"",
                        s.field.ty, subgraphs[s.graph].name
                    )
                })
                .collect();
            errors.push(CompositionError::new(
                ErrorCode::FieldTypeMismatch,
                format!(
                    "type of field \"{parent}.{}\" is incompatible across subgraphs: {}",
                    field.name,
                    detail.join(", ")
                ),
            ));
            return;
        }
    }
    // As Apollo's composition: once one subgraph's type differs, every source names its own.
    if field.sources.iter().any(|s| s.field.ty != field.ty) {
        for source in &mut field.sources {
            source.type_override = Some(source.field.ty.to_string());
        }
    }
    if !is_input {
        field.args = merge_args(parent, field, subgraphs, errors);
    }
}

/// The merged type of one field: for outputs the least restrictive (nullable where any
/// subgraph is, the wider type where one subgraph returns a narrower one: `Pet` for `Cat`,
/// by `subtype(sup, sub)`), for inputs the most restrictive; `None` when the shapes differ.
pub fn merge_types(
    types: &[&ast::Type],
    output: bool,
    subtype: &dyn Fn(&str, &str) -> bool,
) -> Option<ast::Type> {
    let first = *types.first()?;
    types.iter().skip(1).try_fold(first.clone(), |acc, ty| {
        merge_two(&acc, ty, output, subtype)
    })
}

fn merge_two(
    a: &ast::Type,
    b: &ast::Type,
    output: bool,
    subtype: &dyn Fn(&str, &str) -> bool,
) -> Option<ast::Type> {
    use ast::Type as T;
    let non_null = |x: bool, y: bool| if output { x && y } else { x || y };
    match (a, b) {
        (T::Named(x) | T::NonNullNamed(x), T::Named(y) | T::NonNullNamed(y))
            if x == y || subtype(x, y) || subtype(y, x) =>
        {
            let x = if x == y || subtype(x, y) { x } else { y };
            let nn = non_null(
                matches!(a, T::NonNullNamed(_)),
                matches!(b, T::NonNullNamed(_)),
            );
            Some(if nn {
                T::NonNullNamed(x.clone())
            } else {
                T::Named(x.clone())
            })
        }
        (T::List(x) | T::NonNullList(x), T::List(y) | T::NonNullList(y)) => {
            let inner = Box::new(merge_two(x, y, output, subtype)?);
            let nn = non_null(
                matches!(a, T::NonNullList(_)),
                matches!(b, T::NonNullList(_)),
            );
            Some(if nn {
                T::NonNullList(inner)
            } else {
                T::List(inner)
            })
        }
        _ => None,
    }
}

/// Arguments present in every subgraph that resolves the field (others are dropped, except a
/// required one, which is an error), typed most restrictively, with agreeing defaults.
fn merge_args(
    parent: &str,
    field: &MergedField,
    subgraphs: &[Subgraph],
    errors: &mut Vec<CompositionError>,
) -> IndexMap<String, Arg> {
    let resolving: Vec<&FieldSource> = field.sources.iter().filter(|s| !s.field.external).collect();
    let sources = if resolving.is_empty() {
        field.sources.iter().collect()
    } else {
        resolving
    };
    let mut names: Vec<&String> = Vec::new();
    for source in &sources {
        for name in source.field.args.keys() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let mut out = IndexMap::new();
    for name in names {
        let defs: Vec<(&Arg, usize)> = sources
            .iter()
            .filter_map(|s| s.field.args.get(name).map(|a| (a, s.graph)))
            .collect();
        let coordinate = format!("{parent}.{}({name}:)", field.name);
        // Filled by the router from a context: not part of the API.
        if defs.iter().any(|(a, _)| a.common.from_context.is_some()) {
            continue;
        }
        if defs.len() < sources.len() {
            if defs
                .iter()
                .any(|(a, _)| a.ty.is_non_null() && a.default.is_none())
            {
                errors.push(CompositionError::new(
                    ErrorCode::RequiredArgumentMissingInSomeSubgraph,
                    format!("argument \"{coordinate}\" is required in some subgraphs but missing in others"),
                ));
            }
            continue;
        }
        let types: Vec<&ast::Type> = defs.iter().map(|(a, _)| &a.ty).collect();
        let Some(ty) = merge_types(&types, false, &|_, _| false) else {
            errors.push(CompositionError::new(
                ErrorCode::FieldArgumentTypeMismatch,
                format!("argument \"{coordinate}\" has incompatible types across subgraphs"),
            ));
            continue;
        };
        let defaults: Vec<&Option<String>> = defs.iter().map(|(a, _)| &a.default).collect();
        if defaults.windows(2).any(|w| w[0] != w[1]) {
            let graphs: Vec<&str> = defs
                .iter()
                .map(|(_, g)| subgraphs[*g].name.as_str())
                .collect();
            errors.push(CompositionError::new(
                ErrorCode::FieldArgumentDefaultMismatch,
                format!(
                    "argument \"{coordinate}\" has different default values in subgraphs {}",
                    graphs.join(", ")
                ),
            ));
        }
        let mut common = Common::default();
        for (arg, _) in &defs {
            merge_common(&mut common, &arg.common);
        }
        out.insert(
            name.clone(),
            Arg {
                name: name.clone(),
                ty,
                default: defs[0].0.default.clone(),
                common,
            },
        );
    }
    out
}

/// Where an enum is used decides how it merges: output-only enums take every value, input-only
/// enums only the values all subgraphs share, enums used both ways must agree exactly.
fn merge_enums(merged: &mut Merged, subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) {
    let (inputs, outputs) = enum_usage(merged);
    for ty in merged.types.values_mut().filter(|t| t.kind == Kind::Enum) {
        let defining = ty.sources.len();
        let partial: Vec<String> = ty
            .values
            .iter()
            .filter(|(_, (_, graphs))| graphs.len() < defining)
            .map(|(v, _)| v.clone())
            .collect();
        let (as_input, as_output) = (inputs.contains(&ty.name), outputs.contains(&ty.name));
        if partial.is_empty() || !as_input {
            continue;
        }
        if as_output {
            let graphs: Vec<&str> = ty
                .sources
                .iter()
                .map(|s| subgraphs[s.graph].name.as_str())
                .collect();
            errors.push(CompositionError::new(
                ErrorCode::EnumValueMismatch,
                format!(
                    "enum \"{}\" is used as input and output, so its values must be the same in all defining subgraphs ({}); values not everywhere: {}",
                    ty.name,
                    graphs.join(", "),
                    partial.join(", ")
                ),
            ));
            continue;
        }
        for value in &partial {
            ty.values.shift_remove(value);
        }
        if ty.values.is_empty() {
            errors.push(CompositionError::new(
                ErrorCode::EmptyMergedEnumType,
                format!(
                    "enum \"{}\" has no value common to all subgraphs defining it",
                    ty.name
                ),
            ));
        }
    }
}

fn enum_usage(merged: &Merged) -> (Vec<String>, Vec<String>) {
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for ty in merged.types.values() {
        for field in ty.fields.values() {
            let named = field.ty.inner_named_type().to_string();
            if ty.kind == Kind::Input {
                inputs.push(named);
            } else {
                outputs.push(named);
                inputs.extend(
                    field
                        .args
                        .values()
                        .map(|a| a.ty.inner_named_type().to_string()),
                );
                for source in &field.sources {
                    inputs.extend(
                        source
                            .field
                            .args
                            .values()
                            .map(|a| a.ty.inner_named_type().to_string()),
                    );
                }
            }
        }
    }
    (inputs, outputs)
}

/// Input objects keep only the fields every defining subgraph has; a required field missing
/// somewhere is an error, as are differing defaults.
fn merge_inputs(merged: &mut Merged, subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) {
    for ty in merged.types.values_mut().filter(|t| t.kind == Kind::Input) {
        let defining = ty.sources.len();
        let mut dropped = Vec::new();
        for field in ty.fields.values() {
            let arg_of = |s: &FieldSource| s.field.args.get("").cloned();
            let defs: Vec<Arg> = field.sources.iter().filter_map(arg_of).collect();
            if field.sources.len() < defining {
                if defs
                    .iter()
                    .any(|a| a.ty.is_non_null() && a.default.is_none())
                {
                    let graphs: Vec<&str> = field
                        .sources
                        .iter()
                        .map(|s| subgraphs[s.graph].name.as_str())
                        .collect();
                    errors.push(CompositionError::new(
                        ErrorCode::RequiredInputFieldMissingInSomeSubgraph,
                        format!(
                            "input field \"{}.{}\" is required in {} but missing in other subgraphs defining \"{}\"",
                            ty.name,
                            field.name,
                            graphs.join(", "),
                            ty.name
                        ),
                    ));
                }
                dropped.push(field.name.clone());
                continue;
            }
            if defs.windows(2).any(|w| w[0].default != w[1].default) {
                errors.push(CompositionError::new(
                    ErrorCode::InputFieldDefaultMismatch,
                    format!(
                        "input field \"{}.{}\" has different default values across subgraphs",
                        ty.name, field.name
                    ),
                ));
            }
        }
        for name in dropped {
            ty.fields.shift_remove(&name);
        }
        if ty.fields.is_empty() {
            errors.push(CompositionError::new(
                ErrorCode::EmptyMergedInputType,
                format!(
                    "input type \"{}\" has no field common to all subgraphs defining it",
                    ty.name
                ),
            ));
        }
    }
}
