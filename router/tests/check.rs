//! `router check`: each breaking and safe change is classified as such, against a supergraph
//! composed from two subgraphs, with one subgraph's proposed SDL swapped in.

use router::check::{check_subgraphs, Report};
use router::compose::{compose, SubgraphInput};

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@shareable", "@external"])"#;

const PRODUCTS: &str = r#"
type Query { products(first: Int = 10, category: String): [Product!]! product(id: ID!): Product }
type Product @key(fields: "id") { id: ID! name: String! price: Int status: Status tags: [String!]! }
enum Status { ACTIVE RETIRED }
input ProductFilter { name: String limit: Int = 5 }
type Mutation { filter(f: ProductFilter): [Product!]! }
union Media = Image | Video
type Image { url: String! }
type Video { url: String! length: Int }
extend type Query { media: [Media!]! }
"#;

const REVIEWS: &str = r#"
type Product @key(fields: "id") { id: ID! reviews: [Review!]! }
type Review { body: String! rating: Int! }
"#;

fn input(name: &str, body: &str) -> SubgraphInput {
    SubgraphInput {
        name: name.into(),
        url: format!("http://127.0.0.1:1/{name}"),
        sdl: format!("{LINK}\n{body}"),
    }
}

fn supergraph() -> String {
    compose(&[input("products", PRODUCTS), input("reviews", REVIEWS)]).expect("fixture composes")
}

/// Checks a products subgraph where `from` was replaced by `to`.
fn check(from: &str, to: &str) -> Report {
    assert!(PRODUCTS.contains(from), "fixture lacks {from:?}");
    let proposed = input("products", &PRODUCTS.replacen(from, to, 1));
    check_subgraphs(&supergraph(), &[proposed]).expect("check runs")
}

fn assert_breaking(report: &Report, code: &str, coordinate: &str) {
    assert!(
        report
            .breaking
            .iter()
            .any(|c| c.code == code && c.coordinate == coordinate),
        "expected breaking {code} at {coordinate}: {}",
        report.to_text()
    );
    assert!(!report.passed());
}

fn assert_safe(report: &Report, code: &str, coordinate: &str) {
    assert!(
        report.breaking.is_empty(),
        "unexpected breaking changes: {}",
        report.to_text()
    );
    assert!(
        report
            .safe
            .iter()
            .any(|c| c.code == code && c.coordinate == coordinate),
        "expected safe {code} at {coordinate}: {}",
        report.to_text()
    );
    assert!(report.passed());
}

#[test]
fn no_change_is_no_change() {
    let report = check("name: String!", "name: String!");
    assert!(
        report.breaking.is_empty() && report.safe.is_empty(),
        "{}",
        report.to_text()
    );
}

#[test]
fn removals_and_renames_break_clients() {
    assert_breaking(&check(" price: Int", ""), "FIELD_REMOVED", "Product.price");
    let renamed = check("price: Int", "cost: Int");
    assert_breaking(&renamed, "FIELD_REMOVED", "Product.price");
    assert!(renamed.safe.iter().any(|c| c.coordinate == "Product.cost"));
    assert_breaking(
        &check("enum Status { ACTIVE RETIRED }", "enum Status { ACTIVE }"),
        "ENUM_VALUE_REMOVED",
        "Status.RETIRED",
    );
    assert_breaking(
        &check(", category: String", ""),
        "ARGUMENT_REMOVED",
        "Query.products(category:)",
    );
    assert_breaking(
        &check("union Media = Image | Video", "union Media = Image"),
        "UNION_MEMBER_REMOVED",
        "Media",
    );
    assert_breaking(
        &check(
            "input ProductFilter { name: String limit: Int = 5 }",
            "input ProductFilter { limit: Int = 5 }",
        ),
        "INPUT_FIELD_REMOVED",
        "ProductFilter.name",
    );
    let proposed = PRODUCTS
        .replace("union Media = Image | Video", "union Media = Image")
        .replace("type Video { url: String! length: Int }", "");
    let report =
        check_subgraphs(&supergraph(), &[input("products", &proposed)]).expect("check runs");
    assert_breaking(&report, "TYPE_REMOVED", "Video");
    assert_breaking(&report, "UNION_MEMBER_REMOVED", "Media");
    // A subgraph that references a type it does not define is invalid, not a silent removal.
    let dangling = check("type Video { url: String! length: Int }", "");
    assert!(
        dangling
            .composition_errors
            .iter()
            .any(|e| e.contains("INVALID_GRAPHQL") && e.contains("Video")),
        "{}",
        dangling.to_text()
    );
}

