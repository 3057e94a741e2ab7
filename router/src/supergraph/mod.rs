//! The supergraph as plain data: which subgraphs define each type and resolve each field.
//!
//! Built once per supergraph file by [`Supergraph::parse`]; immutable afterwards.

mod api_schema;
mod parse;

use crate::operation::Selection;
use apollo_compiler::collections::HashMap;
use apollo_compiler::schema::{ExtendedType, Implementers};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema};
use indexmap::IndexMap;

/// Index of a subgraph in [`Supergraph::subgraphs`].
pub type GraphId = usize;

/// Errors raised while reading a supergraph.
#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    #[error("the supergraph is not a valid GraphQL schema: {0}")]
    InvalidSchema(String),
    #[error(
        "the supergraph does not link the join spec (@link or @core of specs.apollo.dev/join)"
    )]
    NotASupergraph,
    #[error("unsupported join spec version {0}")]
    UnsupportedJoinVersion(String),
    #[error("invalid @join__* usage: {0}")]
    InvalidJoin(String),
    #[error("invalid field set `{fields}` on type {type_name}: {message}")]
    InvalidFieldSet {
        type_name: Name,
        fields: String,
        message: String,
    },
    #[error("the derived API schema is invalid: {0}")]
    InvalidApiSchema(String),
}

impl SupergraphError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SupergraphError::InvalidSchema(_) => "SUPERGRAPH_INVALID_SCHEMA",
            SupergraphError::NotASupergraph => "SUPERGRAPH_NOT_FEDERATED",
            SupergraphError::UnsupportedJoinVersion(_) => "SUPERGRAPH_UNSUPPORTED_VERSION",
            SupergraphError::InvalidJoin(_) => "SUPERGRAPH_INVALID_JOIN",
            SupergraphError::InvalidFieldSet { .. } => "SUPERGRAPH_INVALID_FIELD_SET",
            SupergraphError::InvalidApiSchema(_) => "SUPERGRAPH_INVALID_API_SCHEMA",
        }
    }
}

/// A subgraph named by the `join__Graph` enum.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphInfo {
    pub name: String,
    pub url: String,
}

/// What a composite type (object, interface, union) looks like across subgraphs.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub name: Name,
    pub kind: TypeKind,
    /// The subgraphs defining the type, with their keys.
    pub graphs: Vec<TypeInGraph>,
    pub fields: IndexMap<Name, FieldInfo>,
    /// `(graph, type)`: union members or interface implementations known to a subgraph.
    /// `None` when the supergraph does not record it (then the API schema is the truth).
    pub members: Option<Vec<(GraphId, Name)>>,
    /// Contexts the type sets (`@context`), named `<subgraph>__<name>` by composition.
    pub contexts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Object,
    Interface,
    Union,
}

/// A type as defined by one subgraph.
#[derive(Debug, Clone)]
pub struct TypeInGraph {
    pub graph: GraphId,
    pub keys: Vec<Key>,
    pub is_interface_object: bool,
}

/// One `@key` of a type in a subgraph.
#[derive(Debug, Clone)]
pub struct Key {
    pub fields: String,
    pub selections: Vec<Selection>,
    /// `false` for `@key(resolvable: false)`: the subgraph cannot be entered by this key.
    pub resolvable: bool,
}

/// A field of a composite type.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    pub name: Name,
    /// Subgraphs that declare the field. Empty means every subgraph defining the type,
    /// unless `no_direct_source`.
    pub sources: Vec<FieldSource>,
    /// No subgraph resolves the field on this type directly (an `@interfaceObject` of one
    /// of its interfaces does).
    pub no_direct_source: bool,
}

/// A field as declared by one subgraph.
#[derive(Debug, Clone)]
pub struct FieldSource {
    pub graph: GraphId,
    /// The field's type in this subgraph, where it differs from the supergraph's (a
    /// non-null or narrower type: `ID!` for `ID`, `Cat` for `Pet`).
    pub ty: Option<apollo_compiler::ast::Type>,
    pub requires: Option<Vec<Selection>>,
    pub provides: Option<Vec<Selection>>,
    /// Declared `@external`: only resolvable where a `@provides` path says so.
    pub external: bool,
    /// Progressive `@override`: the source is active only in one state of a label.
    pub condition: Option<OverrideCondition>,
    /// Arguments filled from an ancestor's `@context` (`@fromContext`, join v0.5).
    pub context_arguments: Vec<ContextArgument>,
}

/// An argument the router fills from the nearest enclosing entity that sets a context
/// (`@fromContext`); clients never see it in the API schema.
#[derive(Debug, Clone)]
pub struct ContextArgument {
    /// The argument's name on the field.
    pub name: Name,
    /// The argument's type in the subgraph (`String`, `[ID!]`), used to declare the variable.
    pub ty: String,
    /// The context it reads, as named by composition (`<subgraph>__<name>`).
    pub context: String,
    /// What to read from the context-setting ancestor, possibly under type conditions.
    pub selection: Vec<Selection>,
}

