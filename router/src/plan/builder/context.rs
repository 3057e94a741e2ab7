//! `@fromContext` arguments: the value comes from the nearest enclosing object that sets the
//! context. As in Apollo's planner, the context's fields are fetched with that ancestor, and
//! the field is fetched through its entity key with each argument bound to a variable
//! (`contextualArgument_<n>_<i>`) that the executor fills per entity.

use super::{Ctx, Level, PlanError, Planner};
use crate::operation::{merge_all, FieldSelection, Selection};
use crate::plan::aliases::avoid_conflicts;
use crate::plan::ContextRewrite;
use crate::supergraph::{ContextArgument, GraphId};
use apollo_compiler::ast::{self, Value};
use apollo_compiler::{Name, Node};
use std::rc::Rc;

impl<'a> Planner<'a> {
    /// The `@fromContext` arguments `graph` needs for `parent.field`, unless the field
    /// already carries them (it does once planned for its own fetch).
    pub(super) fn context_arguments(
        &self,
        parent: &Name,
        field: &FieldSelection,
        graph: GraphId,
    ) -> &'a [ContextArgument] {
        let sg = self.sg;
        match sg.field_source_with(parent, &field.name, graph, self.labels) {
            Some(Some(source))
                if !source.external
                    && !source
                        .context_arguments
                        .iter()
                        .any(|c| field.arguments.iter().any(|a| a.name == c.name)) =>
            {
                &source.context_arguments
            }
            _ => &[],
        }
    }

    /// Plans `field`, which `target` resolves with `@fromContext` arguments: the context
    /// values are planned at their ancestors, then the field is fetched from `target`
    /// through its key in a group of its own that waits for them.
    pub(super) fn plan_with_context(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        field: &FieldSelection,
        target: GraphId,
        requires: Option<&'a [Selection]>,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let has_key = self
            .sg
            .type_in_graph(parent, target)
            .is_some_and(|t| t.keys.iter().any(|k| k.resolvable));
        if !has_key {
            return Err(PlanError::Unsupported(format!(
                "{parent}.{} takes @fromContext arguments, which the router passes through an \
                 entity fetch, but {parent} has no resolvable @key in `{}`",
                field.name, self.sg.subgraphs[target].name
            )));
        }
        self.context_fields += 1;
        let number = self.context_fields;
        let mark = self.touched.len();
        let mut arguments = field.arguments.clone();
        let mut rewrites = Vec::new();
        let mut deps = Vec::new();
        for (i, argument) in self
            .context_arguments(parent, field, target)
            .iter()
            .enumerate()
        {
            let variable = Name::new(&format!("contextualArgument_{number}_{i}"))
                .expect("a name plus numbers is a name");
            let (level, selection) = self.plan_context_value(ctx, parent, field, argument)?;
            deps.push(level.ctx.group);
            arguments.push(Node::new(ast::Argument {
                name: argument.name.clone(),
                value: Node::new(Value::Variable(variable.clone())),
            }));
            rewrites.push(ContextRewrite {
                variable,
                ty: argument.ty.clone(),
                ancestor: level.ctx.path.clone(),
                ancestor_type: level.ty.clone(),
                selection,
                leaf: self.is_leaf_argument(&argument.ty),
            });
        }
        deps.extend_from_slice(&self.touched[mark..]);
        let what = [Selection::Field(FieldSelection {
            arguments,
            ..field.clone()
        })];
        let context = Some((rewrites, deps));
        self.jump_with(
            ctx,
            parent,
            &what,
            &field.name,
            target,
            requires,
            context,
            out,
        )
    }

    /// Finds the ancestor setting `argument`'s context and adds the fields it reads to that
    /// level. Returns the level and the selection as fetched there (aliased if a client
    /// field uses the same response key).
    fn plan_context_value(
        &mut self,
        ctx: &Ctx<'a>,
        parent: &Name,
        field: &FieldSelection,
        argument: &ContextArgument,
    ) -> Result<(Rc<Level<'a>>, Vec<Selection>), PlanError> {
        let candidates = self.context_levels(ctx, &argument.context);
        let Some(innermost) = candidates.first() else {
            return Err(PlanError::Unsupported(format!(
                "{parent}.{} reads context `{}` (@fromContext), but no enclosing field of the \
                 operation returns a type that sets it",
                field.name, argument.context
            )));
        };
        // Among the subgraphs fetching the ancestor, prefer one resolving the context's
        // fields itself (no extra fetch).
        let level = candidates
            .iter()
            .find(|l| {
                let narrowed = self.narrow(&argument.selection, &l.ty);
                self.resolvable_here(&l.ctx, &l.ty, &narrowed)
            })
            .unwrap_or(innermost)
            .clone();
        let leaf = self.is_leaf_argument(&argument.ty);
        let narrowed = self.narrow(&argument.selection, &level.ty);
        if leaf && !single_field_chain(&narrowed) {
            return Err(PlanError::Unsupported(format!(
                "{parent}.{} reads context `{}` with a selection that is not one field per \
                 type, which a {} argument cannot take",
                field.name, argument.context, argument.ty
            )));
        }
        let mut selection = vec![Selection::Field(FieldSelection::typename())];
        merge_all(&mut selection, argument.selection.clone());
        let selection = avoid_conflicts(&level.ctx.client, selection);
        let planned = self.plan_level(&level.ctx, &level.ty, &selection)?;
        merge_all(&mut level.additions.borrow_mut(), planned);
        Ok((level, selection))
    }

    /// The enclosing levels at the response position of the nearest ancestor (the field's
    /// own parent included) whose type sets `context`, innermost first: one per subgraph
    /// fetching that position.
    fn context_levels(&self, ctx: &Ctx<'a>, context: &str) -> Vec<Rc<Level<'a>>> {
        let mut found: Vec<Rc<Level<'a>>> = Vec::new();
        let mut next = ctx.level.clone();
        while let Some(level) = next {
            match found.first() {
                None if self.sets_context(&level.ty, context) => found.push(level.clone()),
                None => {}
                Some(first) if first.ctx.path == level.ctx.path => found.push(level.clone()),
                Some(_) => break,
            }
            next = level.ctx.level.clone();
        }
        found
    }

    /// Whether every value of `ty` sets `context` (an abstract type, when all its possible
    /// types do).
    fn sets_context(&self, ty: &str, context: &str) -> bool {
        if self.sg.sets_context(ty, context) {
            return true;
        }
        let possible = self.sg.possible_types(ty);
        !possible.is_empty() && possible.iter().all(|p| self.sg.sets_context(p, context))
    }

    /// `selections` without the fragments that cannot apply to a value of `ty`.
    fn narrow(&self, selections: &[Selection], ty: &Name) -> Vec<Selection> {
        let runtime = |name: &Name| {
            let possible = self.sg.possible_types(name);
            if possible.is_empty() {
                vec![name.clone()]
            } else {
                possible
            }
        };
        let of_ty = runtime(ty);
        selections
            .iter()
            .filter(|s| match s {
                Selection::Fragment(f) => {
                    runtime(&f.type_condition).iter().any(|p| of_ty.contains(p))
                }
                Selection::Field(_) => true,
            })
            .cloned()
            .collect()
    }

    /// Whether an argument of (subgraph) type `ty` takes a leaf value rather than an object.
    fn is_leaf_argument(&self, ty: &str) -> bool {
        let named = ty.trim_matches(|c| matches!(c, '[' | ']' | '!' | ' '));
        self.sg.api_schema.get_input_object(named).is_none()
    }
}

/// Exactly one field per level, down to a leaf (type conditions aside).
fn single_field_chain(selections: &[Selection]) -> bool {
    let fields: Vec<&FieldSelection> = selections
        .iter()
        .filter_map(|s| match s {
            Selection::Field(f) => Some(f),
            Selection::Fragment(_) => None,
        })
        .collect();
    let fragments_ok = selections.iter().all(|s| match s {
        Selection::Fragment(f) => single_field_chain(&f.selections),
        Selection::Field(_) => true,
    });
    match fields.as_slice() {
        [] => fragments_ok && !selections.is_empty(),
        [field] => {
            fragments_ok
                && selections.len() == 1
                && (field.selections.is_empty() || single_field_chain(&field.selections))
        }
        _ => false,
    }
}
