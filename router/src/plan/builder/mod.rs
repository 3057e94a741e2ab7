//! The planner: greedy grouping of fields into fetch groups, one group per
//! (subgraph, response path, parent group).
//!
//! A field stays in the current group whenever the current subgraph can resolve it (shareable
//! fields, `@provides` paths). Otherwise the planner jumps to another subgraph through an
//! entity key that the current subgraph can resolve; `@requires` fields are planned first
//! and the jump depends on every group that fetches them.

use super::aliases::{avoid_conflicts, client_fields, ClientField};
mod ancestor;
mod context;
mod interface_object;
mod keys;
mod required;

use super::merge::representations_compatible;
use super::tree::{build_tree, split_subscription, Group};
use super::{ContextRewrite, PathSegment, QueryPlan};
use crate::operation::{
    merge_all, push_merged, FieldSelection, FragmentSelection, NormalizedOperation, Selection,
};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::ast::{OperationType, Type};
use apollo_compiler::Name;
use std::cell::RefCell;
use std::rc::Rc;

/// Why an operation cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no subgraph resolves field {type_name}.{field}")]
    NoSource { type_name: Name, field: Name },
    #[error("cannot reach {type_name}.{field} in subgraph `{to}` from `{from}`: {type_name} has no resolvable @key in `{to}`")]
    NoKey {
        type_name: Name,
        field: Name,
        from: String,
        to: String,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl PlanError {
    /// Stable error code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::NoSource { .. } | PlanError::NoKey { .. } => "QUERY_PLANNING_FAILED",
            PlanError::Unsupported(_) => "UNSUPPORTED_OPERATION",
        }
    }
}

/// Plans a normalized operation against a supergraph with the given progressive
/// `@override` labels enabled. Pure: no IO.
pub fn plan(
    supergraph: &Supergraph,
    operation: &NormalizedOperation,
    enabled_labels: &[String],
) -> Result<QueryPlan, PlanError> {
    let mut planner = Planner {
        sg: supergraph,
        groups: Vec::new(),
        touched: Vec::new(),
        depth: 0,
        labels: enabled_labels,
        context_fields: 0,
        roots: Vec::new(),
        required_arguments: Vec::new(),
        kind: operation.kind,
    };
    planner.plan_root(operation)?;
    let root = build_tree(supergraph, operation, planner.groups, &planner.roots);
    if operation.kind != OperationType::Subscription {
        return Ok(QueryPlan {
            primary: None,
            root,
        });
    }
    // One root field (validation guarantees it), so one root fetch heads the tree.
    let (primary, rest) = root.and_then(split_subscription).ok_or_else(|| {
        PlanError::Unsupported("a subscription whose root field needs several fetches".into())
    })?;
    Ok(QueryPlan {
        primary: Some(primary),
        root: rest,
    })
}

struct Planner<'a> {
    sg: &'a Supergraph,
    groups: Vec<Group>,
    /// Groups that received fields, in order; used to find what `@requires` depends on.
    touched: Vec<usize>,
    /// Nesting of key/requires planning, bounded to reject cyclic key chains.
    depth: usize,
    /// Enabled progressive `@override` labels.
    labels: &'a [String],
    /// Fields given `@fromContext` arguments so far; numbers their variables.
    context_fields: usize,
    /// The root groups, in order.
    roots: Vec<usize>,
    /// Required fields with arguments, numbered for their aliases (`price__requires_0`).
    required_arguments: Vec<FieldSelection>,
    kind: OperationType,
}

const MAX_JUMP_DEPTH: usize = 16;

#[derive(Clone)]
struct Ctx<'p> {
    group: usize,
    path: Vec<PathSegment>,
    /// The `@provides` selection applying at this level, if any.
    provides: Option<&'p [Selection]>,
    /// At the root of an entity fetch, `@requires` fields are satisfied by the representation.
    entity_root: bool,
    /// The client's fields at this level, which planner-added fields must not collide with.
    client: Rc<[ClientField]>,
    /// The enclosing level, innermost first: where `@fromContext` looks for its context.
    level: Option<Rc<Level<'p>>>,
    /// The field whose selections these are (without them); `None` at the root.
    via: Option<Rc<FieldSelection>>,
}

/// A selection set being planned. Levels chain outward to the root while their
/// `plan_level` call is running, so a `@fromContext` field can add the fields its context
/// reads to the ancestor that sets the context.
struct Level<'p> {
    ty: Name,
    ctx: Ctx<'p>,
    /// Context fields descendants need here; merged into the level's output when it is done.
    additions: RefCell<Vec<Selection>>,
}

