//! One subgraph's SDL, read into a plain model with its federation directives resolved
//! (whatever names `@link` imported them under; Federation 1 subgraphs without `@link` too).

use apollo_compiler::ast::{self, Definition, DirectiveList, Value};
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;

use super::{CompositionError, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Object,
    Interface,
    Union,
    Enum,
    Input,
    Scalar,
}

impl Kind {
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Object => "type",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Input => "input",
            Kind::Scalar => "scalar",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub fields: String,
    pub resolvable: bool,
}

/// Things every schema element may carry into the supergraph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    pub description: Option<String>,
    pub inaccessible: bool,
    pub tags: Vec<String>,
    pub deprecated: Option<String>,
    /// `@composeDirective` directives applied here, printed as written.
    pub custom: Vec<String>,
    /// `@authenticated`, `@requiresScopes`, `@policy`, `@cost`, `@listSize` (canonical names).
    pub spec: Vec<ast::Directive>,
    /// `@join__directive` arguments by subgraph name (`@cacheTag`).
    pub joined: Vec<(String, String)>,
    /// `@context` names, qualified by subgraph (`posts__owner`).
    pub contexts: Vec<String>,
    /// An argument's `@fromContext(field:)`.
    pub from_context: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: String,
    pub ty: ast::Type,
    pub default: Option<String>,
    pub common: Common,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: ast::Type,
    pub args: IndexMap<String, Arg>,
    pub external: bool,
    pub shareable: bool,
    pub requires: Option<String>,
    pub provides: Option<String>,
    pub override_from: Option<String>,
    pub override_label: Option<String>,
    pub common: Common,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeDef {
    pub name: String,
    pub kind: Kind,
    pub keys: Vec<Key>,
    /// Defined with `extend type` or `@extends` (Federation 1 style).
    pub extension: bool,
    pub shareable: bool,
    pub interface_object: bool,
    pub implements: Vec<String>,
    /// Object and interface fields, or input fields.
    pub fields: IndexMap<String, Field>,
    pub members: Vec<String>,
    pub values: IndexMap<String, Common>,
    pub common: Common,
}

/// A parsed subgraph.
#[derive(Clone, Debug)]
pub struct Subgraph {
    pub name: String,
    pub url: String,
    /// Federation 2 (`@link`s the federation spec); Federation 1 otherwise.
    pub fed2: bool,
    /// The federation version linked (`(2, 8)` for `federation/v2.8`).
    pub version: (u32, u32),
    pub types: IndexMap<String, TypeDef>,
    /// Custom directive definitions kept by `@composeDirective`, by name, printed as written.
    pub composed_directives: IndexMap<String, String>,
    /// The `@link` URL each composed directive was imported from.
    pub composed_links: IndexMap<String, String>,
}

const FED_SPEC: &str = "specs.apollo.dev/federation/";
const FEDERATION_TYPES: [&str; 7] = [
    "_Service",
    "_Any",
    "_Entity",
    "_FieldSet",
    "FieldSet",
    "link__Import",
    "link__Purpose",
];
const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// Maps the names directives have in this subgraph to their federation names.
struct Names {
    /// The subgraph's own name (features such as `@context` are named per subgraph).
    subgraph: String,
    /// The federation version `@link`ed (`(2, 8)`); `(1, 0)` for Federation 1.
    version: (u32, u32),
    local: IndexMap<String, String>,
    compose: Vec<String>,
    /// Directive name → URL of the (non-federation) `@link` importing it.
    links: IndexMap<String, String>,
}

impl Names {
    fn federation(&self, local: &str) -> Option<&str> {
        self.local.get(local).map(String::as_str)
    }
}

