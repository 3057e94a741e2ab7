//! Composition: the platform's own subgraphs compose into a supergraph the router plans with,
//! and each composition rule rejects what it must, with its code and the coordinates at fault.

use router::compose::{compose, ErrorCode, SubgraphInput};

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@override", "@inaccessible", "@tag", "@interfaceObject"])"#;

fn sg(name: &str, body: &str) -> SubgraphInput {
    SubgraphInput {
        name: name.into(),
        url: format!("http://127.0.0.1:1/{name}"),
        sdl: format!("{LINK}\n{body}"),
    }
}

fn ok(inputs: &[SubgraphInput]) -> String {
    match compose(inputs) {
        Ok(sdl) => {
            router::supergraph::Supergraph::parse(&sdl).unwrap_or_else(|e| {
                panic!("router cannot load the composed supergraph: {e}\n{sdl}")
            });
            sdl
        }
        Err(errors) => panic!("composition failed: {errors:#?}"),
    }
}

fn fails(inputs: &[SubgraphInput], code: ErrorCode, mentions: &[&str]) {
    let errors = compose(inputs).expect_err("composition must fail");
    let error = errors
        .iter()
        .find(|e| e.code == code)
        .unwrap_or_else(|| panic!("expected {code:?}, got {errors:#?}"));
    for needle in mentions {
        assert!(
            error.message.contains(needle),
            "{:?} does not mention {needle:?}",
            error.message
        );
    }
}

fn plan(sdl: &str, query: &str) -> String {
    let supergraph = router::supergraph::Supergraph::parse(sdl).expect("supergraph");
    router::pipeline::plan_only(&supergraph, query, None, serde_json::Map::new(), &[])
        .expect("plan")
        .to_string()
}

fn schema_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schema")
        .join(format!("{name}.graphql"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_platform_subgraphs_compose_and_plan_across_subgraphs() {
    let inputs: Vec<SubgraphInput> = ["accounts", "notifications"]
        .iter()
        .map(|name| SubgraphInput {
            name: (*name).into(),
            url: format!("http://127.0.0.1:1/{name}"),
            sdl: schema_file(name),
        })
        .collect();
    let sdl = ok(&inputs);
    assert!(sdl.contains("type User\n  @join__type(graph: ACCOUNTS, key: \"id\")\n  @join__type(graph: NOTIFICATIONS, key: \"id\")"), "{sdl}");
    assert!(
        sdl.contains(
            "type Task\n  @join__type(graph: NOTIFICATIONS, key: \"id\", resolvable: false)"
        ),
        "{sdl}"
    );
    assert!(
        sdl.contains("name: String! @join__field(graph: ACCOUNTS)"),
        "{sdl}"
    );
    let printed = plan(&sdl, "{ me { name unreadNotificationCount } }");
    assert!(
        printed.contains("Fetch(service: \"accounts\")") || printed.contains("accounts"),
        "{printed}"
    );
    assert!(printed.contains("notifications"), "{printed}");
}

#[test]
fn keys_and_value_types_merge_without_join_fields_where_identical() {
    let a = sg(
        "a",
        r#"type Query { product: Product } type Product @key(fields: "id") { id: ID! name: String } type Money @shareable { amount: Int! currency: String! }"#,
    );
    let b = sg(
        "b",
        r#"type Product @key(fields: "id") { id: ID! price: Money } type Money @shareable { amount: Int! currency: String! }"#,
    );
    let sdl = ok(&[a, b]);
    assert!(sdl.contains("type Money\n  @join__type(graph: A)\n  @join__type(graph: B)\n{\n  amount: Int!\n  currency: String!\n}"), "{sdl}");
    assert!(
        sdl.contains("  id: ID!\n"),
        "key fields present everywhere need no @join__field: {sdl}"
    );
    assert!(
        sdl.contains("  price: Money @join__field(graph: B)"),
        "{sdl}"
    );
}

#[test]
fn non_shareable_fields_resolved_twice_are_rejected() {
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id: ID! name: String }"#,
    );
    let b = sg("b", r#"type P @key(fields: "id") { id: ID! name: String }"#);
    fails(
        &[a.clone(), b],
        ErrorCode::InvalidFieldSharing,
        &["P.name", "a", "b"],
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! name: String @shareable }"#,
    );
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id: ID! name: String @shareable }"#,
    );
    ok(&[a, b]);
}