/// How the current subgraph can resolve a field.
enum Local<'a> {
    Yes { provides: Option<&'a [Selection]> },
    Requires(&'a [Selection]),
    No,
}

impl<'a> Planner<'a> {
    fn plan_root(&mut self, op: &NormalizedOperation) -> Result<(), PlanError> {
        let client = client_fields(&op.selections);
        for selection in &op.selections {
            let Selection::Field(field) = selection else {
                return Err(PlanError::Unsupported("fragment on the root type".into()));
            };
            if field.name.starts_with("__") {
                continue; // __typename, __schema and __type are answered by the router.
            }
            let used: Vec<GraphId> = self.roots.iter().map(|&g| self.groups[g].graph).collect();
            let graph = self.choose_graph(&op.root_type, field, used.into_iter())?;
            // Mutation fields run in order: only the last root group may be extended.
            let reusable = match op.kind {
                OperationType::Mutation => self
                    .roots
                    .last()
                    .copied()
                    .filter(|&g| self.groups[g].graph == graph),
                _ => self
                    .roots
                    .iter()
                    .copied()
                    .find(|&g| self.groups[g].graph == graph),
            };
            let group = reusable.unwrap_or_else(|| {
                self.groups
                    .push(Group::new(graph, Vec::new(), None, None, Vec::new()));
                self.roots.push(self.groups.len() - 1);
                self.groups.len() - 1
            });
            let ctx = Ctx {
                group,
                path: Vec::new(),
                provides: None,
                entity_root: false,
                client: client.clone(),
                level: None,
                via: None,
            };
            let out = self.plan_level(&ctx, &op.root_type, std::slice::from_ref(selection))?;
            merge_all(&mut self.groups[group].selections, out);
        }
        Ok(())
    }

    /// Picks the subgraph for a field: one already used at this level if possible, else the
    /// first declaring subgraph (without `@requires` when there is a choice).
    fn choose_graph(
        &self,
        parent: &Name,
        field: &FieldSelection,
        mut preferred: impl Iterator<Item = GraphId>,
    ) -> Result<GraphId, PlanError> {
        let info = self.sg.types.get(parent);
        let no_source = || PlanError::NoSource {
            type_name: parent.clone(),
            field: field.name.clone(),
        };
        let info = info.ok_or_else(no_source)?;
        let fdef = info.fields.get(&field.name).ok_or_else(no_source)?;
        let candidates: Vec<(GraphId, bool)> = if fdef.no_direct_source {
            Vec::new()
        } else if fdef.sources.is_empty() {
            info.graphs.iter().map(|g| (g.graph, false)).collect()
        } else {
            fdef.sources
                .iter()
                .filter(|s| !s.external && s.active(self.labels))
                .map(|s| (s.graph, s.requires.is_some()))
                .collect()
        };
        if let Some(g) = preferred.find(|g| candidates.iter().any(|(c, _)| c == g)) {
            return Ok(g);
        }
        // Among shareable sources, prefer one without @requires, then the one resolving the
        // most of the field's own selection (fewer jumps later), then supergraph order.
        let child_type = field.ty.inner_named_type();
        let local_children = |graph: GraphId| {
            field
                .selections
                .iter()
                .filter(|s| match s {
                    Selection::Field(f) => {
                        f.name == "__typename"
                            || self
                                .sg
                                .field_source_with(child_type, &f.name, graph, self.labels)
                                .is_some()
                    }
                    Selection::Fragment(_) => false,
                })
                .count()
        };
        candidates
            .iter()
            .enumerate()
            .max_by_key(|(i, (graph, requires))| {
                (!requires, local_children(*graph), std::cmp::Reverse(*i))
            })
            .map(|(_, (graph, _))| *graph)
            .ok_or_else(no_source)
    }

    fn plan_level(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        sels: &[Selection],
    ) -> Result<Vec<Selection>, PlanError> {
        let level = Rc::new(Level {
            ty: parent.clone(),
            ctx: ctx.clone(),
            additions: RefCell::default(),
        });
        let ctx = &Ctx {
            level: Some(level.clone()),
            ..ctx.clone()
        };
        let mut out = Vec::new();
        if self.sg.is_abstract(parent) {
            push_merged(&mut out, Selection::Field(FieldSelection::typename()));
        }
        for selection in sels {
            match selection {
                Selection::Field(f) if f.name == "__typename" => {
                    push_merged(&mut out, selection.clone())
                }
                Selection::Field(f) => self.plan_field(ctx, parent, f, &mut out)?,
                Selection::Fragment(fr) => self.plan_fragment(ctx, parent, fr, &mut out)?,
            }
        }
        merge_all(&mut out, level.additions.take());
        Ok(out)
    }

    fn graph(&self, ctx: &Ctx<'_>) -> GraphId {
        self.groups[ctx.group].graph
    }

    /// Type conditions are always resolved to concrete types the current subgraph can return.
    fn plan_fragment(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        fragment: &FragmentSelection,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let graph = self.graph(ctx);
        let candidates = if self.sg.is_abstract(parent) {
            self.sg.possible_types_in_graph(parent, graph)
        } else {
            vec![parent.clone()]
        };
        let wanted = self.sg.possible_types(&fragment.type_condition);
        let wanted = if wanted.is_empty() {
            vec![fragment.type_condition.clone()]
        } else {
            wanted
        };
        for ty in candidates.iter().filter(|c| wanted.contains(c)) {
            let sub = self.plan_level(ctx, ty, &fragment.selections)?;
            if sub.is_empty() {
                continue; // Every field in it was skipped: `... on T { }` would not parse.
            }
            if ty == parent {
                merge_all(out, sub);
            } else {
                push_merged(
                    out,
                    Selection::Fragment(FragmentSelection {
                        type_condition: ty.clone(),
                        selections: sub,
                    }),
                );
            }
        }
        Ok(())
    }

    fn local(&self, ctx: &Ctx<'a>, parent: &Name, field: &Name) -> Local<'a> {
        if let Some(provided) = ctx.provides.and_then(|p| find_field(p, field)) {
            return Local::Yes {
                provides: Some(provided.selections.as_slice()),
            };
        }
        match self
            .sg
            .field_source_with(parent, field, self.graph(ctx), self.labels)
        {
            None => Local::No,
            Some(None) => Local::Yes { provides: None },
            Some(Some(src)) if src.external => Local::No,
            Some(Some(src)) => match &src.requires {
                Some(r) if !ctx.entity_root => Local::Requires(r),
                _ => Local::Yes {
                    provides: src.provides.as_deref(),
                },
            },
        }
    }

    fn plan_field(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        field: &FieldSelection,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let local = self.local(ctx, parent, &field.name);
        if matches!(local, Local::No) {
            let route = self
                .sg
                .interface_object_route(parent, &field.name, self.labels);
            if let Some((interface, target)) = route {
                // The entity travels as its interface: `{ __typename: "Interface", key }`.
                let requires = self
                    .sg
                    .field_source_with(&interface, &field.name, target, self.labels)
                    .flatten()
                    .and_then(|s| s.requires.as_deref());
                return self.jump(ctx, &interface, field, target, requires, out);
            }
        }
        if self.sg.is_abstract(parent) {
            let graph = self.graph(ctx);
            if !self.context_arguments(parent, field, graph).is_empty() {
                return Err(PlanError::Unsupported(format!(
                    "{parent}.{} takes @fromContext arguments on an abstract type; only object \
                     types' fields can receive them",
                    field.name
                )));
            }
        }
        // An implementation may resolve the field elsewhere (`@override` on one type, or a
        // subgraph per type): then the interface's source cannot answer for every type.
        let per_type = self.sg.is_abstract(parent)
            && (!matches!(local, Local::Yes { .. })
                || !self.implementations_agree(ctx, parent, field));
        if per_type {
            // Resolve the field per implementation, each possibly in another subgraph.
            let graph = self.graph(ctx);
            for ty in self.sg.possible_types_in_graph(parent, graph) {
                let sub = self.plan_level(ctx, &ty, &[Selection::Field(field.clone())])?;
                push_merged(
                    out,
                    Selection::Fragment(FragmentSelection {
                        type_condition: ty,
                        selections: sub,
                    }),
                );
            }
            return Ok(());
        }
        let here = self.graph(ctx);
        match local {
            Local::Yes { .. } | Local::Requires(_)
                if !self.context_arguments(parent, field, here).is_empty() =>
            {
                let requires = match local {
                    Local::Requires(requires) => Some(requires),
                    _ => None,
                };
                self.plan_with_context(ctx, parent, field, here, requires, out)
            }
            Local::Yes { provides } => self.plan_local(ctx, parent, field, provides, out),
            Local::Requires(requires) => {
                self.jump(ctx, parent, field, self.graph(ctx), Some(requires), out)
            }
            Local::No => {
                let existing: Vec<GraphId> = self
                    .child_groups(ctx)
                    .map(|g| self.groups[g].graph)
                    .collect();
                let target = self.choose_graph(parent, field, existing.into_iter())?;
                let requires = self
                    .sg
                    .field_source_with(parent, &field.name, target, self.labels)
                    .flatten()
                    .and_then(|s| s.requires.as_deref());
                if !self.context_arguments(parent, field, target).is_empty() {
                    return self.plan_with_context(ctx, parent, field, target, requires, out);
                }
                if !self.enterable(parent, target) && requires.is_none() {
                    let what = vec![Selection::Field(field.clone())];
                    if self.jump_via_ancestor(ctx, what, &field.name, target)? {
                        return Ok(());
                    }
                }
                self.jump(ctx, parent, field, target, requires, out)
            }
        }
    }

    /// Whether every implementation of `parent` the current subgraph can return resolves
    /// `field` here.
    fn implementations_agree(&self, ctx: &Ctx<'a>, parent: &Name, field: &FieldSelection) -> bool {
        let graph = self.graph(ctx);
        self.sg
            .possible_types_in_graph(parent, graph)
            .iter()
            .all(|ty| matches!(self.local(ctx, ty, &field.name), Local::Yes { .. }))
    }

    /// `group` and the groups it transitively comes from (each ran before it).
    fn ancestors(&self, group: usize) -> Vec<usize> {
        let mut chain = vec![group];
        let mut current = group;
        while let Some(parent) = self.groups[current].parent {
            chain.push(parent);
            current = parent;
        }
        chain
    }

    fn child_groups<'c>(&'c self, ctx: &'c Ctx<'_>) -> impl Iterator<Item = usize> + 'c {
        (0..self.groups.len()).filter(move |&g| {
            let group = &self.groups[g];
            group.parent == Some(ctx.group) && group.path == ctx.path && !group.for_requires
        })
    }

    fn plan_local(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        field: &FieldSelection,
        provides: Option<&'a [Selection]>,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let declared = field.ty.inner_named_type();
        // The subgraph may return a narrower type (`Cat` for `Pet`): only its possible
        // types can appear, and type conditions that can never apply there are dropped.
        let narrowed = self
            .sg
            .subgraph_field_type(parent, &field.name, self.graph(ctx))
            .map(|t| t.inner_named_type())
            .filter(|t| *t != declared && self.sg.is_composite(t));
        let child_type = narrowed.unwrap_or(declared);
        if field.selections.is_empty() {
            let mut field = field.clone();
            if self.sg.is_composite(child_type) {
                // Every condition in it was false: the client gets `{}`, the subgraph a
                // selection it can parse.
                field
                    .selections
                    .push(Selection::Field(FieldSelection::typename()));
            }
            push_merged(out, Selection::Field(field));
            return Ok(());
        }
        let as_object = self.sg.type_in_graph(child_type, self.graph(ctx));
        if self.sg.is_abstract(child_type) && as_object.is_some_and(|t| t.is_interface_object) {
            return self.plan_interface_object(ctx, field, provides, out);
        }
        let child = child_ctx(ctx, field, provides);
        let mut selections = self.plan_level(&child, child_type, &field.selections)?;
        if selections.is_empty() || narrowed.is_some() && self.sg.is_abstract(declared) {
            // Everything under it is fetched elsewhere (the object itself still comes from
            // here), or the runtime type must be read from the answer.
            push_merged(
                &mut selections,
                Selection::Field(FieldSelection::typename()),
            );
        }
        push_merged(
            out,
            Selection::Field(FieldSelection {
                selections,
                ..field.clone()
            }),
        );
        Ok(())
    }

    /// Fetches `field` of entity type `parent` from `target` through a key.
    fn jump(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        field: &FieldSelection,
        target: GraphId,
        requires: Option<&'a [Selection]>,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let what = [Selection::Field(field.clone())];
        self.jump_with(ctx, parent, &what, &field.name, target, requires, None, out)
    }

    /// [`Planner::jump`] for any selections of `parent` (`name` names them in errors). With
    /// `context`, for a field carrying `@fromContext` arguments: the fetch gets its own
    /// group, which also waits for the groups (`deps`) that fetch the context values.
    #[allow(clippy::too_many_arguments)]
    fn jump_with(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        what: &[Selection],
        name: &Name,
        target: GraphId,
        requires: Option<&'a [Selection]>,
        context: Option<(Vec<ContextRewrite>, Vec<usize>)>,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let key = self.pick_key(ctx, parent, name, target)?;
        if self.depth > MAX_JUMP_DEPTH {
            return Err(PlanError::Unsupported(format!(
                "key chain for {parent}.{name} is too deep"
            )));
        }
        self.depth += 1;
        let mut representation = vec![Selection::Field(FieldSelection::typename())];
        merge_all(&mut representation, key.selections.clone());
        if let Some(requires) = requires {
            merge_all(&mut representation, self.alias_arguments(requires));
        }
        let representation = avoid_conflicts(&ctx.client, representation);
        let mark = self.touched.len();
        // Key fields the current subgraph lacks are fetched first, like @requires fields.
        let fetched = self.plan_level(ctx, parent, &representation)?;
        merge_all(out, fetched);
        self.depth -= 1;
        let mut deps = vec![ctx.group];
        deps.extend_from_slice(&self.touched[mark..]);
        let (rewrites, context_deps) = context.unwrap_or_default();
        for dep in context_deps {
            // A group the parent already waits for (an ancestor) adds no ordering.
            if !self.ancestors(ctx.group).contains(&dep) && !deps.contains(&dep) {
                deps.push(dep);
            }
        }
        let representation = Selection::Fragment(FragmentSelection {
            type_condition: parent.clone(),
            selections: representation,
        });
        // Only a fetch that needs data from groups other than its parent must wait; one whose
        // keys and required fields all come from the parent joins the parent's plain group.
        let waits = deps.iter().any(|&d| d != ctx.group);
        let group = self.entity_group(ctx, target, waits, representation, deps, rewrites);
        let entity_ctx = Ctx {
            group,
            path: ctx.path.clone(),
            provides: None,
            entity_root: true,
            client: ctx.client.clone(),
            level: ctx.level.clone(),
            via: ctx.via.clone(),
        };
        let sub = self.plan_level(&entity_ctx, parent, what)?;
        let fragment = Selection::Fragment(FragmentSelection {
            type_condition: parent.clone(),
            selections: sub,
        });
        push_merged(&mut self.groups[group].selections, fragment);
        self.touched.push(group);
        Ok(())
    }

    fn entity_group(
        &mut self,
        ctx: &Ctx<'_>,
        target: GraphId,
        for_requires: bool,
        representation: Selection,
        deps: Vec<usize>,
        context: Vec<ContextRewrite>,
    ) -> usize {
        // Fields taking context arguments get groups of their own: their requests are split
        // by context values, which other fields need not pay for.
        let existing = (0..self.groups.len()).find(|&g| {
            let group = &self.groups[g];
            group.graph == target
                && group.parent == Some(ctx.group)
                && group.path == ctx.path
                && group.for_requires == for_requires
                && group.context.is_empty() == context.is_empty()
                && group.representation.as_ref().is_none_or(|r| {
                    representations_compatible(r, std::slice::from_ref(&representation))
                })
        });
        let index = existing.unwrap_or_else(|| {
            let mut group = Group::new(
                target,
                ctx.path.clone(),
                Some(ctx.group),
                Some(Vec::new()),
                Vec::new(),
            );
            group.for_requires = for_requires;
            self.groups.push(group);
            self.groups.len() - 1
        });
        let group = &mut self.groups[index];
        group.context.extend(context);
        group.add_client(ctx.client.clone());
        push_merged(
            group.representation.get_or_insert_with(Vec::new),
            representation,
        );
        for dep in deps {
            if !group.deps.contains(&dep) && dep != index {
                group.deps.push(dep);
            }
        }
        index
    }
}

