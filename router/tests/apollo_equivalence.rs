//! Our composition against Apollo's: for each fixture under `tests/fixtures/apollo-compose/`,
//! the supergraph we compose is equivalent to `apollo.graphql`, the one Apollo's composition
//! (npm `@apollo/composition`, see `generate.mjs` there) produced for the same subgraphs. The
//! comparison ignores formatting and ordering, nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apollo_compiler::ast::{Definition, Directive, DirectiveList, Document};
use router::compose::{compose, SubgraphInput};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apollo-compose")
}

/// A supergraph as sorted, comparable lines: one per schema element with its directives.
fn normalize(sdl: &str) -> Vec<String> {
    let document = Document::parse(sdl, "supergraph.graphql").expect("supergraph parses");
    let mut out = Vec::new();
    for definition in &document.definitions {
        if matches!(definition, Definition::DirectiveDefinition(_)) {
            let text = definition.to_string();
            out.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
            continue;
        }
        let name = definition
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "schema".into());
        out.push(format!(
            "{name} {} {}",
            kind(definition),
            directives(definition.directives())
        ));
        if let Some(text) = description(definition) {
            out.push(format!("{name} description {text:?}"));
        }
        children(&mut out, &name, definition);
    }
    out.sort();
    out
}

fn kind(definition: &Definition) -> &'static str {
    match definition {
        Definition::SchemaDefinition(_) => "schema",
        Definition::ObjectTypeDefinition(_) => "type",
        Definition::InterfaceTypeDefinition(_) => "interface",
        Definition::UnionTypeDefinition(_) => "union",
        Definition::EnumTypeDefinition(_) => "enum",
        Definition::InputObjectTypeDefinition(_) => "input",
        Definition::ScalarTypeDefinition(_) => "scalar",
        _ => "other",
    }
}

fn description(definition: &Definition) -> Option<String> {
    let text = match definition {
        Definition::ObjectTypeDefinition(d) => d.description.clone(),
        Definition::InterfaceTypeDefinition(d) => d.description.clone(),
        Definition::EnumTypeDefinition(d) => d.description.clone(),
        Definition::InputObjectTypeDefinition(d) => d.description.clone(),
        Definition::ScalarTypeDefinition(d) => d.description.clone(),
        Definition::UnionTypeDefinition(d) => d.description.clone(),
        _ => None,
    };
    text.map(|t| t.trim().to_owned())
}

/// Directives as a sorted list, each with its arguments sorted.
fn directives(list: &DirectiveList) -> String {
    let mut items: Vec<String> = list.iter().map(|d| directive(d)).collect();
    items.sort();
    items.join(" ")
}

fn directive(d: &Directive) -> String {
    let mut args: Vec<String> = d
        .arguments
        .iter()
        .map(|a| format!("{}: {}", a.name, a.value))
        .collect();
    args.sort();
    format!("@{}({})", d.name, args.join(", "))
}

fn children(out: &mut Vec<String>, parent: &str, definition: &Definition) {
    let fields = match definition {
        Definition::ObjectTypeDefinition(d) => {
            let mut interfaces: Vec<String> = d
                .implements_interfaces
                .iter()
                .map(|i| i.to_string())
                .collect();
            interfaces.sort();
            out.push(format!("{parent} implements {}", interfaces.join(" ")));
            Some(&d.fields)
        }
        Definition::InterfaceTypeDefinition(d) => Some(&d.fields),
        _ => None,
    };
    for field in fields.into_iter().flatten() {
        let mut args: Vec<String> = field
            .arguments
            .iter()
            .map(|a| {
                format!(
                    "{}: {}{} {}",
                    a.name,
                    a.ty,
                    a.default_value
                        .as_ref()
                        .map(|v| format!(" = {v}"))
                        .unwrap_or_default(),
                    directives(&a.directives)
                )
            })
            .collect();
        args.sort();
        out.push(format!(
            "{parent}.{}({}): {} {}",
            field.name,
            args.join(", "),
            field.ty,
            directives(&field.directives)
        ));
        if let Some(text) = &field.description {
            out.push(format!(
                "{parent}.{} description {:?}",
                field.name,
                text.trim()
            ));
        }
    }
    match definition {
        Definition::EnumTypeDefinition(d) => {
            for value in &d.values {
                out.push(format!(
                    "{parent}.{} {}",
                    value.value,
                    directives(&value.directives)
                ));
            }
        }
        Definition::InputObjectTypeDefinition(d) => {
            for field in &d.fields {
                let default = field
                    .default_value
                    .as_ref()
                    .map(|v| format!(" = {v}"))
                    .unwrap_or_default();
                out.push(format!(
                    "{parent}.{}: {}{default} {}",
                    field.name,
                    field.ty,
                    directives(&field.directives)
                ));
            }
        }
        Definition::UnionTypeDefinition(d) => {
            let mut members: Vec<String> = d.members.iter().map(|m| m.to_string()).collect();
            members.sort();
            out.push(format!("{parent} = {}", members.join(" | ")));
        }
        Definition::SchemaDefinition(d) => {
            for op in &d.root_operations {
                out.push(format!("schema {} {}", op.0, op.1));
            }
        }
        _ => {}
    }
}

