//! Turns fetch groups into a plan tree and prints each group's subgraph operation.

use super::merge::{dependency_levels, merge_into_waiting_groups, merge_sibling_fetches};
use super::shapes::alias_conflicts;
use super::{ContextFetch, ContextRewrite, FetchNode, PathSegment, PlanNode};
use crate::operation::{print_selections, variable_usages, NormalizedOperation, Selection};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::ast::OperationType;
use std::fmt::Write as _;

/// A fetch under construction: everything one subgraph request will carry.
#[derive(Debug)]
pub(super) struct Group {
    pub graph: GraphId,
    /// Where the fetched data merges into the response.
    pub path: Vec<PathSegment>,
    /// More merge paths, when sibling fetches to one subgraph were combined into one request.
    pub extra_paths: Vec<Vec<PathSegment>>,
    /// The group whose data this entity group's representations come from.
    pub parent: Option<usize>,
    /// `Some` for entity fetches: the representation shape per entity type.
    pub representation: Option<Vec<Selection>>,
    /// Created for a `@requires` field: waits for every group fetching required data.
    pub for_requires: bool,
    pub selections: Vec<Selection>,
    pub deps: Vec<usize>,
    /// `@fromContext` arguments of the group's fields (entity groups only).
    pub context: Vec<ContextRewrite>,
    /// The client's fields where the entities sit, one list per path: an entity found at
    /// two paths is one object, so a request combined across paths must not answer a key
    /// that means something else at the other path.
    pub client: Vec<std::rc::Rc<[super::aliases::ClientField]>>,
}

impl Group {
    /// Notes the client's fields at one more path; equal lists (the same selections at many
    /// paths) are kept once.
    pub fn add_client(&mut self, client: std::rc::Rc<[super::aliases::ClientField]>) {
        if !self.client.iter().any(|c| **c == *client) {
            self.client.push(client);
        }
    }

    pub fn new(
        graph: GraphId,
        path: Vec<PathSegment>,
        parent: Option<usize>,
        representation: Option<Vec<Selection>>,
        deps: Vec<usize>,
    ) -> Group {
        Group {
            graph,
            path,
            extra_paths: Vec::new(),
            parent,
            representation,
            for_requires: false,
            selections: Vec::new(),
            deps,
            context: Vec::new(),
            client: Vec::new(),
        }
    }
}

/// Builds the tree: a forest of groups nests as `Sequence[fetch, Parallel[children]]` so each
/// branch proceeds as soon as its own parent is done; groups with several dependencies
/// (`@requires`) fall back to dependency levels. Mutation root groups run in sequence.
pub(super) fn build_tree(
    sg: &Supergraph,
    op: &NormalizedOperation,
    mut groups: Vec<Group>,
    roots: &[usize],
) -> Option<PlanNode> {
    let roots = merge_into_waiting_groups(&mut groups, roots);
    let by_level = op.kind != OperationType::Mutation && groups.iter().any(|g| g.deps.len() > 1);
    let roots = merge_sibling_fetches(sg, &mut groups, &roots, by_level);
    let roots = roots.as_slice();
    let nodes: Vec<PlanNode> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| fetch_node(sg, op, g, i))
        .collect();
    let forest = groups.iter().all(|g| g.deps.len() <= 1);
    let per_root: Vec<PlanNode> = roots
        .iter()
        .map(|&root| {
            if forest {
                subtree(&groups, &nodes, root)
            } else {
                levels(&groups, &nodes, &descendants(&groups, root))
            }
        })
        .collect();
    match op.kind {
        OperationType::Mutation => wrap(per_root, PlanNode::Sequence),
        _ if forest => wrap(per_root, PlanNode::Parallel),
        _ => {
            let all: Vec<usize> = (0..groups.len()).collect();
            (!all.is_empty()).then(|| levels(&groups, &nodes, &all))
        }
    }
}

/// Splits a subscription's tree into the root fetch (the upstream subscription) and the
/// rest, which completes each event.
pub(super) fn split_subscription(root: PlanNode) -> Option<(FetchNode, Option<PlanNode>)> {
    match root {
        PlanNode::Fetch(fetch) => Some((fetch, None)),
        PlanNode::Sequence(mut nodes) if matches!(nodes.first(), Some(PlanNode::Fetch(_))) => {
            let PlanNode::Fetch(fetch) = nodes.remove(0) else {
                return None;
            };
            Some((fetch, wrap(nodes, PlanNode::Sequence)))
        }
        _ => None,
    }
}