/// The context for the selections of `field`, resolved in the current group.
fn child_ctx<'p>(
    ctx: &Ctx<'p>,
    field: &FieldSelection,
    provides: Option<&'p [Selection]>,
) -> Ctx<'p> {
    let mut path = ctx.path.clone();
    path.push(PathSegment::Key(field.response_key().clone()));
    path.extend(std::iter::repeat_n(
        PathSegment::List,
        list_depth(&field.ty),
    ));
    Ctx {
        group: ctx.group,
        path,
        provides,
        entity_root: false,
        // The client's fields below come with the level above (built once per operation).
        client: ctx
            .client
            .iter()
            .find(|c| c.key == *field.response_key())
            .map(|c| c.children.clone())
            .unwrap_or_else(|| client_fields(&field.selections)),
        level: ctx.level.clone(),
        via: Some(Rc::new(FieldSelection {
            alias: field.alias.clone(),
            name: field.name.clone(),
            arguments: field.arguments.clone(),
            ty: field.ty.clone(),
            selections: Vec::new(),
        })),
    }
}

fn find_field<'s>(sels: &'s [Selection], name: &str) -> Option<&'s FieldSelection> {
    sels.iter().find_map(|s| match s {
        Selection::Field(f) if f.name == name => Some(f),
        _ => None,
    })
}

/// How many list wrappers a type has (`[[T!]]!` → 2).
pub(crate) fn list_depth(ty: &Type) -> usize {
    match ty {
        Type::Named(_) | Type::NonNullNamed(_) => 0,
        Type::List(inner) | Type::NonNullList(inner) => 1 + list_depth(inner),
    }
}