pub fn parse(name: &str, url: &str, sdl: &str) -> Result<Subgraph, CompositionError> {
    let document = ast::Document::parse(sdl, format!("{name}.graphql")).map_err(|e| {
        CompositionError::new(
            ErrorCode::InvalidGraphQL,
            format!("[{name}] {}", crate::diagnostics::plain(&e.errors)),
        )
    })?;
    let (mut names, fed2, roots) = federation_names(&document);
    names.subgraph = name.to_owned();
    let mut subgraph = Subgraph {
        name: name.to_owned(),
        url: url.to_owned(),
        fed2,
        version: names.version,
        types: IndexMap::new(),
        composed_directives: IndexMap::new(),
        composed_links: IndexMap::new(),
    };
    for definition in &document.definitions {
        if let Definition::DirectiveDefinition(def) = definition {
            if names.compose.iter().any(|d| d == def.name.as_str()) {
                if let Some(url) = names.links.get(def.name.as_str()) {
                    subgraph
                        .composed_links
                        .insert(def.name.to_string(), url.clone());
                }
                subgraph
                    .composed_directives
                    .insert(def.name.to_string(), def.to_string());
            }
            continue;
        }
        let Some(mut ty) = read_type(definition, &names, fed2) else {
            continue;
        };
        if let Some(root) = roots.get(ty.name.as_str()) {
            ty.name = (*root).to_owned();
        }
        if FEDERATION_TYPES.contains(&ty.name.as_str())
            || ty.name.starts_with("federation__")
            || BUILT_IN_SCALARS.contains(&ty.name.as_str())
        {
            continue;
        }
        if ty.name == "Query" {
            ty.fields.shift_remove("_service");
            ty.fields.shift_remove("_entities");
        }
        merge_same_subgraph(&mut subgraph.types, ty);
    }
    rename_root_references(&mut subgraph, &roots);
    // Apollo composition drops an empty root (a subgraph that only adds entity fields has a
    // Query with just the federation fields).
    if subgraph
        .types
        .get("Query")
        .is_some_and(|q| q.fields.is_empty())
    {
        subgraph.types.shift_remove("Query");
    }
    check_references(&subgraph)?;
    Ok(subgraph)
}

/// Every type a subgraph refers to must be defined in it (or be a built-in scalar).
fn check_references(subgraph: &Subgraph) -> Result<(), CompositionError> {
    let defined = |name: &str| {
        subgraph.types.contains_key(name)
            || BUILT_IN_SCALARS.contains(&name)
            || FEDERATION_TYPES.contains(&name)
    };
    for ty in subgraph.types.values() {
        let mut referenced: Vec<(String, &str)> = Vec::new();
        for field in ty.fields.values() {
            referenced.push((field.ty.inner_named_type().to_string(), &field.name));
            for arg in field.args.values() {
                referenced.push((arg.ty.inner_named_type().to_string(), &field.name));
            }
        }
        for name in ty.members.iter().chain(&ty.implements) {
            referenced.push((name.clone(), &ty.name));
        }
        if let Some((missing, at)) = referenced.iter().find(|(name, _)| !defined(name)) {
            return Err(CompositionError::new(
                ErrorCode::InvalidGraphQL,
                format!(
                    "[{}] type \"{missing}\" used by \"{}\" ({at}) is not defined",
                    subgraph.name, ty.name
                ),
            ));
        }
    }
    Ok(())
}

/// `extend type X` next to `type X` in one subgraph: one type with both field sets.
fn merge_same_subgraph(types: &mut IndexMap<String, TypeDef>, ty: TypeDef) {
    match types.get_mut(&ty.name) {
        None => {
            types.insert(ty.name.clone(), ty);
        }
        Some(existing) => {
            existing.extension &= ty.extension;
            existing.keys.extend(ty.keys);
            existing.shareable |= ty.shareable;
            existing.interface_object |= ty.interface_object;
            existing.implements.extend(ty.implements);
            existing.fields.extend(ty.fields);
            existing.members.extend(ty.members);
            existing.values.extend(ty.values);
            existing.common.tags.extend(ty.common.tags);
            existing.common.inaccessible |= ty.common.inaccessible;
            if existing.common.description.is_none() {
                existing.common.description = ty.common.description;
            }
        }
    }
}

fn rename_root_references(subgraph: &mut Subgraph, roots: &IndexMap<String, &'static str>) {
    if roots.iter().all(|(local, canonical)| local == canonical) {
        return;
    }
    for ty in subgraph.types.values_mut() {
        for field in ty.fields.values_mut() {
            let named = field.ty.inner_named_type().to_string();
            if let Some(root) = roots.get(&named) {
                field.ty = rename_type(&field.ty, root);
            }
        }
    }
}