/// The state of an override label in which a field source is active.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideCondition {
    pub label: String,
    /// `true` on the overriding subgraph, `false` on the overridden one.
    pub when_enabled: bool,
}

impl FieldSource {
    /// Whether the source resolves the field given the enabled override labels.
    pub fn active(&self, enabled_labels: &[String]) -> bool {
        match &self.condition {
            None => true,
            Some(c) => enabled_labels.contains(&c.label) == c.when_enabled,
        }
    }
}

/// A parsed supergraph: the routing model plus the API schema clients see.
#[derive(Debug)]
pub struct Supergraph {
    pub subgraphs: Vec<SubgraphInfo>,
    pub types: IndexMap<Name, TypeInfo>,
    /// The schema clients introspect and operations are validated against.
    pub api_schema: Valid<Schema>,
    pub implementers: HashMap<Name, Implementers>,
    /// Every progressive `@override` label, in first-seen order.
    pub override_labels: Vec<String>,
    /// Whether any subgraph has an `@interfaceObject` (which answers `__typename` with an
    /// interface's name, so the executor must look for the real type in merged data).
    pub has_interface_objects: bool,
    /// `@authenticated`, `@requiresScopes` and `@policy` of the supergraph.
    pub access: crate::edge::authorization::AccessRules,
    /// What subgraphs may return but clients must never see (`@inaccessible`); `None`
    /// when nothing is hidden, so the response writer checks nothing.
    pub hidden: Option<Hidden>,
}

/// Values that exist in subgraphs but not in the API schema.
#[derive(Debug, Default)]
pub struct Hidden {
    /// Enums with `@inaccessible` values: the values clients may see.
    pub enum_values: HashMap<Name, Vec<Name>>,
    /// `@inaccessible` object types.
    pub object_types: Vec<Name>,
}

impl Hidden {
    fn read(schema: &Schema, api: &Schema) -> Option<Hidden> {
        let mut hidden = Hidden::default();
        for (name, ty) in &schema.types {
            match (ty, api.types.get(name)) {
                (ExtendedType::Enum(full), Some(ExtendedType::Enum(visible)))
                    if full.values.len() != visible.values.len() =>
                {
                    let values = visible.values.keys().cloned().collect();
                    hidden.enum_values.insert(name.clone(), values);
                }
                (ExtendedType::Object(_), None) => hidden.object_types.push(name.clone()),
                _ => {}
            }
        }
        (!hidden.enum_values.is_empty() || !hidden.object_types.is_empty()).then_some(hidden)
    }
}

