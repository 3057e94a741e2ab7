//! Reads `@join__*` directives into the routing model.
//!
//! Supports join v0.2–v0.5 linked with `@link` (Federation 2.x, including supergraphs that
//! Federation 2 composed from Federation 1 subgraphs) and join v0.1 linked with `@core`
//! (Federation 1 composition, where `@join__owner` names the subgraph owning an entity).

use super::{
    ContextArgument, FieldInfo, FieldSource, Key, SubgraphInfo, SupergraphError, TypeInGraph,
    TypeInfo, TypeKind,
};
use super::{GraphId, OverrideCondition};
use crate::operation::{from_field_set, FieldSelection, FragmentSelection, Selection};
use apollo_compiler::ast::Value;
use apollo_compiler::executable::FieldSet;
use apollo_compiler::schema::{Component, ExtendedType, FieldDefinition};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ast, Name, Schema};
use indexmap::IndexMap;

pub(super) struct Model {
    pub subgraphs: Vec<SubgraphInfo>,
    pub types: IndexMap<Name, TypeInfo>,
}

struct Reader<'a> {
    schema: &'a Valid<Schema>,
    /// Enum value name of `join__Graph` → graph id.
    graph_ids: IndexMap<Name, GraphId>,
    /// join v0.1 (`@core`): fields without `@join__field` belong to `@join__owner`.
    legacy: bool,
    /// Context name → the types setting it.
    setters: IndexMap<String, Vec<Name>>,
}

impl Model {
    pub fn read(schema: &Valid<Schema>) -> Result<Model, SupergraphError> {
        let legacy = join_version(schema)? == "v0.1";
        let (subgraphs, graph_ids) = read_graphs(schema)?;
        let mut setters: IndexMap<String, Vec<Name>> = IndexMap::new();
        for (name, ty) in &schema.types {
            for context in type_contexts(ty) {
                setters.entry(context).or_default().push(name.clone());
            }
        }
        let reader = Reader {
            schema,
            graph_ids,
            legacy,
            setters,
        };
        let mut types = IndexMap::new();
        for (name, ty) in &schema.types {
            if ty.is_built_in() || is_machinery(name) {
                continue;
            }
            if let Some(info) = reader.read_type(name, ty)? {
                types.insert(name.clone(), info);
            }
        }
        reader.attach_implementations(&mut types)?;
        Ok(Model { subgraphs, types })
    }
}

/// `join__*`, `link__*` and `core__*` definitions are supergraph machinery.
pub(super) fn is_machinery(name: &str) -> bool {
    name.starts_with("join__") || name.starts_with("link__") || name.starts_with("core__")
}

fn join_version(schema: &Schema) -> Result<String, SupergraphError> {
    for directive in schema.schema_definition.directives.iter() {
        let arg = match directive.name.as_str() {
            "link" => directive.specified_argument_by_name("url"),
            "core" => directive.specified_argument_by_name("feature"),
            _ => None,
        };
        let Some(url) = arg.and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(version) = url.strip_prefix("https://specs.apollo.dev/join/") {
            return match version {
                "v0.1" | "v0.2" | "v0.3" | "v0.4" | "v0.5" => Ok(version.to_owned()),
                other => Err(SupergraphError::UnsupportedJoinVersion(other.to_owned())),
            };
        }
    }
    Err(SupergraphError::NotASupergraph)
}

fn read_graphs(
    schema: &Schema,
) -> Result<(Vec<SubgraphInfo>, IndexMap<Name, GraphId>), SupergraphError> {
    let graph_enum = schema
        .get_enum("join__Graph")
        .ok_or_else(|| SupergraphError::InvalidJoin("missing enum join__Graph".into()))?;
    let mut subgraphs = Vec::new();
    let mut ids = IndexMap::new();
    for (value, def) in &graph_enum.values {
        let directive = def.directives.get("join__graph").ok_or_else(|| {
            SupergraphError::InvalidJoin(format!("join__Graph.{value} has no @join__graph"))
        })?;
        let name = string_arg(directive, "name").unwrap_or_else(|| value.to_ascii_lowercase());
        let url = string_arg(directive, "url").unwrap_or_default();
        ids.insert(value.clone(), subgraphs.len());
        subgraphs.push(SubgraphInfo { name, url });
    }
    Ok((subgraphs, ids))
}

