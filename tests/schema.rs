//! The checked-in schemas: `schema/supergraph.graphql` is the composition of the subgraphs'
//! golden SDL files (rewritten and failing when stale), and it serves every name of the
//! contract (`contract/*.graphql`, kept identical to `../shared/contract` when that is present)
//! exactly as specified.

use std::path::{Path, PathBuf};

use apollo_compiler::ast::{Definition, Document};
use apollo_compiler::schema::ExtendedType;
use router::compose::{compose, SubgraphInput};

const SUBGRAPHS: [(&str, u16); 4] = [
    ("accounts", 4001),
    ("boards", 4002),
    ("chat", 4003),
    ("notifications", 4004),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The composition of `schema/<subgraph>.graphql`, routed to the launcher's default ports.
fn composed() -> String {
    let inputs: Vec<SubgraphInput> = SUBGRAPHS
        .iter()
        .map(|(name, port)| SubgraphInput {
            name: (*name).to_owned(),
            url: format!("http://127.0.0.1:{port}/graphql"),
            sdl: read(&root().join("schema").join(format!("{name}.graphql"))),
        })
        .collect();
    compose(&inputs)
        .unwrap_or_else(|errors| panic!("the platform's subgraphs do not compose: {errors:#?}"))
}

#[test]
fn the_checked_in_supergraph_is_the_composition_of_the_subgraph_schemas() {
    let sdl = composed();
    let path = root().join("schema/supergraph.graphql");
    if std::fs::read_to_string(&path).unwrap_or_default() != sdl {
        std::fs::write(&path, &sdl).expect("write supergraph");
        panic!("schema/supergraph.graphql was stale and has been rewritten; review and commit it");
    }
}

/// The contract's `.graphql` files in `dir`, by name.
fn contract_files(dir: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().and_then(|e| e.to_str()) == Some("graphql"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, read(&path))
        })
        .collect()
}

#[test]
fn the_vendored_contract_is_the_shared_one() {
    let shared = root().join("../shared/contract");
    if !shared.is_dir() {
        eprintln!("no ../shared/contract beside this clone: the vendored copy stands alone");
        return;
    }
    let vendored = contract_files(&root().join("contract"));
    assert!(!vendored.is_empty(), "contract/ holds no .graphql files");
    assert!(
        vendored == contract_files(&shared),
        "contract/ differs from ../shared/contract: copy the shared files over"
    );
}

#[test]
fn every_contract_name_is_served_as_specified() {
    let supergraph = router::supergraph::Supergraph::parse(&composed()).expect("supergraph loads");
    let api = &supergraph.api_schema;
    let contracts = root().join("contract");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in
        std::fs::read_dir(&contracts).unwrap_or_else(|e| panic!("{}: {e}", contracts.display()))
    {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("graphql") {
            continue;
        }
        let document = Document::parse(read(&path), &path).expect("contract parses");
        for definition in &document.definitions {
            checked += check(api, definition, &mut problems);
        }
    }
    assert!(checked > 100, "only {checked} contract elements found");
    assert!(
        problems.is_empty(),
        "contract names not served as specified:\n{}",
        problems.join("\n")
    );
}

/// Checks one contract definition against the API schema; returns how many elements it checked.
fn check(
    api: &apollo_compiler::Schema,
    definition: &Definition,
    problems: &mut Vec<String>,
) -> usize {
    let mut count = 0;
    let mut expect = |ok: bool, what: String| {
        count += 1;
        if !ok {
            problems.push(what);
        }
    };
    match definition {
        Definition::ObjectTypeDefinition(def) => {
            let served = match api.types.get(&def.name) {
                Some(ExtendedType::Object(o)) => Some(&o.fields),
                _ => None,
            };
            expect(
                served.is_some(),
                format!("type {} is not an object type", def.name),
            );
            let Some(fields) = served else { return count };
            for field in &def.fields {
                let coordinate = format!("{}.{}", def.name, field.name);
                let Some(served) = fields.get(&field.name) else {
                    expect(false, format!("{coordinate} is missing"));
                    continue;
                };
                expect(
                    served.ty == field.ty,
                    format!("{coordinate} is {} instead of {}", served.ty, field.ty),
                );
                for arg in &field.arguments {
                    let served_arg = served.arguments.iter().find(|a| a.name == arg.name);
                    expect(
                        served_arg.is_some_and(|a| {
                            a.ty == arg.ty
                                && a.default_value.as_ref().map(|v| v.to_string())
                                    == arg.default_value.as_ref().map(|v| v.to_string())
                        }),
                        format!(
                            "{coordinate}({}:) is not served as {}{}",
                            arg.name,
                            arg.ty,
                            arg.default_value
                                .as_ref()
                                .map(|v| format!(" = {v}"))
                                .unwrap_or_default()
                        ),
                    );
                }
            }
        }
        Definition::InputObjectTypeDefinition(def) => {
            let Some(ExtendedType::InputObject(served)) = api.types.get(&def.name) else {
                expect(false, format!("input {} is missing", def.name));
                return count;
            };
            for field in &def.fields {
                let ok = served.fields.get(&field.name).is_some_and(|f| {
                    f.ty == field.ty
                        && f.default_value.as_ref().map(|v| v.to_string())
                            == field.default_value.as_ref().map(|v| v.to_string())
                });
                expect(
                    ok,
                    format!(
                        "input field {}.{} is not served as {}",
                        def.name, field.name, field.ty
                    ),
                );
            }
        }
        Definition::EnumTypeDefinition(def) => {
            let Some(ExtendedType::Enum(served)) = api.types.get(&def.name) else {
                expect(false, format!("enum {} is missing", def.name));
                return count;
            };
            for value in &def.values {
                expect(
                    served.values.contains_key(&value.value),
                    format!("enum value {}.{} is missing", def.name, value.value),
                );
            }
        }
        Definition::ScalarTypeDefinition(def) => {
            expect(
                matches!(api.types.get(&def.name), Some(ExtendedType::Scalar(_))),
                format!("scalar {} is missing", def.name),
            );
        }
        _ => {}
    }
    count
}