fn ours(case: &Path) -> String {
    let mut inputs: Vec<SubgraphInput> = std::fs::read_dir(case)
        .expect("case dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql") && !p.ends_with("apollo.graphql"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            SubgraphInput {
                url: format!("http://{name}.test/graphql"),
                sdl: std::fs::read_to_string(&p).expect("read"),
                name,
            }
        })
        .collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    compose(&inputs).unwrap_or_else(|e| panic!("{}: {e:#?}", case.display()))
}

fn assert_equivalent(case: &str) {
    let dir = fixtures().join(case);
    let apollo =
        normalize(&std::fs::read_to_string(dir.join("apollo.graphql")).expect("apollo fixture"));
    let ours = normalize(&ours(&dir));
    let apollo_map: BTreeMap<&String, ()> = apollo.iter().map(|l| (l, ())).collect();
    let ours_map: BTreeMap<&String, ()> = ours.iter().map(|l| (l, ())).collect();
    let missing: Vec<&&String> = apollo_map
        .keys()
        .filter(|l| !ours_map.contains_key(*l))
        .collect();
    let extra: Vec<&&String> = ours_map
        .keys()
        .filter(|l| !apollo_map.contains_key(*l))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{case}: differs from Apollo's composition\nonly in Apollo's:\n{}\nonly in ours:\n{}",
        missing
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        extra
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn classic_four_subgraphs_match_apollo() {
    assert_equivalent("classic");
}

#[test]
fn abstract_types_enums_and_inputs_match_apollo() {
    assert_equivalent("abstract_types");
}

#[test]
fn override_inaccessible_and_tags_match_apollo() {
    assert_equivalent("override_inaccessible");
}

#[test]
fn the_platform_subgraphs_match_apollo() {
    assert_equivalent("platform");
}

#[test]
fn interface_objects_and_composed_directives_match_apollo() {
    assert_equivalent("interface_object");
}

/// The cases of the differential suite (`tests/differential/`), composed by both.
#[test]
fn the_differential_cases_match_apollo() {
    let mut failures = Vec::new();
    for case in [
        "external_node",
        "inaccessible_values",
        "interface_sources",
        "parent_entity",
        "partial_unions",
        "requires_args",
        "shareable_root",
        "subgraph_types",
    ] {
        if let Err(panic) = std::panic::catch_unwind(|| assert_equivalent(case)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| format!("{case}: composition failed"));
            failures.push(message);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Federation 2.5–2.12 directives: `@authenticated`, `@requiresScopes`, `@policy` (SECURITY
/// links), `@cost`/`@listSize` (the cost spec, kept in the API schema) and `@cacheTag`
/// (a `@join__directive`).
#[test]
fn access_cost_and_cache_directives_match_apollo() {
    assert_equivalent("access_cost");
}

/// `@context`/`@fromContext` (federation 2.8): contexts named per subgraph, the argument
/// filled from a context leaves the API and becomes `contextArguments` (join v0.5).
#[test]
fn contexts_match_apollo() {
    assert_equivalent("context");
}

/// The `platform` fixture holds the platform's own subgraph schemas: they must be the
/// checked-in golden files (`schema/*.graphql`), or Apollo's composition in `apollo.graphql`
/// would be checked against schemas nobody serves.
#[test]
fn the_platform_fixture_is_the_golden_subgraph_schemas() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
    let fixture = fixtures().join("platform");
    for name in ["accounts", "boards", "chat", "notifications"] {
        let file = format!("{name}.graphql");
        let read = |dir: &Path| {
            std::fs::read_to_string(dir.join(&file))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(&file).display()))
        };
        assert!(
            read(&fixture) == read(&golden),
            "tests/fixtures/apollo-compose/platform/{file} differs from schema/{file}: copy it \
             over and regenerate apollo.graphql (node tests/fixtures/apollo-compose/generate.mjs)"
        );
    }
}