#[test]
fn nullability_rules_differ_for_inputs_and_outputs() {
    assert_breaking(
        &check("name: String!", "name: String"),
        "OUTPUT_NULLABILITY_LOOSENED",
        "Product.name",
    );
    assert_safe(
        &check("price: Int", "price: Int!"),
        "FIELD_TYPE_TIGHTENED",
        "Product.price",
    );
    assert_breaking(
        &check("category: String", "category: String!"),
        "INPUT_NULLABILITY_TIGHTENED",
        "Query.products(category:)",
    );
    assert_safe(
        &check("product(id: ID!)", "product(id: ID)"),
        "INPUT_NULLABILITY_LOOSENED",
        "Query.product(id:)",
    );
    assert_breaking(
        &check("price: Int", "price: String"),
        "FIELD_TYPE_CHANGED",
        "Product.price",
    );
    assert_breaking(
        &check("tags: [String!]!", "tags: [String]!"),
        "OUTPUT_NULLABILITY_LOOSENED",
        "Product.tags",
    );
}

#[test]
fn defaults_and_new_required_inputs_break_callers() {
    assert_breaking(
        &check("first: Int = 10", "first: Int = 20"),
        "DEFAULT_VALUE_CHANGED",
        "Query.products(first:)",
    );
    assert_breaking(
        &check("limit: Int = 5", "limit: Int = 50"),
        "DEFAULT_VALUE_CHANGED",
        "ProductFilter.limit",
    );
    assert_breaking(
        &check("product(id: ID!)", "product(id: ID!, region: String!)"),
        "REQUIRED_ARGUMENT_ADDED",
        "Query.product(region:)",
    );
    assert_breaking(
        &check("limit: Int = 5 }", "limit: Int = 5 region: String! }"),
        "REQUIRED_INPUT_FIELD_ADDED",
        "ProductFilter.region",
    );
}

#[test]
fn additions_are_safe() {
    assert_safe(
        &check("tags: [String!]! }", "tags: [String!]! weight: Int }"),
        "FIELD_ADDED",
        "Product.weight",
    );
    assert_safe(
        &check("product(id: ID!)", "product(id: ID!, region: String)"),
        "OPTIONAL_ARGUMENT_ADDED",
        "Query.product(region:)",
    );
    assert_safe(
        &check(
            "enum Status { ACTIVE RETIRED }",
            "enum Status { ACTIVE RETIRED DRAFT }",
        ),
        "ENUM_VALUE_ADDED",
        "Status.DRAFT",
    );
    assert_safe(
        &check("limit: Int = 5 }", "limit: Int = 5 region: String }"),
        "OPTIONAL_INPUT_FIELD_ADDED",
        "ProductFilter.region",
    );
    assert_safe(
        &check("type Image {", "type Audio { url: String! } type Image {"),
        "TYPE_ADDED",
        "Audio",
    );
    assert_safe(
        &check(
            "union Media = Image | Video",
            "union Media = Image | Video | Audio type Audio { url: String! }",
        ),
        "UNION_MEMBER_ADDED",
        "Media",
    );
    assert_safe(
        &check("price: Int", "price: Int @deprecated(reason: \"use cost\")"),
        "FIELD_DEPRECATED",
        "Product.price",
    );
}

#[test]
fn a_proposal_that_does_not_compose_fails_the_check() {
    let report = check("name: String!", "name: String! reviews: Int");
    assert!(
        !report.composition_errors.is_empty(),
        "{}",
        report.to_text()
    );
    assert!(!report.passed());
}

#[test]
fn extraction_round_trips_the_platform_supergraph() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/supergraph.graphql");
    let supergraph = std::fs::read_to_string(path).expect("supergraph");
    let report = check_subgraphs(&supergraph, &[]).expect("check runs");
    assert!(
        report.passed() && report.breaking.is_empty() && report.safe.is_empty(),
        "{}",
        report.to_text()
    );
}
