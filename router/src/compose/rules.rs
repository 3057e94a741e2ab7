//! The federation rules checked after merging: keys, `@external`, `@requires`, `@provides`,
//! `@override`, field sharing and `@inaccessible`.

use std::collections::HashSet;

use super::fieldset::{self, Selection};
use super::merge::{Merged, MergedType};
use super::subgraph::{Kind, Subgraph};
use super::{CompositionError, ErrorCode};

/// Fields of `type_name` a subgraph uses in keys, requires and provides: the ones it may mark
/// `@external`, and (for keys) the ones that are shareable without saying so.
#[derive(Default)]
struct Usage {
    key_fields: HashSet<(usize, String, String)>,
    used_external: HashSet<(usize, String, String)>,
    /// Fields a subgraph still needs when another overrides them (Apollo's `usedOverridden`):
    /// named by a `@key`, `@requires` or `@provides`, or implementing an interface's field.
    referenced: HashSet<(usize, String, String)>,
}

pub fn check(merged: &mut Merged, subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) {
    let usage = check_field_sets(subgraphs, errors);
    apply_overrides(merged, subgraphs, &usage, errors);
    check_external(merged, subgraphs, &usage, errors);
    check_sharing(merged, subgraphs, &usage, errors);
    check_inaccessible(merged, errors);
}

/// Parses every `@key`, `@requires` and `@provides` and checks the fields they name.
fn check_field_sets(subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) -> Usage {
    let mut usage = Usage::default();
    for (graph, subgraph) in subgraphs.iter().enumerate() {
        for ty in subgraph.types.values() {
            for key in &ty.keys {
                let coordinate = format!(
                    "[{}] @key(fields: \"{}\") on \"{}\"",
                    subgraph.name, key.fields, ty.name
                );
                match fieldset::parse(&key.fields) {
                    None => errors.push(CompositionError::new(
                        ErrorCode::KeyInvalidFields,
                        format!("{coordinate}: not a valid field set"),
                    )),
                    Some(selections) => {
                        for field in walk(
                            subgraph,
                            &ty.name,
                            &selections,
                            &coordinate,
                            ErrorCode::KeyInvalidFields,
                            errors,
                        ) {
                            usage
                                .key_fields
                                .insert((graph, field.0.clone(), field.1.clone()));
                            usage
                                .referenced
                                .insert((graph, field.0.clone(), field.1.clone()));
                            usage.used_external.insert((graph, field.0, field.1));
                        }
                        check_key_args(subgraph, &ty.name, &selections, &coordinate, errors);
                    }
                }
            }
            for field in ty.fields.values() {
                if let Some(requires) = &field.requires {
                    let coordinate = format!(
                        "[{}] @requires(fields: \"{requires}\") on \"{}.{}\"",
                        subgraph.name, ty.name, field.name
                    );
                    let used = used_fields(
                        subgraph,
                        &ty.name,
                        requires,
                        &coordinate,
                        ErrorCode::RequiresInvalidFields,
                        errors,
                    );
                    usage
                        .referenced
                        .extend(used.iter().map(|(t, f)| (graph, t.clone(), f.clone())));
                    require_external(
                        subgraph,
                        graph,
                        &used,
                        &coordinate,
                        ErrorCode::RequiresFieldsMissingExternal,
                        &mut usage,
                        errors,
                    );
                }
                if let Some(provides) = &field.provides {
                    let coordinate = format!(
                        "[{}] @provides(fields: \"{provides}\") on \"{}.{}\"",
                        subgraph.name, ty.name, field.name
                    );
                    let target = field.ty.inner_named_type().to_string();
                    if !subgraph
                        .types
                        .get(&target)
                        .is_some_and(|t| matches!(t.kind, Kind::Object | Kind::Interface))
                    {
                        errors.push(CompositionError::new(
                            ErrorCode::ProvidesOnNonObjectField,
                            format!(
                                "{coordinate}: \"{target}\" is not an object or interface type"
                            ),
                        ));
                        continue;
                    }
                    let used = used_fields(
                        subgraph,
                        &target,
                        provides,
                        &coordinate,
                        ErrorCode::ProvidesInvalidFields,
                        errors,
                    );
                    usage
                        .referenced
                        .extend(used.iter().map(|(t, f)| (graph, t.clone(), f.clone())));
                    require_external(
                        subgraph,
                        graph,
                        &used,
                        &coordinate,
                        ErrorCode::ProvidesFieldsMissingExternal,
                        &mut usage,
                        errors,
                    );
                }
            }
        }
    }
    for (graph, subgraph) in subgraphs.iter().enumerate() {
        for used in context_fields(subgraph) {
            usage
                .used_external
                .insert((graph, used.0.clone(), used.1.clone()));
            usage.referenced.insert((graph, used.0, used.1));
        }
    }
    for (graph, subgraph) in subgraphs.iter().enumerate() {
        for ty in subgraph.types.values() {
            let interfaces = ty.implements.iter().filter_map(|i| subgraph.types.get(i));
            for field in interfaces.flat_map(|i| i.fields.keys()) {
                if ty.fields.contains_key(field) {
                    let used = (graph, ty.name.clone(), field.clone());
                    usage.referenced.insert(used);
                }
            }
        }
    }
    usage
}