#[test]
fn kinds_and_field_types_must_agree() {
    let a = sg("a", "type Query { x: X } type X @shareable { v: Int }");
    let b = sg("b", "interface X { v: Int }");
    fails(&[a, b], ErrorCode::TypeKindMismatch, &["X", "b"]);
    let a = sg("a", "type Query { x: X } type X @shareable { v: Int }");
    let b = sg("b", "type X @shareable { v: String }");
    fails(
        &[a, b],
        ErrorCode::FieldTypeMismatch,
        &["X.v", "\"a\"", "\"b\""],
    );
    // Nullability may differ on outputs: the merged type is the nullable one, and (as
    // Apollo's composition writes it) every source then names its own type.
    let a = sg("a", "type Query { x: X } type X @shareable { v: Int! }");
    let b = sg("b", "type X @shareable { v: Int }");
    let sdl = ok(&[a, b]);
    assert!(
        sdl.contains(
            "v: Int @join__field(graph: A, type: \"Int!\") @join__field(graph: B, type: \"Int\")"
        ),
        "{sdl}"
    );
}

#[test]
fn external_requires_and_provides_are_validated() {
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id: ID! weight: Int }"#,
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! weight: Int @external shipping: Int @requires(fields: "weight") }"#,
    );
    let sdl = ok(&[a.clone(), b]);
    assert!(
        sdl.contains("shipping: Int @join__field(graph: B, requires: \"weight\")"),
        "{sdl}"
    );
    assert!(
        sdl.contains("weight: Int @join__field(graph: A) @join__field(graph: B, external: true)"),
        "{sdl}"
    );

    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! weight: Int shipping: Int @requires(fields: "weight") }"#,
    );
    fails(
        &[a.clone(), b],
        ErrorCode::RequiresFieldsMissingExternal,
        &["P.weight", "\"b\""],
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! shipping: Int @requires(fields: "nope") }"#,
    );
    fails(&[a.clone(), b], ErrorCode::RequiresInvalidFields, &["nope"]);
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! weight: Int @external }"#,
    );
    fails(
        &[a.clone(), b],
        ErrorCode::ExternalUnused,
        &["P.weight", "b"],
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! color: Int @external c: Int @requires(fields: "color") }"#,
    );
    fails(
        &[a.clone(), b],
        ErrorCode::ExternalMissingOnBase,
        &["P.color"],
    );

    let c = sg(
        "c",
        r#"type Query { top: [P] @provides(fields: "weight") } type P @key(fields: "id") { id: ID! weight: Int @external }"#,
    );
    let sdl = ok(&[a.clone(), c]);
    assert!(
        sdl.contains("top: [P] @join__field(graph: C, provides: \"weight\")"),
        "{sdl}"
    );
    let c = sg(
        "c",
        r#"type Query { top: [P] @provides(fields: "weight") } type P @key(fields: "id") { id: ID! weight: Int }"#,
    );
    fails(
        &[a.clone(), c],
        ErrorCode::ProvidesFieldsMissingExternal,
        &["P.weight"],
    );
    let c = sg("c", r#"type Query { n: Int @provides(fields: "x") }"#);
    fails(&[a, c], ErrorCode::ProvidesOnNonObjectField, &["Query.n"]);
}

#[test]
fn keys_must_name_existing_fields_without_arguments() {
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "sku") { id: ID! }"#,
    );
    fails(&[a], ErrorCode::KeyInvalidFields, &["P.sku"]);
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id(x: Int): ID! }"#,
    );
    fails(&[a], ErrorCode::KeyFieldsHasArgs, &["P.id"]);
}

