//! Satisfiability: every field of the API schema must be reachable by the planner, starting
//! from a root type and moving between subgraphs only through keys the next subgraph resolves.

use std::collections::{HashSet, VecDeque};

use super::merge::{Merged, MergedType};
use super::subgraph::{Kind, Subgraph};
use super::{fieldset, CompositionError, ErrorCode};

pub fn check(merged: &Merged, subgraphs: &[Subgraph], errors: &mut Vec<CompositionError>) {
    let reachable = reachable_states(merged, subgraphs);
    for ty in merged
        .types
        .values()
        .filter(|t| matches!(t.kind, Kind::Object))
    {
        if !reachable.iter().any(|(_, name)| name == &ty.name) {
            continue; // a type no query can reach has no field to satisfy
        }
        for field in ty.fields.values().filter(|f| !f.from_interface_object) {
            let satisfied =
                field.sources.iter().any(|s| {
                    !s.field.external
                        && resolvable_in(ty, s.graph)
                        && reachable.contains(&(s.graph, ty.name.clone()))
                }) || provided_somewhere(merged, subgraphs, &ty.name, &field.name, &reachable);
            let via_interface_object = ty.implements.keys().any(|i| {
                merged
                    .types
                    .get(i)
                    .is_some_and(|it| it.sources.iter().any(|s| s.interface_object))
            });
            if !satisfied && !via_interface_object {
                let graphs: Vec<&str> = field
                    .sources
                    .iter()
                    .map(|s| subgraphs[s.graph].name.as_str())
                    .collect();
                errors.push(CompositionError::new(
                    ErrorCode::SatisfiabilityError,
                    format!(
                        "field \"{}.{}\" cannot be reached by any query: no path from a root type reaches type \"{}\" in {} (it has no key those subgraphs can jump to)",
                        ty.name,
                        field.name,
                        ty.name,
                        graphs.join(", ")
                    ),
                ));
            }
        }
    }
}

fn resolvable_in(ty: &MergedType, graph: usize) -> bool {
    ty.sources.iter().any(|s| s.graph == graph)
}

/// A field external in S but provided by a reachable field of S is reachable too.
fn provided_somewhere(
    merged: &Merged,
    subgraphs: &[Subgraph],
    type_name: &str,
    field: &str,
    reachable: &HashSet<(usize, String)>,
) -> bool {
    merged.types.values().any(|parent| {
        parent.fields.values().any(|f| {
            f.ty.inner_named_type() == type_name
                && f.sources.iter().any(|s| {
                    reachable.contains(&(s.graph, parent.name.clone()))
                        && s.field
                            .provides
                            .as_deref()
                            .and_then(fieldset::parse)
                            .is_some_and(|sel| sel.iter().any(|x| x.name == field))
                        && subgraphs[s.graph].types.contains_key(type_name)
                })
        })
    })
}

/// All (subgraph, type) pairs a query can be in.
fn reachable_states(merged: &Merged, subgraphs: &[Subgraph]) -> HashSet<(usize, String)> {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    for root in ["Query", "Mutation", "Subscription"] {
        if let Some(ty) = merged.types.get(root) {
            for source in &ty.sources {
                queue.push_back((source.graph, root.to_owned()));
            }
        }
    }
    while let Some(state) = queue.pop_front() {
        if !seen.insert(state.clone()) {
            continue;
        }
        let (graph, name) = state;
        let Some(def) = subgraphs[graph].types.get(&name) else {
            continue;
        };
        for field in def.fields.values().filter(|f| !f.external) {
            let target = field.ty.inner_named_type().to_string();
            if let Some(target_def) = subgraphs[graph].types.get(&target) {
                queue.push_back((graph, target.clone()));
                if matches!(target_def.kind, Kind::Interface | Kind::Union)
                    || target_def.interface_object
                {
                    for implementation in implementations(subgraphs, graph, &target) {
                        queue.push_back((graph, implementation));
                    }
                }
            }
        }
        for other in key_jumps(merged, subgraphs, graph, &name) {
            queue.push_back((other, name.clone()));
        }
    }
    seen
}

fn implementations(subgraphs: &[Subgraph], graph: usize, abstract_type: &str) -> Vec<String> {
    subgraphs[graph]
        .types
        .values()
        .filter(|t| {
            t.implements.iter().any(|i| i == abstract_type)
                || subgraphs[graph]
                    .types
                    .get(abstract_type)
                    .is_some_and(|a| a.members.contains(&t.name))
        })
        .map(|t| t.name.clone())
        .collect()
}

/// Subgraphs `graph` can jump to for `type_name`: they have a resolvable key whose top-level
/// fields `graph` can produce.
fn key_jumps(merged: &Merged, subgraphs: &[Subgraph], graph: usize, type_name: &str) -> Vec<usize> {
    let Some(ty) = merged.types.get(type_name) else {
        return Vec::new();
    };
    let Some(here) = subgraphs[graph].types.get(type_name) else {
        return Vec::new();
    };
    ty.sources
        .iter()
        .filter(|s| s.graph != graph)
        .filter(|s| {
            s.keys.iter().any(|key| {
                key.resolvable
                    && fieldset::parse(&key.fields).is_some_and(|sel| {
                        sel.iter().all(|f| {
                            here.fields.get(&f.name).is_some_and(|d| !d.external)
                                || here
                                    .keys
                                    .iter()
                                    .any(|k| k.fields.split_whitespace().any(|w| w == f.name))
                        })
                    })
            }) || (s.interface_object && !here.keys.is_empty())
        })
        .map(|s| s.graph)
        .collect()
}