/// Wraps `nodes` with `make` (Sequence or Parallel), inlining children of the same kind.
fn wrap(nodes: Vec<PlanNode>, make: fn(Vec<PlanNode>) -> PlanNode) -> Option<PlanNode> {
    let sequence = matches!(make(Vec::new()), PlanNode::Sequence(_));
    let mut nodes: Vec<PlanNode> = nodes
        .into_iter()
        .flat_map(|node| match node {
            PlanNode::Sequence(children) if sequence => children,
            PlanNode::Parallel(children) if !sequence => children,
            other => vec![other],
        })
        .collect();
    match nodes.len() {
        0 => None,
        1 => nodes.pop(),
        _ => Some(make(nodes)),
    }
}

fn subtree(groups: &[Group], nodes: &[PlanNode], index: usize) -> PlanNode {
    let children: Vec<PlanNode> = (0..groups.len())
        .filter(|&g| groups[g].deps.first() == Some(&index))
        .map(|g| subtree(groups, nodes, g))
        .collect();
    let own = nodes[index].clone();
    match wrap(children, PlanNode::Parallel) {
        None => own,
        Some(PlanNode::Sequence(mut rest)) => {
            rest.insert(0, own);
            PlanNode::Sequence(rest)
        }
        Some(child) => PlanNode::Sequence(vec![own, child]),
    }
}

/// `root` and every group that (transitively) depends on it.
fn descendants(groups: &[Group], root: usize) -> Vec<usize> {
    let mut set = vec![root];
    let mut changed = true;
    while changed {
        changed = false;
        for (i, g) in groups.iter().enumerate() {
            if !set.contains(&i) && g.deps.iter().any(|d| set.contains(d)) {
                set.push(i);
                changed = true;
            }
        }
    }
    set.sort_unstable();
    set
}

fn levels(groups: &[Group], nodes: &[PlanNode], members: &[usize]) -> PlanNode {
    let level = dependency_levels(groups);
    let depth = members.iter().map(|&i| level[i]).max().unwrap_or(0);
    let stages: Vec<PlanNode> = (0..=depth)
        .filter_map(|l| {
            let stage = members
                .iter()
                .filter(|&&i| level[i] == l)
                .map(|&i| nodes[i].clone())
                .collect();
            wrap(stage, PlanNode::Parallel)
        })
        .collect();
    wrap(stages, PlanNode::Sequence).expect("members is never empty")
}

fn fetch_node(sg: &Supergraph, op: &NormalizedOperation, group: &Group, index: usize) -> PlanNode {
    let mut usages = Vec::new();
    variable_usages(&group.selections, &mut usages);
    let mut selections = group.selections.clone();
    let renames = alias_conflicts(sg, group.graph, &op.root_type, &mut selections);
    let kind = match (&group.representation, op.kind) {
        (None, OperationType::Mutation) => OperationType::Mutation,
        (None, OperationType::Subscription) => OperationType::Subscription,
        _ => OperationType::Query,
    };
    let service_name = sg.subgraphs[group.graph].name.clone();
    let mut text = String::from(match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    });
    if let Some(name) = &op.name {
        let service: String = service_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let _ = write!(text, " {name}__{service}__{index}");
    }
    let head = text.clone();
    let client_declarations: Vec<String> = usages
        .iter()
        .filter_map(|name| op.variables.iter().find(|v| &v.name == name))
        .map(|def| match &def.default_value {
            // The default keeps a nullable variable valid in a non-null position.
            Some(default) => format!("${}: {} = {default}", def.name, def.ty),
            None => format!("${}: {}", def.name, def.ty),
        })
        .collect();
    let mut declarations: Vec<String> = Vec::new();
    if group.representation.is_some() {
        declarations.push("$representations: [_Any!]!".into());
    }
    for rewrite in &group.context {
        declarations.push(format!("${}: {}", rewrite.variable, rewrite.ty));
    }
    declarations.extend(client_declarations.iter().cloned());
    // Context variables are filled by the executor, not taken from the client.
    usages.retain(|name| !group.context.iter().any(|r| &r.variable == name));
    if !declarations.is_empty() {
        let _ = write!(text, "({})", declarations.join(", "));
    }
    text.push(' ');
    if group.representation.is_some() {
        text.push_str("{ _entities(representations: $representations) ");
        print_selections(&mut text, &selections);
        text.push_str(" }");
    } else {
        print_selections(&mut text, &selections);
    }
    let fetch = FetchNode {
        service_name,
        graph: group.graph,
        operation_kind: kind,
        operation: text,
        variable_usages: usages,
        requires: group.representation.clone(),
        renames,
        context: (!group.context.is_empty()).then(|| ContextFetch {
            arguments: group.context.clone(),
            operation_head: head,
            client_declarations,
            selections,
        }),
    };
    match group.representation {
        Some(_) => PlanNode::Flatten {
            paths: std::iter::once(group.path.clone())
                .chain(group.extra_paths.iter().cloned())
                .collect(),
            fetch,
        },
        None => PlanNode::Fetch(fetch),
    }
}