/// The (type, field) pairs `@fromContext` selections read: `$owner ... on User { locale }`
/// reads `User.locale`; without a type condition, the field of every type setting the context.
fn context_fields(subgraph: &Subgraph) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let args = subgraph
        .types
        .values()
        .flat_map(|t| t.fields.values())
        .flat_map(|f| f.args.values());
    for field in args.filter_map(|a| a.common.from_context.as_deref()) {
        let Some((context, selection)) = super::features::split_context(field) else {
            continue;
        };
        let qualified = format!("{}__{context}", subgraph.name);
        let setters: Vec<&String> = subgraph
            .types
            .values()
            .filter(|t| t.common.contexts.contains(&qualified))
            .map(|t| &t.name)
            .collect();
        for selected in fieldset::parse(selection).unwrap_or_default() {
            match &selected.on {
                Some(ty) => out.push((ty.clone(), selected.name.clone())),
                None => out.extend(
                    setters
                        .iter()
                        .map(|t| ((*t).clone(), selected.name.clone())),
                ),
            }
        }
    }
    out
}

fn used_fields(
    subgraph: &Subgraph,
    type_name: &str,
    fields: &str,
    coordinate: &str,
    code: ErrorCode,
    errors: &mut Vec<CompositionError>,
) -> Vec<(String, String)> {
    match fieldset::parse(fields) {
        None => {
            errors.push(CompositionError::new(
                code,
                format!("{coordinate}: not a valid field set"),
            ));
            Vec::new()
        }
        Some(selections) => walk(subgraph, type_name, &selections, coordinate, code, errors),
    }
}

/// Every (type, field) a selection names, checking that each exists in the subgraph.
fn walk(
    subgraph: &Subgraph,
    type_name: &str,
    selections: &[Selection],
    coordinate: &str,
    code: ErrorCode,
    errors: &mut Vec<CompositionError>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for selection in selections {
        let owner = selection.on.as_deref().unwrap_or(type_name);
        let Some(field) = subgraph
            .types
            .get(owner)
            .and_then(|t| t.fields.get(&selection.name))
        else {
            errors.push(CompositionError::new(
                code,
                format!(
                    "{coordinate}: field \"{owner}.{}\" is not defined in subgraph \"{}\"",
                    selection.name, subgraph.name
                ),
            ));
            continue;
        };
        out.push((owner.to_owned(), selection.name.clone()));
        if !selection.children.is_empty() {
            let inner = field.ty.inner_named_type().to_string();
            out.extend(walk(
                subgraph,
                &inner,
                &selection.children,
                coordinate,
                code,
                errors,
            ));
        }
    }
    out
}

