//! Choosing the key an entity fetch enters a subgraph by.

use super::{Ctx, Local, PlanError, Planner};
use crate::operation::Selection;
use crate::supergraph::{GraphId, Key, Supergraph};
use apollo_compiler::Name;

impl<'a> Planner<'a> {
    /// A resolvable key of `parent` in `target`, preferably one whose fields the current
    /// subgraph resolves; otherwise the first one, whose fields another subgraph must
    /// provide first.
    pub(super) fn pick_key(
        &self,
        ctx: &Ctx<'a>,
        parent: &Name,
        name: &Name,
        target: GraphId,
    ) -> Result<&'a Key, PlanError> {
        let sg: &'a Supergraph = self.sg;
        let keys = sg
            .type_in_graph(parent, target)
            .map(|t| t.keys.as_slice())
            .unwrap_or_default();
        let mut resolvable = keys.iter().filter(|k| k.resolvable);
        if let Some(key) = resolvable
            .clone()
            .find(|k| self.resolvable_here(ctx, parent, &k.selections))
        {
            return Ok(key);
        }
        resolvable.next().ok_or_else(|| PlanError::NoKey {
            type_name: parent.clone(),
            field: name.clone(),
            from: sg.subgraphs[self.graph(ctx)].name.clone(),
            to: sg.subgraphs[target].name.clone(),
        })
    }

    pub(super) fn resolvable_here(&self, ctx: &Ctx<'a>, parent: &Name, sels: &[Selection]) -> bool {
        sels.iter().all(|s| match s {
            Selection::Field(f) if f.name == "__typename" => true,
            Selection::Field(f) => match self.local(ctx, parent, &f.name) {
                Local::Yes { provides } => {
                    let child = Ctx {
                        provides,
                        entity_root: false,
                        ..ctx.clone()
                    };
                    self.resolvable_here(&child, f.ty.inner_named_type(), &f.selections)
                }
                _ => false,
            },
            Selection::Fragment(fr) => {
                self.resolvable_here(ctx, &fr.type_condition, &fr.selections)
            }
        })
    }
}