#[test]
fn override_moves_a_field_and_progressive_override_keeps_both() {
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id: ID! name: String }"#,
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! name: String @override(from: "a") }"#,
    );
    let sdl = ok(&[a.clone(), b]);
    assert!(
        sdl.contains("name: String @join__field(graph: B, override: \"a\")\n"),
        "{sdl}"
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! name: String @override(from: "a", label: "percent(25)") }"#,
    );
    let sdl = ok(&[a.clone(), b]);
    assert!(sdl.contains("join/v0.4"), "{sdl}");
    assert!(sdl.contains("@join__field(graph: A, overrideLabel: \"percent(25)\") @join__field(graph: B, override: \"a\", overrideLabel: \"percent(25)\")"), "{sdl}");
    let b = sg(
        "b",
        r#"type P @key(fields: "id") { id: ID! name: String @override(from: "b") }"#,
    );
    fails(&[a, b], ErrorCode::OverrideFromSelfError, &["P.name"]);
}

#[test]
fn enums_merge_by_how_they_are_used() {
    let a = sg("a", "type Query { s: Status } enum Status { OPEN CLOSED }");
    let b = sg(
        "b",
        "type Query { t: Status @shareable } enum Status { OPEN ARCHIVED }",
    );
    let sdl = ok(&[a, b]);
    assert!(
        sdl.contains("ARCHIVED @join__enumValue(graph: B)")
            && sdl.contains("CLOSED @join__enumValue(graph: A)"),
        "output enums are unions: {sdl}"
    );
    let a = sg(
        "a",
        "type Query { s(f: Status): Int } enum Status { OPEN CLOSED }",
    );
    let b = sg(
        "b",
        "type Query { t(f: Status): Int } enum Status { OPEN ARCHIVED }",
    );
    let sdl = ok(&[a, b]);
    assert!(
        sdl.contains("OPEN @join__enumValue(graph: A) @join__enumValue(graph: B)")
            && !sdl.contains("CLOSED"),
        "input enums intersect: {sdl}"
    );
    let a = sg(
        "a",
        "type Query { s(f: Status): Status } enum Status { OPEN CLOSED }",
    );
    let b = sg("b", "type Query { t: Int } enum Status { OPEN }");
    fails(&[a, b], ErrorCode::EnumValueMismatch, &["Status", "CLOSED"]);
    let a = sg("a", "type Query { s(f: Status): Int } enum Status { A }");
    let b = sg("b", "type Query { t(f: Status): Int } enum Status { B }");
    fails(&[a, b], ErrorCode::EmptyMergedEnumType, &["Status"]);
}

#[test]
fn input_types_intersect_and_defaults_must_agree() {
    let a = sg(
        "a",
        "type Query { s(f: F): Int } input F { a: Int b: Int c: Int = 1 }",
    );
    let b = sg(
        "b",
        "type Query { t(f: F): Int } input F { a: Int c: Int = 1 }",
    );
    let sdl = ok(&[a, b]);
    assert!(sdl.contains("input F\n  @join__type(graph: A)\n  @join__type(graph: B)\n{\n  a: Int\n  c: Int = 1\n}"), "{sdl}");
    let a = sg(
        "a",
        "type Query { s(f: F): Int } input F { a: Int b: Int! }",
    );
    let b = sg("b", "type Query { t(f: F): Int } input F { a: Int }");
    fails(
        &[a, b],
        ErrorCode::RequiredInputFieldMissingInSomeSubgraph,
        &["F.b", "a"],
    );
    let a = sg("a", "type Query { s(f: F): Int } input F { a: Int = 1 }");
    let b = sg("b", "type Query { t(f: F): Int } input F { a: Int = 2 }");
    fails(&[a, b], ErrorCode::InputFieldDefaultMismatch, &["F.a"]);
    let a = sg("a", "type Query { s(first: Int = 10): Int @shareable }");
    let b = sg("b", "type Query { s(first: Int = 20): Int @shareable }");
    fails(
        &[a, b],
        ErrorCode::FieldArgumentDefaultMismatch,
        &["Query.s(first:)"],
    );
}