fn string_arg(directive: &ast::Directive, name: &str) -> Option<String> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// The contexts a type sets: `@context(name:)` as Apollo's composition writes it, or
/// `@join__directive(name: "context", args: {name:})`.
fn type_contexts(ty: &ExtendedType) -> Vec<String> {
    let mut names = Vec::new();
    for directive in ty.directives().iter() {
        let name = match directive.name.as_str() {
            "context" => string_arg(directive, "name"),
            "join__directive" if string_arg(directive, "name").as_deref() == Some("context") => {
                directive
                    .specified_argument_by_name("args")
                    .and_then(|args| match args.as_ref() {
                        Value::Object(fields) => fields
                            .iter()
                            .find(|(k, _)| k == "name")
                            .and_then(|(_, v)| v.as_str())
                            .map(str::to_owned),
                        _ => None,
                    })
            }
            _ => None,
        };
        names.extend(name);
    }
    names
}

fn bool_arg(directive: &ast::Directive, name: &str) -> bool {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.to_bool())
        .unwrap_or(false)
}

impl Reader<'_> {
    fn graph_arg(&self, directive: &ast::Directive) -> Result<Option<GraphId>, SupergraphError> {
        let Some(value) = directive.specified_argument_by_name("graph") else {
            return Ok(None);
        };
        let Value::Enum(name) = value.as_ref() else {
            return Err(SupergraphError::InvalidJoin(format!(
                "@{} graph is not an enum",
                directive.name
            )));
        };
        self.graph_ids
            .get(name)
            .copied()
            .map(Some)
            .ok_or_else(|| SupergraphError::InvalidJoin(format!("unknown graph {name}")))
    }

    fn read_type(
        &self,
        name: &Name,
        ty: &ExtendedType,
    ) -> Result<Option<TypeInfo>, SupergraphError> {
        let (kind, fields) = match ty {
            ExtendedType::Object(o) => (TypeKind::Object, Some(&o.fields)),
            ExtendedType::Interface(i) => (TypeKind::Interface, Some(&i.fields)),
            ExtendedType::Union(_) => (TypeKind::Union, None),
            _ => return Ok(None),
        };
        let graphs = self.read_type_graphs(name, ty)?;
        let mut info = TypeInfo {
            name: name.clone(),
            kind,
            graphs,
            fields: IndexMap::new(),
            members: None,
            contexts: type_contexts(ty),
        };
        if let ExtendedType::Union(u) = ty {
            info.members = self.union_members(u.directives.get_all("join__unionMember"))?;
        }
        let owner = self.owner(ty)?;
        for (field_name, def) in fields.into_iter().flatten() {
            let field = self.read_field(name, def, owner)?;
            info.fields.insert(field_name.clone(), field);
        }
        if self.legacy {
            add_legacy_key_sources(&mut info);
        }
        Ok(Some(info))
    }

    fn read_type_graphs(
        &self,
        name: &Name,
        ty: &ExtendedType,
    ) -> Result<Vec<TypeInGraph>, SupergraphError> {
        let mut graphs: Vec<TypeInGraph> = Vec::new();
        for directive in ty.directives().get_all("join__type") {
            let Some(graph) = self.graph_arg(directive)? else {
                continue;
            };
            let entry = match graphs.iter().position(|g| g.graph == graph) {
                Some(i) => &mut graphs[i],
                None => {
                    graphs.push(TypeInGraph {
                        graph,
                        keys: Vec::new(),
                        is_interface_object: false,
                    });
                    graphs.last_mut().expect("just pushed")
                }
            };
            entry.is_interface_object |= bool_arg(directive, "isInterfaceObject");
            if let Some(fields) = string_arg(directive, "key") {
                let resolvable = directive
                    .specified_argument_by_name("resolvable")
                    .and_then(|v| v.to_bool())
                    .unwrap_or(true);
                let selections = self.field_set(name, &fields)?;
                entry.keys.push(Key {
                    fields,
                    selections,
                    resolvable,
                });
            }
        }
        if let Some(owner) = self.owner(ty)? {
            if !graphs.iter().any(|g| g.graph == owner) {
                graphs.push(TypeInGraph {
                    graph: owner,
                    keys: Vec::new(),
                    is_interface_object: false,
                });
            }
        }
        if graphs.is_empty() {
            // A type without @join__type (join v0.1 value types) exists in every subgraph.
            graphs = (0..self.graph_ids.len())
                .map(|graph| TypeInGraph {
                    graph,
                    keys: Vec::new(),
                    is_interface_object: false,
                })
                .collect();
        }
        Ok(graphs)
    }

    fn owner(&self, ty: &ExtendedType) -> Result<Option<GraphId>, SupergraphError> {
        match ty.directives().get("join__owner") {
            Some(d) if self.legacy => self.graph_arg(d),
            _ => Ok(None),
        }
    }

    fn read_field(
        &self,
        parent: &Name,
        def: &Component<FieldDefinition>,
        owner: Option<GraphId>,
    ) -> Result<FieldInfo, SupergraphError> {
        let mut sources = Vec::new();
        let directives: Vec<_> = def.directives.get_all("join__field").collect();
        for directive in &directives {
            if bool_arg(directive, "usedOverridden") {
                continue;
            }
            let Some(graph) = self.graph_arg(directive)? else {
                continue;
            };
            let requires = match string_arg(directive, "requires") {
                Some(fields) => Some(self.field_set(parent, &fields)?),
                None => None,
            };
            let provides = match string_arg(directive, "provides") {
                Some(fields) => Some(self.field_set(def.ty.inner_named_type(), &fields)?),
                None => None,
            };
            let external = bool_arg(directive, "external");
            let condition = string_arg(directive, "overrideLabel").map(|label| OverrideCondition {
                label,
                when_enabled: directive.specified_argument_by_name("override").is_some(),
            });
            let context_arguments = self.context_arguments(parent, def, directive)?;
            // `type:` is written where the subgraph's type differs from the supergraph's.
            let ty = string_arg(directive, "type")
                .and_then(|t| apollo_compiler::ast::Type::parse(&t, "join__field.type").ok())
                .filter(|t| *t != def.ty);
            sources.push(FieldSource {
                graph,
                ty,
                requires,
                provides,
                external,
                condition,
                context_arguments,
            });
        }
        if directives.is_empty() {
            if let Some(owner) = owner {
                sources.push(FieldSource {
                    graph: owner,
                    ty: None,
                    requires: None,
                    provides: None,
                    external: false,
                    condition: None,
                    context_arguments: Vec::new(),
                });
            }
        }
        // `@join__field` without graph (fields an @interfaceObject adds to implementations)
        // leaves no direct source: only the interface object resolves the field.
        let no_direct_source = !directives.is_empty() && sources.is_empty();
        Ok(FieldInfo {
            name: def.name.clone(),
            sources,
            no_direct_source,
        })
    }

    /// `contextArguments: [{context, name, type, selection}]` of one `@join__field`.
    fn context_arguments(
        &self,
        parent: &Name,
        def: &FieldDefinition,
        directive: &ast::Directive,
    ) -> Result<Vec<ContextArgument>, SupergraphError> {
        let Some(list) = directive.specified_argument_by_name("contextArguments") else {
            return Ok(Vec::new());
        };
        let invalid = |message: String| {
            SupergraphError::InvalidJoin(format!(
                "contextArguments of {parent}.{}: {message}",
                def.name
            ))
        };
        let mut arguments = Vec::new();
        for item in list.as_list().ok_or_else(|| invalid("not a list".into()))? {
            let Value::Object(fields) = item.as_ref() else {
                return Err(invalid("an entry is not an object".into()));
            };
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.as_str())
                    .ok_or_else(|| invalid(format!("an entry has no `{key}`")))
            };
            let context = get("context")?.to_owned();
            let setters = self
                .setters
                .get(&context)
                .ok_or_else(|| invalid(format!("no type sets context `{context}`")))?;
            let selection = self
                .context_selection(setters, get("selection")?)
                .map_err(invalid)?;
            arguments.push(ContextArgument {
                name: Name::new(get("name")?).map_err(|e| invalid(e.to_string()))?,
                ty: get("type")?.to_owned(),
                context,
                selection,
            });
        }
        Ok(arguments)
    }

    /// Parses a context selection (`{ locale }`, `... on User { locale } ... on Team { language }`)
    /// against the types setting the context.
    fn context_selection(&self, setters: &[Name], text: &str) -> Result<Vec<Selection>, String> {
        let document =
            ast::Document::parse(format!("{{ {text} }}"), "context.graphql").map_err(|e| {
                format!(
                    "selection `{}`: {}",
                    text.trim(),
                    crate::diagnostics::plain(&e.errors)
                )
            })?;
        let Some(ast::Definition::OperationDefinition(operation)) = document.definitions.first()
        else {
            return Err(format!(
                "selection `{}` is not a selection set",
                text.trim()
            ));
        };
        self.convert_selection(setters, &operation.selection_set)
    }

    fn convert_selection(
        &self,
        parents: &[Name],
        selections: &[ast::Selection],
    ) -> Result<Vec<Selection>, String> {
        let mut out = Vec::new();
        for selection in selections {
            match selection {
                ast::Selection::Field(field) => {
                    let def = parents
                        .iter()
                        .find_map(|p| self.schema.type_field(p, &field.name).ok())
                        .ok_or_else(|| format!("no field `{}` on the context type", field.name))?;
                    let child = vec![def.ty.inner_named_type().clone()];
                    out.push(Selection::Field(FieldSelection {
                        alias: field.alias.clone(),
                        name: field.name.clone(),
                        arguments: field.arguments.clone(),
                        ty: def.ty.clone(),
                        selections: self.convert_selection(&child, &field.selection_set)?,
                    }));
                }
                ast::Selection::InlineFragment(fragment) => {
                    let condition = fragment
                        .type_condition
                        .clone()
                        .ok_or("inline fragments need a type condition")?;
                    out.push(Selection::Fragment(FragmentSelection {
                        selections: self.convert_selection(
                            std::slice::from_ref(&condition),
                            &fragment.selection_set,
                        )?,
                        type_condition: condition,
                    }));
                }
                ast::Selection::FragmentSpread(spread) => {
                    return Err(format!("fragment spread `...{}`", spread.fragment_name));
                }
            }
        }
        Ok(out)
    }

    fn field_set(&self, type_name: &Name, fields: &str) -> Result<Vec<Selection>, SupergraphError> {
        let set = FieldSet::parse_and_validate(
            self.schema,
            type_name.clone(),
            fields,
            "field_set.graphql",
        )
        .map_err(|e| SupergraphError::InvalidFieldSet {
            type_name: type_name.clone(),
            fields: fields.to_owned(),
            message: crate::diagnostics::plain(&e.errors),
        })?;
        Ok(from_field_set(self.schema, &set.selection_set))
    }

    fn union_members<'d>(
        &self,
        directives: impl Iterator<Item = &'d Component<ast::Directive>>,
    ) -> Result<Option<Vec<(GraphId, Name)>>, SupergraphError> {
        let mut members = Vec::new();
        for directive in directives {
            let Some(graph) = self.graph_arg(directive)? else {
                continue;
            };
            if let Some(member) = string_arg(directive, "member") {
                members.push((
                    graph,
                    Name::new(&member).map_err(|e| SupergraphError::InvalidJoin(e.to_string()))?,
                ));
            }
        }
        Ok((!members.is_empty()).then_some(members))
    }

    /// Records, per interface, which subgraph knows which implementation (`@join__implements`).
    fn attach_implementations(
        &self,
        types: &mut IndexMap<Name, TypeInfo>,
    ) -> Result<(), SupergraphError> {
        let mut found: Vec<(Name, GraphId, Name)> = Vec::new();
        for (name, ty) in &self.schema.types {
            for directive in ty.directives().get_all("join__implements") {
                let Some(graph) = self.graph_arg(directive)? else {
                    continue;
                };
                if let Some(interface) = string_arg(directive, "interface") {
                    found.push((
                        Name::new(&interface)
                            .map_err(|e| SupergraphError::InvalidJoin(e.to_string()))?,
                        graph,
                        name.clone(),
                    ));
                }
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        for info in types.values_mut().filter(|t| t.kind == TypeKind::Interface) {
            let members = found
                .iter()
                .filter(|(i, _, _)| *i == info.name)
                .map(|(_, g, t)| (*g, t.clone()))
                .collect();
            info.members = Some(members);
        }
        Ok(())
    }
}

/// In join v0.1 key fields are only attributed to the owner, yet every subgraph declaring a
/// key can resolve (and receives) its fields.
fn add_legacy_key_sources(info: &mut TypeInfo) {
    for type_in_graph in &info.graphs {
        for key in &type_in_graph.keys {
            for selection in &key.selections {
                let Selection::Field(key_field) = selection else {
                    continue;
                };
                let Some(field) = info.fields.get_mut(&key_field.name) else {
                    continue;
                };
                if !field.sources.is_empty()
                    && !field.sources.iter().any(|s| s.graph == type_in_graph.graph)
                {
                    field.sources.push(FieldSource {
                        graph: type_in_graph.graph,
                        ty: None,
                        requires: None,
                        provides: None,
                        external: false,
                        condition: None,
                        context_arguments: Vec::new(),
                    });
                }
            }
        }
    }
}
