//! Query plans: plain data produced by the (IO-free) planner and run by the executor.

mod aliases;
mod builder;
pub mod cache;
mod merge;
pub mod shapes;
mod tree;

pub use builder::{plan, PlanError};

use crate::operation::{print_selections, Selection};
use crate::supergraph::GraphId;
use apollo_compiler::ast::OperationType;
use apollo_compiler::Name;
use std::fmt;

/// A plan. `root` is `None` when the operation needs no subgraph (only `__typename` or
/// introspection). A subscription has a `primary` fetch, the subscription sent to the
/// subgraph owning its root field; `root` then completes each event it emits.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueryPlan {
    pub primary: Option<FetchNode>,
    pub root: Option<PlanNode>,
}

/// A node of the plan tree.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum PlanNode {
    /// Children run one after another.
    Sequence(Vec<PlanNode>),
    /// Children run concurrently.
    Parallel(Vec<PlanNode>),
    /// A root fetch whose data merges at the response root.
    Fetch(FetchNode),
    /// An entity fetch whose representations are collected at `paths` (usually one) and
    /// merged back there.
    Flatten {
        paths: Vec<Vec<PathSegment>>,
        fetch: FetchNode,
    },
}

/// A step of a response path; `List` (printed `@`) walks every item of a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PathSegment {
    Key(Name),
    List,
}

/// One request to one subgraph.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FetchNode {
    pub service_name: String,
    pub graph: GraphId,
    #[serde(with = "operation_kind_serde")]
    pub operation_kind: OperationType,
    /// The exact operation text sent to the subgraph.
    pub operation: String,
    /// Client variables the operation uses (forwarded with their coerced values).
    pub variable_usages: Vec<Name>,
    /// For entity fetches: `... on T { __typename key required }` per entity type, the shape
    /// of one representation.
    pub requires: Option<Vec<Selection>>,
    /// For entity fetches of fields taking `@fromContext` arguments.
    pub context: Option<ContextFetch>,
    /// Members sent under an alias to keep the operation valid in the subgraph, renamed
    /// back in its response (see [`shapes`]).
    pub renames: Vec<shapes::Rename>,
}

/// What an entity fetch needs to pass `@fromContext` arguments: each argument is a variable
/// whose value is read, per entity, from the enclosing object that sets the context.
/// Entities whose values differ are sent as separate aliased `_entities` fields of one
/// request (`_0: _entities(representations: $representations_0) { ... }`), so the operation
/// is printed again from `selections` when the values are not all the same.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ContextFetch {
    pub arguments: Vec<ContextRewrite>,
    /// `query Name__service__n`, without variables.
    pub operation_head: String,
    /// Declarations of the client variables the selections use (`$x: Int`).
    pub client_declarations: Vec<String>,
    /// The selections inside `_entities`.
    pub selections: Vec<Selection>,
}

/// One `@fromContext` argument of an entity fetch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContextRewrite {
    /// The variable the argument is bound to (`contextualArgument_1_0`).
    pub variable: Name,
    /// The variable's type, as the subgraph declares the argument.
    pub ty: String,
    /// Plan path of the ancestor setting the context: a prefix of the fetch's path.
    pub ancestor: Vec<PathSegment>,
    /// The ancestor's type, used when its data carries no `__typename` (the root).
    pub ancestor_type: Name,
    /// What to read from the ancestor; type conditions are matched against its `__typename`.
    pub selection: Vec<Selection>,
    /// The argument is a leaf (scalar, enum or list of those): follow the selected field
    /// down to its leaf value instead of passing an object.
    pub leaf: bool,
}

/// `query`, `mutation` or `subscription` (apollo-compiler's type has no serde of its own).
mod operation_kind_serde {
    use apollo_compiler::ast::OperationType;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &OperationType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OperationType, D::Error> {
        match <&str>::deserialize(d)? {
            "query" => Ok(OperationType::Query),
            "mutation" => Ok(OperationType::Mutation),
            "subscription" => Ok(OperationType::Subscription),
            other => Err(D::Error::custom(format!("unknown operation type {other}"))),
        }
    }
}

/// Prints a path as `a.@.b`.
pub fn path_to_string(path: &[PathSegment]) -> String {
    let parts: Vec<&str> = path
        .iter()
        .map(|s| match s {
            PathSegment::Key(k) => k.as_str(),
            PathSegment::List => "@",
        })
        .collect();
    parts.join(".")
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "QueryPlan {{")?;
        if let Some(primary) = &self.primary {
            // Apollo's layout for subscription plans.
            writeln!(f, "  Subscription {{")?;
            writeln!(f, "    Primary: {{")?;
            primary.write(f, 3)?;
            writeln!(f, "    }},")?;
            if let Some(rest) = &self.root {
                writeln!(f, "    Rest: {{")?;
                rest.write(f, 3)?;
                writeln!(f, "    }},")?;
            }
            writeln!(f, "  }},")?;
        } else if let Some(root) = &self.root {
            root.write(f, 1)?;
        }
        write!(f, "}}")
    }
}

impl fmt::Display for PlanNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

impl PlanNode {
    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        match self {
            PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
                let name = if matches!(self, PlanNode::Sequence(_)) {
                    "Sequence"
                } else {
                    "Parallel"
                };
                writeln!(f, "{pad}{name} {{")?;
                for node in nodes {
                    node.write(f, depth + 1)?;
                }
                writeln!(f, "{pad}}},")
            }
            PlanNode::Fetch(fetch) => fetch.write(f, depth),
            PlanNode::Flatten { paths, fetch } => {
                let printed: Vec<String> = paths
                    .iter()
                    .map(|p| format!("\"{}\"", path_to_string(p)))
                    .collect();
                let label = if paths.len() == 1 { "path" } else { "paths" };
                writeln!(f, "{pad}Flatten({label}: {}) {{", printed.join(", "))?;
                fetch.write(f, depth + 1)?;
                writeln!(f, "{pad}}},")
            }
        }
    }
}

impl FetchNode {
    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        writeln!(f, "{pad}Fetch(service: \"{}\") {{", self.service_name)?;
        if let Some(requires) = &self.requires {
            let mut text = String::new();
            print_selections(&mut text, requires);
            writeln!(f, "{pad}  {text} =>")?;
        }
        for rewrite in self.context.iter().flat_map(|c| &c.arguments) {
            let mut text = String::new();
            print_selections(&mut text, &rewrite.selection);
            let at = path_to_string(&rewrite.ancestor);
            writeln!(f, "{pad}  ${} = \"{at}\" {text}", rewrite.variable)?;
        }
        writeln!(f, "{pad}  {}", self.operation)?;
        writeln!(f, "{pad}}},")
    }
}