#[test]
fn inaccessible_elements_are_kept_marked_and_checked() {
    let a = sg("a", "type Query { s: Int secret: Int @inaccessible }");
    let sdl = ok(&[a]);
    assert!(
        sdl.contains("secret: Int @join__field(graph: A) @inaccessible")
            || sdl.contains("secret: Int @inaccessible"),
        "{sdl}"
    );
    assert!(sdl.contains("inaccessible/v0.2"), "{sdl}");
    let a = sg(
        "a",
        "type Query { s: Hidden } type Hidden @inaccessible { x: Int }",
    );
    fails(
        &[a],
        ErrorCode::ReferencedInaccessible,
        &["Query.s", "Hidden"],
    );
    let a = sg(
        "a",
        "type Query { s(f: F): Int } input F { x: Int! @inaccessible y: Int }",
    );
    fails(&[a], ErrorCode::RequiredInaccessible, &["F.x"]);
    let a = sg(
        "a",
        "type Query { s: Int t: T } type T { x: Int @inaccessible }",
    );
    fails(&[a], ErrorCode::OnlyInaccessibleChildren, &["\"T\""]);
}

#[test]
fn tags_descriptions_and_deprecations_are_kept() {
    let a = sg("a", "\"The root\" type Query { \"A number\" s: Int @tag(name: \"public\") old: Int @deprecated(reason: \"use s\") }");
    let sdl = ok(&[a]);
    assert!(
        sdl.contains("tag/v0.3") && sdl.contains("s: Int @tag(name: \"public\")"),
        "{sdl}"
    );
    assert!(
        sdl.contains("\"\"\"\nThe root\n\"\"\"\ntype Query")
            && sdl.contains("  \"\"\"\n  A number\n  \"\"\""),
        "{sdl}"
    );
    assert!(
        sdl.contains("old: Int @deprecated(reason: \"use s\")"),
        "{sdl}"
    );
}

#[test]
fn unions_and_interfaces_across_subgraphs() {
    let a = sg(
        "a",
        r#"type Query { search: [Result] node: Node } union Result = Book interface Node { id: ID! } type Book implements Node @key(fields: "id") { id: ID! }"#,
    );
    let b = sg(
        "b",
        r#"type Query { more: [Result] @shareable } union Result = Movie type Movie @key(fields: "id") { id: ID! }"#,
    );
    let sdl = ok(&[a, b]);
    assert!(sdl.contains("@join__unionMember(graph: A, member: \"Book\")\n  @join__unionMember(graph: B, member: \"Movie\")\n = Book | Movie"), "{sdl}");
    assert!(
        sdl.contains(
            "type Book implements Node\n  @join__implements(graph: A, interface: \"Node\")"
        ),
        "{sdl}"
    );
}

#[test]
fn unreachable_fields_fail_satisfiability() {
    // B's Secret has no key, so nothing can jump from A into it.
    let a = sg(
        "a",
        r#"type Query { p: P } type P @key(fields: "id") { id: ID! }"#,
    );
    let b = sg(
        "b",
        r#"type P @key(fields: "id", resolvable: false) { id: ID! extra: Int }"#,
    );
    fails(&[a, b], ErrorCode::SatisfiabilityError, &["P.extra"]);
}

#[test]
fn federation_1_subgraphs_compose() {
    let a = SubgraphInput {
        name: "a".into(),
        url: "http://a".into(),
        sdl: "type Query { p: P } type P @key(fields: \"id\") { id: ID! name: String }".into(),
    };
    let b = SubgraphInput {
        name: "b".into(),
        url: "http://b".into(),
        sdl: "extend type P @key(fields: \"id\") { id: ID! @external reviews: [String] }".into(),
    };
    let sdl = ok(&[a, b]);
    assert!(
        sdl.contains("@join__type(graph: B, key: \"id\", extension: true)"),
        "{sdl}"
    );
}

#[test]
fn bad_input_is_reported_not_panicked() {
    fails(
        &[SubgraphInput {
            name: "a".into(),
            url: "x".into(),
            sdl: "type Query {".into(),
        }],
        ErrorCode::InvalidGraphQL,
        &["[a]"],
    );
    let a = sg("a", "type Query { s: Int }");
    fails(&[a.clone(), a], ErrorCode::InvalidSubgraphName, &["\"a\""]);
    fails(&[sg("a", "type T { x: Int }")], ErrorCode::NoQueries, &[]);
}
