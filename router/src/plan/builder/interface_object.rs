//! Fields returning an interface from a subgraph that knows it only as an `@interfaceObject`:
//! that subgraph answers `__typename` with the interface's name, so the real type (and
//! everything else it cannot resolve, type conditions included) comes from a subgraph that
//! defines the interface with its implementations, through `_entities` on the interface's
//! key, as Apollo's planner does.

use super::{child_ctx, Ctx, Local, PlanError, Planner};
use crate::operation::{push_merged, FieldSelection, Selection};
use crate::supergraph::GraphId;
use apollo_compiler::Name;

impl<'a> Planner<'a> {
    pub(super) fn plan_interface_object(
        &mut self,
        ctx: &Ctx<'a>,
        field: &FieldSelection,
        provides: Option<&'a [Selection]>,
        out: &mut Vec<Selection>,
    ) -> Result<(), PlanError> {
        let interface = field.ty.inner_named_type().clone();
        let child = child_ctx(ctx, field, provides);
        let (here, elsewhere): (Vec<Selection>, Vec<Selection>) =
            field.selections.iter().cloned().partition(|s| match s {
                Selection::Field(f) if f.name != "__typename" => {
                    matches!(self.local(&child, &interface, &f.name), Local::Yes { .. })
                }
                _ => false,
            });
        let mut selections = self.plan_level(&child, &interface, &here)?;
        if !elsewhere.is_empty() {
            let target = self.implementations_graph(&interface, field)?;
            self.jump_with(
                &child,
                &interface,
                &elsewhere,
                &field.name,
                target,
                None,
                None,
                &mut selections,
            )?;
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

    /// A subgraph defining `interface` as an interface (so it knows the implementations)
    /// that can be entered by one of its keys.
    fn implementations_graph(
        &self,
        interface: &Name,
        field: &FieldSelection,
    ) -> Result<GraphId, PlanError> {
        self.sg
            .types
            .get(interface)
            .and_then(|info| {
                info.graphs
                    .iter()
                    .find(|g| !g.is_interface_object && g.keys.iter().any(|k| k.resolvable))
            })
            .map(|g| g.graph)
            .ok_or_else(|| {
                PlanError::Unsupported(format!(
                    "field `{}` returns {interface} from an @interfaceObject subgraph, and no \
                     subgraph defines {interface} as an interface with a resolvable @key to \
                     find the concrete type",
                    field.name
                ))
            })
    }
}