fn rename_type(ty: &ast::Type, to: &str) -> ast::Type {
    let name = Name::new(to).expect("root type names are valid names");
    match ty {
        ast::Type::Named(_) => ast::Type::Named(name),
        ast::Type::NonNullNamed(_) => ast::Type::NonNullNamed(name),
        ast::Type::List(inner) => ast::Type::List(Box::new(rename_type(inner, to))),
        ast::Type::NonNullList(inner) => ast::Type::NonNullList(Box::new(rename_type(inner, to))),
    }
}

/// Directive names from `@link` imports (v2) or the plain names (v1), and root type renames.
fn federation_names(document: &ast::Document) -> (Names, bool, IndexMap<String, &'static str>) {
    let mut names = Names {
        subgraph: String::new(),
        version: (1, 0),
        local: IndexMap::new(),
        compose: Vec::new(),
        links: IndexMap::new(),
    };
    let mut fed2 = false;
    let mut prefix = "federation__".to_owned();
    let mut roots = IndexMap::new();
    let mut schema_directives = Vec::new();
    for definition in &document.definitions {
        let (directives, operations) = match definition {
            Definition::SchemaDefinition(s) => (&s.directives, &s.root_operations),
            Definition::SchemaExtension(s) => (&s.directives, &s.root_operations),
            _ => continue,
        };
        for op in operations {
            let (kind, ty) = &**op;
            let canonical = match kind {
                ast::OperationType::Query => "Query",
                ast::OperationType::Mutation => "Mutation",
                ast::OperationType::Subscription => "Subscription",
            };
            roots.insert(ty.to_string(), canonical);
        }
        schema_directives.extend(directives.iter().cloned());
    }
    for link in schema_directives.iter().filter(|d| d.name == "link") {
        let Some(url) = string_arg(&link.arguments, "url") else {
            continue;
        };
        if !url.contains(FED_SPEC) {
            for import in list_arg(&link.arguments, "import") {
                if let Value::String(name) = import {
                    names
                        .links
                        .insert(name.trim_start_matches('@').to_owned(), url.clone());
                }
            }
            continue;
        }
        fed2 = true;
        names.version = federation_version(&url);
        if let Some(alias) = string_arg(&link.arguments, "as") {
            prefix = format!("{alias}__");
        }
        for import in list_arg(&link.arguments, "import") {
            let (from, to) = match import {
                Value::String(s) => (s.clone(), s.clone()),
                Value::Object(fields) => {
                    let get = |key: &str| {
                        fields
                            .iter()
                            .find(|(k, _)| k == key)
                            .and_then(|(_, v)| v.as_str().map(str::to_owned))
                    };
                    match (get("name"), get("as")) {
                        (Some(name), Some(alias)) => (name, alias),
                        (Some(name), None) => (name.clone(), name),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            names.local.insert(
                to.trim_start_matches('@').to_owned(),
                from.trim_start_matches('@').to_owned(),
            );
        }
    }
    let all = FEDERATION_DIRECTIVES
        .iter()
        .chain(&super::features::DIRECTIVES);
    for directive in all {
        names
            .local
            .insert(format!("{prefix}{directive}"), (*directive).to_owned());
        if !fed2 {
            names
                .local
                .insert((*directive).to_owned(), (*directive).to_owned());
        }
    }
    let composed: Vec<String> = schema_directives
        .iter()
        .filter(|d| names.federation(&d.name) == Some("composeDirective"))
        .filter_map(|d| string_arg(&d.arguments, "name"))
        .map(|name| name.trim_start_matches('@').to_owned())
        .collect();
    names.compose = composed;
    (names, fed2, roots)
}

const FEDERATION_DIRECTIVES: &[&str] = &[
    "key",
    "external",
    "requires",
    "provides",
    "shareable",
    "extends",
    "override",
    "inaccessible",
    "tag",
    "interfaceObject",
    "composeDirective",
];

fn read_type(definition: &Definition, names: &Names, fed2: bool) -> Option<TypeDef> {
    let new = |name: &Name, kind: Kind, description: &Option<Node<str>>, extension: bool| TypeDef {
        name: name.to_string(),
        kind,
        keys: Vec::new(),
        extension,
        shareable: !fed2,
        interface_object: false,
        implements: Vec::new(),
        fields: IndexMap::new(),
        members: Vec::new(),
        values: IndexMap::new(),
        common: Common {
            description: description.as_ref().map(|d| d.to_string()),
            ..Common::default()
        },
    };
    let (mut ty, directives) = match definition {
        Definition::ObjectTypeDefinition(d) => (
            with_fields(
                new(&d.name, Kind::Object, &d.description, false),
                &d.fields,
                &d.implements_interfaces,
                names,
                fed2,
            ),
            &d.directives,
        ),
        Definition::ObjectTypeExtension(d) => (
            with_fields(
                new(&d.name, Kind::Object, &None, true),
                &d.fields,
                &d.implements_interfaces,
                names,
                fed2,
            ),
            &d.directives,
        ),
        Definition::InterfaceTypeDefinition(d) => (
            with_fields(
                new(&d.name, Kind::Interface, &d.description, false),
                &d.fields,
                &d.implements_interfaces,
                names,
                fed2,
            ),
            &d.directives,
        ),
        Definition::InterfaceTypeExtension(d) => (
            with_fields(
                new(&d.name, Kind::Interface, &None, true),
                &d.fields,
                &d.implements_interfaces,
                names,
                fed2,
            ),
            &d.directives,
        ),
        Definition::UnionTypeDefinition(d) => {
            let mut ty = new(&d.name, Kind::Union, &d.description, false);
            ty.members = d.members.iter().map(|m| m.to_string()).collect();
            (ty, &d.directives)
        }
        Definition::UnionTypeExtension(d) => {
            let mut ty = new(&d.name, Kind::Union, &None, true);
            ty.members = d.members.iter().map(|m| m.to_string()).collect();
            (ty, &d.directives)
        }
        Definition::EnumTypeDefinition(d) => (
            with_values(
                new(&d.name, Kind::Enum, &d.description, false),
                &d.values,
                names,
            ),
            &d.directives,
        ),
        Definition::EnumTypeExtension(d) => (
            with_values(new(&d.name, Kind::Enum, &None, true), &d.values, names),
            &d.directives,
        ),
        Definition::InputObjectTypeDefinition(d) => (
            with_inputs(
                new(&d.name, Kind::Input, &d.description, false),
                &d.fields,
                names,
            ),
            &d.directives,
        ),
        Definition::InputObjectTypeExtension(d) => (
            with_inputs(new(&d.name, Kind::Input, &None, true), &d.fields, names),
            &d.directives,
        ),
        Definition::ScalarTypeDefinition(d) => (
            new(&d.name, Kind::Scalar, &d.description, false),
            &d.directives,
        ),
        Definition::ScalarTypeExtension(d) => {
            (new(&d.name, Kind::Scalar, &None, true), &d.directives)
        }
        _ => return None,
    };
    for directive in directives.iter() {
        match names.federation(&directive.name) {
            Some("key") => ty.keys.push(Key {
                fields: string_arg(&directive.arguments, "fields").unwrap_or_default(),
                resolvable: bool_arg(&directive.arguments, "resolvable").unwrap_or(true),
            }),
            Some("extends") => ty.extension = true,
            Some("shareable") => ty.shareable = true,
            Some("interfaceObject") => ty.interface_object = true,
            _ => {}
        }
    }
    read_common(&mut ty.common, directives, names);
    if ty.shareable {
        for field in ty.fields.values_mut() {
            field.shareable = true;
        }
    }
    Some(ty)
}

fn with_fields(
    mut ty: TypeDef,
    fields: &[Node<ast::FieldDefinition>],
    implements: &[Name],
    names: &Names,
    fed2: bool,
) -> TypeDef {
    ty.implements = implements.iter().map(|i| i.to_string()).collect();
    for field in fields {
        let mut out = Field {
            name: field.name.to_string(),
            ty: field.ty.clone(),
            args: field
                .arguments
                .iter()
                .map(|a| (a.name.to_string(), read_arg(a, names)))
                .collect(),
            external: false,
            shareable: !fed2,
            requires: None,
            provides: None,
            override_from: None,
            override_label: None,
            common: Common {
                description: field.description.as_ref().map(|d| d.to_string()),
                ..Common::default()
            },
        };
        for directive in field.directives.iter() {
            let args = &directive.arguments;
            match names.federation(&directive.name) {
                Some("external") => out.external = true,
                Some("shareable") => out.shareable = true,
                Some("requires") => out.requires = string_arg(args, "fields"),
                Some("provides") => out.provides = string_arg(args, "fields"),
                Some("override") => {
                    out.override_from = string_arg(args, "from");
                    out.override_label = string_arg(args, "label");
                }
                _ => {}
            }
        }
        read_common(&mut out.common, &field.directives, names);
        ty.fields.insert(out.name.clone(), out);
    }
    ty
}

fn with_inputs(
    mut ty: TypeDef,
    fields: &[Node<ast::InputValueDefinition>],
    names: &Names,
) -> TypeDef {
    for field in fields {
        let arg = read_arg(field, names);
        ty.fields.insert(
            arg.name.clone(),
            Field {
                name: arg.name.clone(),
                ty: arg.ty.clone(),
                args: IndexMap::from([(String::new(), arg.clone())]),
                external: false,
                shareable: true,
                requires: None,
                provides: None,
                override_from: None,
                override_label: None,
                common: arg.common,
            },
        );
    }
    ty
}

fn with_values(
    mut ty: TypeDef,
    values: &[Node<ast::EnumValueDefinition>],
    names: &Names,
) -> TypeDef {
    for value in values {
        let mut common = Common {
            description: value.description.as_ref().map(|d| d.to_string()),
            ..Common::default()
        };
        read_common(&mut common, &value.directives, names);
        ty.values.insert(value.value.to_string(), common);
    }
    ty
}

fn read_arg(arg: &ast::InputValueDefinition, names: &Names) -> Arg {
    let mut common = Common {
        description: arg.description.as_ref().map(|d| d.to_string()),
        ..Common::default()
    };
    read_common(&mut common, &arg.directives, names);
    Arg {
        name: arg.name.to_string(),
        ty: (*arg.ty).clone(),
        default: arg.default_value.as_ref().map(|v| v.to_string()),
        common,
    }
}

fn read_common(common: &mut Common, directives: &DirectiveList, names: &Names) {
    for directive in directives.iter() {
        match names.federation(&directive.name) {
            Some("inaccessible") => common.inaccessible = true,
            Some("tag") => common.tags.extend(string_arg(&directive.arguments, "name")),
            Some(name) if super::features::DIRECTIVES.contains(&name) => {
                super::features::read(common, name, directive, &names.subgraph)
            }
            Some(_) => {}
            None if directive.name == "deprecated" => {
                common.deprecated = Some(
                    string_arg(&directive.arguments, "reason")
                        .unwrap_or_else(|| "No longer supported".to_owned()),
                );
            }
            None if names.compose.iter().any(|c| c == directive.name.as_str()) => {
                common.custom.push(directive.to_string());
            }
            None => {}
        }
    }
}

/// `(2, 8)` from `https://specs.apollo.dev/federation/v2.8`.
fn federation_version(url: &str) -> (u32, u32) {
    let version = url.rsplit('/').next().unwrap_or_default();
    let mut parts = version.trim_start_matches('v').split('.');
    let number = |p: Option<&str>| p.and_then(|p| p.parse().ok()).unwrap_or(0);
    (number(parts.next()).max(2), number(parts.next()))
}

fn string_arg(args: &[Node<ast::Argument>], name: &str) -> Option<String> {
    args.iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.as_str().map(str::to_owned))
}

fn bool_arg(args: &[Node<ast::Argument>], name: &str) -> Option<bool> {
    args.iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.to_bool())
}

fn list_arg<'a>(args: &'a [Node<ast::Argument>], name: &str) -> Vec<&'a Value> {
    match args.iter().find(|a| a.name == name).map(|a| &*a.value) {
        Some(Value::List(items)) => items.iter().map(|v| &**v).collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}