impl Supergraph {
    /// Parses a supergraph SDL (join v0.1 through v0.5) and derives the API schema.
    pub fn parse(sdl: &str) -> Result<Supergraph, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::InvalidSchema(crate::diagnostics::plain(&e.errors)))?;
        let model = parse::Model::read(&schema)?;
        let api_schema = api_schema::derive(sdl)?;
        let hidden = Hidden::read(&schema, &api_schema);
        let implementers = api_schema.implementers_map();
        let mut override_labels: Vec<String> = Vec::new();
        let conditions = model
            .types
            .values()
            .flat_map(|t| t.fields.values())
            .flat_map(|f| &f.sources);
        for condition in conditions.filter_map(|s| s.condition.as_ref()) {
            if !override_labels.contains(&condition.label) {
                override_labels.push(condition.label.clone());
            }
        }
        let has_interface_objects = model
            .types
            .values()
            .any(|t| t.graphs.iter().any(|g| g.is_interface_object));
        let access = crate::edge::authorization::AccessRules::read(&schema, &implementers);
        Ok(Supergraph {
            access,
            hidden,
            override_labels,
            has_interface_objects,
            subgraphs: model.subgraphs,
            types: model.types,
            api_schema,
            implementers,
        })
    }

    /// Whether a fragment on `condition` applies to an object of type `runtime`.
    pub fn applies(&self, condition: &str, runtime: &str) -> bool {
        condition == runtime || self.api_schema.is_subtype(condition, runtime)
    }

    /// Finds a subgraph by name.
    pub fn graph_by_name(&self, name: &str) -> Option<GraphId> {
        self.subgraphs.iter().position(|s| s.name == name)
    }

    /// The definition of `type_name` in `graph`, if that subgraph defines it.
    pub fn type_in_graph(&self, type_name: &str, graph: GraphId) -> Option<&TypeInGraph> {
        self.types
            .get(type_name)
            .and_then(|t| t.graphs.iter().find(|g| g.graph == graph))
    }

    /// Whether `graph` defines `type_name` (leaf types are defined everywhere).
    pub fn graph_has_type(&self, type_name: &str, graph: GraphId) -> bool {
        match self.types.get(type_name) {
            Some(info) => info.graphs.iter().any(|g| g.graph == graph),
            None => true,
        }
    }

    /// The declaration of `type_name.field` by `graph`, when it can resolve it with no
    /// override label enabled.
    ///
    /// Returns `Some(None)` for fields every subgraph of the type resolves.
    pub fn field_source(
        &self,
        type_name: &str,
        field: &str,
        graph: GraphId,
    ) -> Option<Option<&FieldSource>> {
        self.field_source_with(type_name, field, graph, &[])
    }

    /// Like [`Supergraph::field_source`], with the given override labels enabled.
    pub fn field_source_with(
        &self,
        type_name: &str,
        field: &str,
        graph: GraphId,
        enabled_labels: &[String],
    ) -> Option<Option<&FieldSource>> {
        let info = self.types.get(type_name)?;
        if !info.graphs.iter().any(|g| g.graph == graph) {
            return None;
        }
        let field = info.fields.get(field)?;
        if field.no_direct_source {
            return None;
        }
        if field.sources.is_empty() {
            return Some(None);
        }
        field
            .sources
            .iter()
            .find(|s| s.graph == graph && s.active(enabled_labels))
            .map(Some)
    }

    /// Object types of the API schema a value of `type_name` can have at runtime.
    pub fn possible_types(&self, type_name: &str) -> Vec<Name> {
        if let Some(union_) = self.api_schema.get_union(type_name) {
            return union_.members.iter().map(|m| m.name.clone()).collect();
        }
        match self.implementers.get(type_name) {
            Some(imp) => imp.objects.iter().cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The possible types of `abstract_type` that `graph` knows as such.
    pub fn possible_types_in_graph(&self, abstract_type: &str, graph: GraphId) -> Vec<Name> {
        let recorded = self
            .types
            .get(abstract_type)
            .and_then(|t| t.members.as_ref());
        self.possible_types(abstract_type)
            .into_iter()
            .filter(|p| self.graph_has_type(p, graph))
            .filter(|p| match recorded {
                Some(members) => members.iter().any(|(g, m)| *g == graph && m == p),
                None => true,
            })
            .collect()
    }

    /// An interface of `type_name` (or `type_name` itself) that some subgraph declares as an
    /// `@interfaceObject` resolving `field`: the route to fields only that subgraph knows.
    pub fn interface_object_route(
        &self,
        type_name: &str,
        field: &str,
        enabled_labels: &[String],
    ) -> Option<(Name, GraphId)> {
        let mut candidates: Vec<Name> = Vec::new();
        if self.api_schema.get_interface(type_name).is_some() {
            candidates.push(Name::new(type_name).ok()?);
        }
        if let Some(object) = self.api_schema.get_object(type_name) {
            candidates.extend(object.implements_interfaces.iter().map(|i| i.name.clone()));
        }
        candidates.into_iter().find_map(|interface| {
            let info = self.types.get(&interface)?;
            let graph = info
                .graphs
                .iter()
                .filter(|g| g.is_interface_object)
                .find_map(|g| {
                    match self.field_source_with(&interface, field, g.graph, enabled_labels)? {
                        Some(source) if source.external => None,
                        _ => Some(g.graph),
                    }
                })?;
            Some((interface, graph))
        })
    }

    /// Whether a value of `type_name` sets `context`: the type itself, one of its
    /// interfaces or a union containing it carries the `@context`.
    pub fn sets_context(&self, type_name: &str, context: &str) -> bool {
        let sets = |name: &str| {
            self.types
                .get(name)
                .is_some_and(|t| t.contexts.iter().any(|c| c == context))
        };
        if sets(type_name) {
            return true;
        }
        let interfaces = self
            .api_schema
            .get_object(type_name)
            .map(|o| &o.implements_interfaces)
            .into_iter()
            .flatten();
        if interfaces.map(|i| &i.name).any(|i| sets(i)) {
            return true;
        }
        self.api_schema.types.values().any(|t| match t {
            apollo_compiler::schema::ExtendedType::Union(u) => {
                u.members.contains(type_name) && sets(&u.name)
            }
            _ => false,
        })
    }

    /// The type of `parent.field` in `graph`, when it differs from the supergraph's.
    pub fn subgraph_field_type(
        &self,
        parent: &str,
        field: &str,
        graph: GraphId,
    ) -> Option<&apollo_compiler::ast::Type> {
        let info = self.types.get(parent)?.fields.get(field)?;
        let source = info.sources.iter().find(|s| s.graph == graph)?;
        source.ty.as_ref()
    }

    /// Whether `name` is an object, interface or union type (it takes a selection set).
    pub fn is_composite(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// Whether `name` is an interface or union of the API schema.
    pub fn is_abstract(&self, name: &str) -> bool {
        self.api_schema.get_interface(name).is_some() || self.api_schema.get_union(name).is_some()
    }
}
