//! Post-planning merges of fetch groups that cut requests without adding round trips.

use super::aliases::agrees;
use super::tree::Group;
use crate::operation::{merge_all, FieldSelection, Selection};
use crate::supergraph::Supergraph;
use apollo_compiler::Name;

/// Folds an entity group nothing depends on into a later group of the same subgraph, path
/// and parent (one waiting for `@requires` data): one request fewer, and no extra round trip
/// because the later group runs at a later step anyway. Returns the renumbered roots.
pub(super) fn merge_into_waiting_groups(groups: &mut Vec<Group>, roots: &[usize]) -> Vec<usize> {
    let mut removed = vec![false; groups.len()];
    for i in 0..groups.len() {
        let has_dependents = groups
            .iter()
            .any(|g| g.deps.contains(&i) || g.parent == Some(i));
        // Context groups stay apart: their requests are split by context values.
        if groups[i].representation.is_none()
            || groups[i].for_requires
            || has_dependents
            || !groups[i].context.is_empty()
        {
            continue;
        }
        let target = (0..groups.len()).find(|&j| {
            let (a, b) = (&groups[i], &groups[j]);
            !removed[j]
                && b.for_requires
                && b.context.is_empty()
                && a.graph == b.graph
                && a.path == b.path
                && a.parent == b.parent
                && mergeable_representations(b, a)
        });
        let Some(j) = target else { continue };
        let selections = std::mem::take(&mut groups[i].selections);
        let representation = groups[i].representation.take().unwrap_or_default();
        merge_all(&mut groups[j].selections, selections);
        merge_all(
            groups[j].representation.get_or_insert_with(Vec::new),
            representation,
        );
        removed[i] = true;
    }
    remove_groups(groups, &removed, roots)
}

/// Drops the groups marked `removed` and renumbers every reference to the others.
fn remove_groups(groups: &mut Vec<Group>, removed: &[bool], roots: &[usize]) -> Vec<usize> {
    let mut new_index = Vec::with_capacity(groups.len());
    let mut next = 0;
    for &gone in removed {
        new_index.push(next);
        next += usize::from(!gone);
    }
    let mut i = 0;
    groups.retain(|_| {
        i += 1;
        !removed[i - 1]
    });
    for group in groups.iter_mut() {
        group.deps.iter_mut().for_each(|d| *d = new_index[*d]);
        group.parent = group.parent.map(|p| new_index[p]);
    }
    roots.iter().map(|&r| new_index[r]).collect()
}

/// Combines entity fetches to one subgraph that run at the same step into one `_entities`
/// request whose representations come from all their paths, so each plan step sends at
/// most one request per subgraph. Skipped when the selections disagree on what a response
/// key means.
///
/// The same step means the same dependencies, or, with `by_level` (a query planned in
/// dependency levels, where every fetch of a level waits for the whole previous level
/// anyway), the same level: the combined fetch depends on both sets, all one level up.
pub(super) fn merge_sibling_fetches(
    sg: &Supergraph,
    groups: &mut Vec<Group>,
    roots: &[usize],
    by_level: bool,
) -> Vec<usize> {
    let level = dependency_levels(groups);
    let mut removed = vec![false; groups.len()];
    for j in 0..groups.len() {
        // A context group reads its values relative to its one path.
        if groups[j].representation.is_none() || !groups[j].context.is_empty() {
            continue;
        }
        let target = (0..j).find(|&i| {
            let (a, b) = (&groups[i], &groups[j]);
            !removed[i]
                && a.representation.is_some()
                && a.context.is_empty()
                && a.graph == b.graph
                && (same_set(&a.deps, &b.deps) || (by_level && level[i] == level[j]))
                && compatible(&a.selections, &b.selections)
                && mergeable_representations(a, b)
                && (a.path == b.path || across_paths(sg, a, b))
        });
        let Some(i) = target else { continue };
        for dep in std::mem::take(&mut groups[j].deps) {
            if !groups[i].deps.contains(&dep) {
                groups[i].deps.push(dep);
            }
        }
        let selections = std::mem::take(&mut groups[j].selections);
        let representation = groups[j].representation.take().unwrap_or_default();
        let mut paths = vec![std::mem::take(&mut groups[j].path)];
        paths.append(&mut groups[j].extra_paths);
        let into = &mut groups[i];
        merge_all(&mut into.selections, selections);
        merge_all(
            into.representation.get_or_insert_with(Vec::new),
            representation,
        );
        for path in paths {
            if into.path != path && !into.extra_paths.contains(&path) {
                into.extra_paths.push(path);
            }
        }
        for client in std::mem::take(&mut groups[j].client) {
            groups[i].add_client(client);
        }
        redirect(groups, j, i);
        removed[j] = true;
    }
    remove_groups(groups, &removed, roots)
}