fn check_key_args(
    subgraph: &Subgraph,
    type_name: &str,
    selections: &[Selection],
    coordinate: &str,
    errors: &mut Vec<CompositionError>,
) {
    for selection in selections {
        let field = subgraph
            .types
            .get(type_name)
            .and_then(|t| t.fields.get(&selection.name));
        if field.is_some_and(|f| !f.args.is_empty()) {
            errors.push(CompositionError::new(
                ErrorCode::KeyFieldsHasArgs,
                format!(
                    "{coordinate}: field \"{type_name}.{}\" has arguments",
                    selection.name
                ),
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn require_external(
    subgraph: &Subgraph,
    graph: usize,
    used: &[(String, String)],
    coordinate: &str,
    code: ErrorCode,
    usage: &mut Usage,
    errors: &mut Vec<CompositionError>,
) {
    for (ty, field) in used {
        usage
            .used_external
            .insert((graph, ty.clone(), field.clone()));
        let external = subgraph
            .types
            .get(ty)
            .and_then(|t| t.fields.get(field))
            .is_some_and(|f| f.external);
        // Federation 1 allowed requiring key fields without @external on extensions.
        if !external && subgraph.fed2 && code == ErrorCode::RequiresFieldsMissingExternal {
            errors.push(CompositionError::new(code, format!("{coordinate}: field \"{ty}.{field}\" must be marked @external in subgraph \"{}\"", subgraph.name)));
        }
        if !external && subgraph.fed2 && code == ErrorCode::ProvidesFieldsMissingExternal {
            errors.push(CompositionError::new(code, format!("{coordinate}: field \"{ty}.{field}\" must be marked @external in subgraph \"{}\"", subgraph.name)));
        }
    }
}

/// `@override(from:)`: the overriding subgraph takes the field; the source keeps it only while
/// a progressive label may still route to it, or (as `usedOverridden`) when its keys need it.
fn apply_overrides(
    merged: &mut Merged,
    subgraphs: &[Subgraph],
    usage: &Usage,
    errors: &mut Vec<CompositionError>,
) {
    for ty in merged.types.values_mut() {
        for field in ty.fields.values_mut() {
            let overrides: Vec<(usize, String, Option<String>)> = field
                .sources
                .iter()
                .filter_map(|s| {
                    s.field
                        .override_from
                        .clone()
                        .map(|from| (s.graph, from, s.field.override_label.clone()))
                })
                .collect();
            for (graph, from, label) in overrides {
                let coordinate = format!("\"{}.{}\"", ty.name, field.name);
                if subgraphs[graph].name == from {
                    errors.push(CompositionError::new(
                        ErrorCode::OverrideFromSelfError,
                        format!("[{}] field {coordinate} cannot @override itself", from),
                    ));
                    continue;
                }
                let Some(index) = field
                    .sources
                    .iter()
                    .position(|s| subgraphs[s.graph].name == from)
                else {
                    continue; // overriding a subgraph that does not define it: nothing to take over
                };
                if field.sources[index].field.override_from.is_some() {
                    errors.push(CompositionError::new(ErrorCode::OverrideSourceHasOverride, format!("field {coordinate} is overridden by \"{}\" from \"{from}\", which itself overrides it", subgraphs[graph].name)));
                    continue;
                }
                let source_graph = field.sources[index].graph;
                if let Some(label) = label {
                    field.sources[index].override_label = Some(label);
                } else if usage.referenced.contains(&(
                    source_graph,
                    ty.name.clone(),
                    field.name.clone(),
                )) {
                    field.sources[index].used_overridden = true;
                } else {
                    field.sources.remove(index);
                }
            }
        }
    }
}

fn check_external(
    merged: &Merged,
    subgraphs: &[Subgraph],
    usage: &Usage,
    errors: &mut Vec<CompositionError>,
) {
    for ty in merged.types.values() {
        for field in ty.fields.values() {
            let externals: Vec<usize> = field
                .sources
                .iter()
                .filter(|s| s.field.external)
                .map(|s| s.graph)
                .collect();
            if externals.is_empty() {
                continue;
            }
            if field.sources.iter().all(|s| s.field.external) {
                let names: Vec<&str> = externals
                    .iter()
                    .map(|g| subgraphs[*g].name.as_str())
                    .collect();
                errors.push(CompositionError::new(
                    ErrorCode::ExternalMissingOnBase,
                    format!(
                        "field \"{}.{}\" is marked @external in {} but no subgraph resolves it",
                        ty.name,
                        field.name,
                        names.join(", ")
                    ),
                ));
            }
            for graph in externals {
                let used =
                    usage
                        .used_external
                        .contains(&(graph, ty.name.clone(), field.name.clone()));
                if !used
                    && subgraphs[graph].fed2
                    && !implements_used_interface(ty, field.name.as_str(), graph, subgraphs)
                {
                    errors.push(CompositionError::new(ErrorCode::ExternalUnused, format!("[{}] field \"{}.{}\" is marked @external but used by no @key, @requires or @provides", subgraphs[graph].name, ty.name, field.name)));
                }
            }
        }
    }
}

/// An external field kept only to satisfy an interface the type implements is allowed.
fn implements_used_interface(
    ty: &MergedType,
    field: &str,
    graph: usize,
    subgraphs: &[Subgraph],
) -> bool {
    let Some(def) = subgraphs[graph].types.get(&ty.name) else {
        return false;
    };
    def.implements.iter().any(|i| {
        subgraphs[graph]
            .types
            .get(i)
            .is_some_and(|it| it.fields.contains_key(field))
    })
}

/// A field resolved by several subgraphs must be shareable in each of them (key fields are).
fn check_sharing(
    merged: &Merged,
    subgraphs: &[Subgraph],
    usage: &Usage,
    errors: &mut Vec<CompositionError>,
) {
    for ty in merged
        .types
        .values()
        .filter(|t| matches!(t.kind, Kind::Object))
    {
        for field in ty.fields.values() {
            let resolving: Vec<_> = field
                .sources
                .iter()
                .filter(|s| {
                    !s.field.external
                        && !s.used_overridden
                        && s.override_label.is_none()
                        && s.field.override_label.is_none()
                })
                .collect();
            if resolving.len() < 2 {
                continue;
            }
            let unshared: Vec<&str> = resolving
                .iter()
                .filter(|s| {
                    !s.field.shareable
                        && !usage.key_fields.contains(&(
                            s.graph,
                            ty.name.clone(),
                            field.name.clone(),
                        ))
                })
                .map(|s| subgraphs[s.graph].name.as_str())
                .collect();
            if !unshared.is_empty() {
                let all: Vec<&str> = resolving
                    .iter()
                    .map(|s| subgraphs[s.graph].name.as_str())
                    .collect();
                errors.push(CompositionError::new(
                    ErrorCode::InvalidFieldSharing,
                    format!(
                        "non-shareable field \"{}.{}\" is resolved from multiple subgraphs: it is resolved from subgraphs {} and defined as non-shareable in {}",
                        ty.name,
                        field.name,
                        all.join(", "),
                        unshared.join(", ")
                    ),
                ));
            }
        }
    }
}

/// What `@inaccessible` may not hide, and what may not point at hidden things.
fn check_inaccessible(merged: &Merged, errors: &mut Vec<CompositionError>) {
    let hidden: HashSet<&str> = merged
        .types
        .values()
        .filter(|t| t.common.inaccessible)
        .map(|t| t.name.as_str())
        .collect();
    for ty in merged.types.values().filter(|t| !t.common.inaccessible) {
        let mut visible_children = 0;
        for field in ty.fields.values() {
            if field.common.inaccessible {
                if ty.kind == Kind::Input
                    && field.ty.is_non_null()
                    && field_default(field).is_none()
                {
                    errors.push(CompositionError::new(
                        ErrorCode::RequiredInaccessible,
                        format!(
                            "input field \"{}.{}\" is required but @inaccessible",
                            ty.name, field.name
                        ),
                    ));
                }
                continue;
            }
            visible_children += 1;
            let target = field.ty.inner_named_type().as_str();
            if hidden.contains(target) {
                errors.push(CompositionError::new(ErrorCode::ReferencedInaccessible, format!("field \"{}.{}\" returns @inaccessible type \"{target}\" but is not itself @inaccessible", ty.name, field.name)));
            }
            for arg in field.args.values() {
                if arg.common.inaccessible && arg.ty.is_non_null() && arg.default.is_none() {
                    errors.push(CompositionError::new(
                        ErrorCode::RequiredInaccessible,
                        format!(
                            "argument \"{}.{}({}:)\" is required but @inaccessible",
                            ty.name, field.name, arg.name
                        ),
                    ));
                }
                if !arg.common.inaccessible && hidden.contains(arg.ty.inner_named_type().as_str()) {
                    errors.push(CompositionError::new(ErrorCode::ReferencedInaccessible, format!("argument \"{}.{}({}:)\" has @inaccessible type but is not itself @inaccessible", ty.name, field.name, arg.name)));
                }
            }
        }
        visible_children += ty.values.values().filter(|(c, _)| !c.inaccessible).count();
        visible_children += ty
            .members
            .keys()
            .filter(|m| !hidden.contains(m.as_str()))
            .count();
        let has_children = !ty.fields.is_empty() || !ty.values.is_empty() || !ty.members.is_empty();
        if has_children && visible_children == 0 {
            errors.push(CompositionError::new(
                ErrorCode::OnlyInaccessibleChildren,
                format!(
                    "type \"{}\" is visible but all its children are @inaccessible",
                    ty.name
                ),
            ));
        }
    }
}

fn field_default(field: &super::merge::MergedField) -> Option<&String> {
    field
        .sources
        .iter()
        .find_map(|s| s.field.args.get("").and_then(|a| a.default.as_ref()))
}
