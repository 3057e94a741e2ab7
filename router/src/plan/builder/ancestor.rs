//! Fields of types a subgraph cannot be entered at: value types without a resolvable key
//! there (a `Category` under an entity `Product`, a `@shareable` `Viewer` returned by a root
//! field of several subgraphs). As Apollo's planner does, the fetch re-enters that subgraph at
//! the nearest enclosing object it can enter — an entity through one of its keys, or the
//! query root — and walks the path back down to the field; the answers merge into the same
//! objects, which federation defines as one value wherever they are resolved.

use super::{Ctx, Level, PlanError, Planner, MAX_JUMP_DEPTH};
use crate::operation::{merge_all, FieldSelection, FragmentSelection, Selection};
use crate::plan::tree::Group;
use crate::supergraph::GraphId;
use apollo_compiler::ast::OperationType;
use apollo_compiler::Name;
use std::rc::Rc;

impl<'a> Planner<'a> {
    /// Plans `what` (selections on the current level's type) in `target` through the nearest
    /// ancestor `target` can be entered at. `Ok(false)` when there is none.
    pub(super) fn jump_via_ancestor(
        &mut self,
        ctx: &Ctx<'a>,
        what: Vec<Selection>,
        name: &Name,
        target: GraphId,
    ) -> Result<bool, PlanError> {
        if self.depth > MAX_JUMP_DEPTH {
            return Ok(false);
        }
        let mut selections = what;
        let Some(mut level) = ctx.level.clone() else {
            return Ok(false);
        };
        loop {
            let Some(via) = level.ctx.via.clone() else {
                return Ok(false);
            };
            let Some(outer) = level.ctx.level.clone() else {
                return Ok(false);
            };
            // An entity fetch plans its fields at the same level again, entered by the
            // same field: that is one level of the path, not two.
            if outer.ctx.via.as_ref().is_some_and(|v| Rc::ptr_eq(v, &via)) {
                level = outer;
                continue;
            }
            if !self.resolves_in(&outer.ty, &via.name, target) {
                return Ok(false);
            }
            let inner = if level.ty != *via.ty.inner_named_type() {
                vec![Selection::Fragment(FragmentSelection {
                    type_condition: level.ty.clone(),
                    selections,
                })]
            } else {
                selections
            };
            selections = vec![Selection::Field(FieldSelection {
                selections: inner,
                ..(*via).clone()
            })];
            if self.enterable(&outer.ty, target) {
                self.enter_at(&outer, selections, name, target)?;
                return Ok(true);
            }
            if outer.ctx.level.is_none() && outer.ctx.path.is_empty() {
                return self.enter_at_root(&outer, selections, target);
            }
            level = outer;
        }
    }

    fn resolves_in(&self, parent: &Name, field: &Name, target: GraphId) -> bool {
        let source = self
            .sg
            .field_source_with(parent, field, target, self.labels);
        matches!(source, Some(None)) || source.flatten().is_some_and(|s| !s.external)
    }

    /// Whether `target` can be entered at `ty` through a resolvable key.
    pub(super) fn enterable(&self, ty: &Name, target: GraphId) -> bool {
        self.sg
            .type_in_graph(ty, target)
            .is_some_and(|t| t.keys.iter().any(|k| k.resolvable))
    }

    /// An entity fetch of `level`'s objects into `target`, keyed from `level`'s group.
    fn enter_at(
        &mut self,
        level: &Rc<Level<'a>>,
        selections: Vec<Selection>,
        name: &Name,
        target: GraphId,
    ) -> Result<(), PlanError> {
        let ctx = Ctx {
            level: Some(level.clone()),
            ..level.ctx.clone()
        };
        let mut keys = Vec::new();
        self.jump_with(
            &ctx,
            &level.ty,
            &selections,
            name,
            target,
            None,
            None,
            &mut keys,
        )?;
        merge_all(&mut level.additions.borrow_mut(), keys);
        Ok(())
    }

    /// A root fetch to `target` (queries only: mutation fields must run once, in order).
    fn enter_at_root(
        &mut self,
        root: &Rc<Level<'a>>,
        selections: Vec<Selection>,
        target: GraphId,
    ) -> Result<bool, PlanError> {
        if self.kind != OperationType::Query {
            return Ok(false);
        }
        let existing = self
            .roots
            .iter()
            .copied()
            .find(|&g| self.groups[g].graph == target);
        let group = existing.unwrap_or_else(|| {
            self.groups
                .push(Group::new(target, Vec::new(), None, None, Vec::new()));
            self.roots.push(self.groups.len() - 1);
            self.groups.len() - 1
        });
        let ctx = Ctx {
            group,
            level: None,
            ..root.ctx.clone()
        };
        self.depth += 1;
        let out = self.plan_level(&ctx, &root.ty, &selections);
        self.depth -= 1;
        merge_all(&mut self.groups[group].selections, out?);
        Ok(true)
    }
}