/// Each group's level: 0 without dependencies, else one more than its deepest dependency.
pub(super) fn dependency_levels(groups: &[Group]) -> Vec<usize> {
    let mut level = vec![0usize; groups.len()];
    // Reused groups can gain later-created dependencies: iterate to a fixpoint (the
    // dependency graph is acyclic, so `groups.len()` rounds always suffice).
    for _ in 0..groups.len() {
        let mut changed = false;
        for (i, group) in groups.iter().enumerate() {
            let l = group.deps.iter().map(|&d| level[d] + 1).max().unwrap_or(0);
            changed |= l != level[i];
            level[i] = l;
        }
        if !changed {
            break;
        }
    }
    level
}

fn same_set(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Points every reference to group `from` at group `to`.
fn redirect(groups: &mut [Group], from: usize, to: usize) {
    for group in groups.iter_mut() {
        if group.deps.contains(&from) {
            group.deps.retain(|&d| d != from);
            if !group.deps.contains(&to) {
                group.deps.push(to);
            }
        }
        if group.parent == Some(from) {
            group.parent = Some(to);
        }
    }
}

/// Whether two representations can be one: they are written by field name, so a field
/// required with other arguments (`price(currency: "USD")` and `"EUR"`) needs a fetch of
/// its own.
pub(super) fn representations_compatible(a: &[Selection], b: &[Selection]) -> bool {
    one_field_per(a, b, |f| &f.name)
}

/// Entities at `a`'s paths may also be at `b`'s (one object, deduplicated): each group's
/// answers must mean the same at the other's paths.
fn across_paths(sg: &Supergraph, a: &Group, b: &Group) -> bool {
    let types = |g: &Group| -> Vec<Name> {
        let representation = g.representation.as_deref().unwrap_or_default();
        representation
            .iter()
            .filter_map(|s| match s {
                Selection::Fragment(f) => Some(f.type_condition.clone()),
                Selection::Field(_) => None,
            })
            .collect()
    };
    let (ta, tb) = (types(a), types(b));
    // Different entity types are different objects (an interface and its implementations
    // are not different).
    let overlap = |x: &Name, y: &Name| sg.applies(x, y) || sg.applies(y, x);
    if !ta.iter().any(|x| tb.iter().any(|y| overlap(x, y))) {
        return true;
    }
    b.client.iter().all(|c| agrees(c, &a.selections))
        && a.client.iter().all(|c| agrees(c, &b.selections))
}

fn mergeable_representations(a: &Group, b: &Group) -> bool {
    match (&a.representation, &b.representation) {
        (Some(a), Some(b)) => representations_compatible(a, b),
        _ => true,
    }
}

/// Whether merging `b` into `a` keeps every response key bound to one field.
fn compatible(a: &[Selection], b: &[Selection]) -> bool {
    one_field_per(a, b, FieldSelection::response_key)
}

/// Whether the fields of `a` and `b` that share a `key` (at every depth, per type
/// condition) are the same field with the same arguments.
fn one_field_per(a: &[Selection], b: &[Selection], key: fn(&FieldSelection) -> &Name) -> bool {
    b.iter().all(|sb| match sb {
        Selection::Field(fb) => a.iter().all(|sa| match sa {
            Selection::Field(fa) if key(fa) == key(fb) => {
                fa.name == fb.name
                    && fa.arguments == fb.arguments
                    && one_field_per(&fa.selections, &fb.selections, key)
            }
            _ => true,
        }),
        Selection::Fragment(fb) => a.iter().all(|sa| match sa {
            Selection::Fragment(fa) if fa.type_condition == fb.type_condition => {
                one_field_per(&fa.selections, &fb.selections, key)
            }
            _ => true,
        }),
    })
}
