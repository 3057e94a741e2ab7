use super::*;
use crate::compose::{compose_text, SubgraphInput};
use crate::operation::normalize;
use crate::pipeline::{coerce_variables, parse_and_validate};
use serde_json::Value as Json;

const SHOP: &str = r#"
extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@cost", "@listSize"])

type Query {
  book(id: ID!): Book
  books(first: Int, last: Int): [Book!]! @listSize(slicingArguments: ["first", "last"], requireOneSlicingArgument: false)
  strictBooks(first: Int, last: Int): [Book!]! @listSize(slicingArguments: ["first", "last"])
  bestsellers: [Book!]! @listSize(assumedSize: 5)
  shelves: [Shelf!]!
  catalog(first: Int = 10, after: String): BookConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)
  search(term: String! @cost(weight: 3), filter: Filter): [Item!]! @listSize(assumedSize: 2)
  stats: Stats @cost(weight: 7)
  count: Int!
}

type Mutation {
  addBook(input: BookInput!): Book!
}

input BookInput {
  title: String!
  tags: [String!] @cost(weight: 2)
}

input Filter {
  text: String @cost(weight: 4)
}

type Stats {
  total: Int!
}

type Book @key(fields: "id") {
  id: ID!
  title: String!
  author: Author
  rating: Rating
  isbn: Isbn
  tags: [String!]!
  related(first: Int): [Book!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
}

type Author @cost(weight: 5) {
  name: String!
  books: [Book!]! @listSize(assumedSize: 2)
}

scalar Isbn @cost(weight: 2)

enum Rating @cost(weight: 3) {
  GOOD
  BAD
}

type Shelf {
  books(first: Int): [Book!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
}

type BookConnection {
  edges: [BookEdge!]!
  pageInfo: PageInfo!
}

type BookEdge {
  cursor: String!
  node: Book!
}

type PageInfo {
  hasNextPage: Boolean!
}

union Item = Book | Author
"#;

const REVIEWS: &str = r#"
extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@external", "@requires"])

scalar Isbn

type Book @key(fields: "id") {
  id: ID!
  isbn: Isbn @external
  blurb: String @requires(fields: "isbn")
}
"#;

fn shop_sdl() -> String {
    let input = |name: &str, sdl: &str| SubgraphInput {
        name: name.to_owned(),
        url: format!("http://{name}.test/graphql"),
        sdl: sdl.to_owned(),
    };
    compose_text(&[input("shop", SHOP), input("reviews", REVIEWS)]).expect("composes")
}

struct Fixture {
    sg: Supergraph,
    model: CostModel,
}

impl Fixture {
    fn new(sdl: &str) -> Fixture {
        let sg = Supergraph::parse(sdl).expect("supergraph");
        let model = CostModel::from_sdl(&sg, sdl).expect("model");
        Fixture { sg, model }
    }

    fn operation(&self, query: &str, variables: Json) -> (NormalizedOperation, Map<String, Json>) {
        let doc = parse_and_validate(&self.sg, query, None).expect("valid operation");
        let Json::Object(variables) = variables else {
            panic!("variables are an object")
        };
        let variables = coerce_variables(&self.sg, &doc, variables).expect("variables");
        let op = normalize(
            &self.sg.api_schema,
            &doc.document,
            &doc.operation,
            &variables,
        )
        .expect("normalizes");
        (op, variables)
    }

    fn try_cost(&self, query: &str, variables: Json) -> Result<f64, CostError> {
        let (op, variables) = self.operation(query, variables);
        self.model.estimate(&op, &variables, 10)
    }

    fn cost(&self, query: &str) -> f64 {
        self.try_cost(query, json!({})).expect("estimates")
    }
}

fn shop() -> Fixture {
    Fixture::new(&shop_sdl())
}

#[test]
fn composite_fields_cost_one_and_leaves_nothing() {
    let shop = shop();
    assert_eq!(shop.cost("{ count }"), 0.0);
    assert_eq!(shop.cost("{ count book(id: 1) { id title tags } }"), 1.0);
}

#[test]
fn cost_on_a_field_or_its_type_replaces_the_default() {
    let shop = shop();
    assert_eq!(shop.cost("{ stats { total } }"), 7.0);
    // Author (object), Rating (enum) and Isbn (scalar) carry @cost on the type.
    assert_eq!(shop.cost("{ book(id: 1) { author { name } } }"), 6.0);
    assert_eq!(shop.cost("{ book(id: 1) { rating isbn } }"), 6.0);
}

#[test]
fn argument_costs_are_added_once() {
    let shop = shop();
    // 2 items × 1 + `term` 3.
    assert_eq!(shop.cost(r#"{ search(term: "x") { __typename } }"#), 5.0);
    // + the Filter object (1) and its `text` field (4).
    let filtered = r#"{ search(term: "x", filter: {text: "a"}) { __typename } }"#;
    assert_eq!(shop.cost(filtered), 10.0);
    let query = r#"query($f: Filter) { search(term: "x", filter: $f) { __typename } }"#;
    let cost = |v| shop.try_cost(query, v).expect("estimates");
    assert_eq!(cost(json!({"f": {"text": "a"}})), 10.0);
    assert_eq!(cost(json!({"f": {"text": null}})), 6.0);
    assert_eq!(cost(json!({"f": null})), 5.0);
}

#[test]
fn slicing_arguments_size_lists_from_literals_and_variables() {
    let shop = shop();
    assert_eq!(shop.cost("{ books(first: 3) { title } }"), 3.0);
    assert_eq!(shop.cost("{ books(first: 3, last: 7) { title } }"), 7.0);
    assert_eq!(
        shop.cost("{ books { title } }"),
        10.0,
        "none given: the default"
    );
    let query = "query($n: Int) { books(first: $n) { title } }";
    assert_eq!(shop.try_cost(query, json!({"n": 4})), Ok(4.0));
    assert_eq!(shop.try_cost(query, json!({"n": -4})), Ok(0.0));
    assert_eq!(shop.try_cost(query, json!({})), Ok(10.0));
}

#[test]
fn require_one_slicing_argument_refuses_none_or_several() {
    let shop = shop();
    assert_eq!(shop.cost("{ strictBooks(last: 2) { title } }"), 2.0);
    for query in [
        "{ strictBooks { title } }",
        "{ strictBooks(first: 1, last: 2) { title } }",
    ] {
        let error = shop.try_cost(query, json!({})).expect_err(query);
        assert_eq!(error.code(), "COST_QUERY_PARSE_FAILURE");
    }
}

#[test]
fn assumed_size_and_the_default_list_size() {
    let shop = shop();
    assert_eq!(shop.cost("{ bestsellers { author { name } } }"), 30.0);
    assert_eq!(shop.cost("{ shelves { __typename } }"), 10.0);
    let (op, variables) = shop.operation("{ shelves { __typename } }", json!({}));
    assert_eq!(shop.model.estimate(&op, &variables, 3), Ok(3.0));
}

#[test]
fn sized_fields_size_the_connection_edges() {
    let shop = shop();
    let page = "{ catalog(first: 3) { edges { node { title } } pageInfo { hasNextPage } } }";
    // catalog 1 + 3 edges × (edge 1 + node 1) + pageInfo 1.
    assert_eq!(shop.cost(page), 8.0);
    // `first` defaults to 10, and a default counts as given.
    let default = "{ catalog { edges { node { title } } } }";
    assert_eq!(shop.cost(default), 21.0);
}

#[test]
fn nested_lists_multiply() {
    let shop = shop();
    // 10 shelves × (1 + 4 books × (1 + author 5)).
    assert_eq!(
        shop.cost("{ shelves { books(first: 4) { author { name } } } }"),
        250.0
    );
}

#[test]
fn a_mutation_costs_ten_more() {
    let shop = shop();
    // 10 + Book 1 + the input object 1.
    assert_eq!(
        shop.cost(r#"mutation { addBook(input: {title: "t"}) { id } }"#),
        12.0
    );
    // + the list's @cost (2) and 2 per item.
    let tagged = r#"mutation { addBook(input: {title: "t", tags: ["a", "b"]}) { id } }"#;
    assert_eq!(shop.cost(tagged), 18.0);
    let query = "mutation($i: BookInput!) { addBook(input: $i) { id } }";
    let variables = json!({"i": {"title": "t", "tags": ["a", "b"]}});
    assert_eq!(shop.try_cost(query, variables), Ok(18.0));
}

#[test]
fn huge_slicing_arguments_saturate_instead_of_overflowing() {
    let shop = shop();
    let query = "query($n: Int) { books(first: $n) { related(first: $n) { related(first: $n) {
        related(first: $n) { related(first: $n) { title } } } } } }";
    let cost = shop
        .try_cost(query, json!({"n": i32::MAX}))
        .expect("estimates");
    assert!(cost.is_finite() && cost > 1e46, "{cost}");
    assert_eq!(mul(f64::MAX, 10.0), f64::MAX);
    assert_eq!(add(f64::MAX, f64::MAX), f64::MAX);
}

#[test]
fn fragments_on_abstract_types_add_up_and_typename_is_free() {
    let shop = shop();
    // Per item: 1 + Book's author (5) + Author's 2 books (2), as Apollo sums fragments;
    // then 2 items and `term` (3).
    let query = r#"{ search(term: "x") { __typename ... on Book { author { name } }
        ... on Author { books { id } } } }"#;
    assert_eq!(shop.cost(query), 19.0);
}

#[test]
fn requires_and_introspection() {
    let shop = shop();
    // Book 1 + `blurb` 0 + the required `isbn` (2).
    assert_eq!(shop.cost("{ book(id: 1) { blurb } }"), 3.0);
    assert_eq!(
        shop.cost("{ __schema { types { name } } book(id: 1) { __typename } }"),
        1.0
    );
}

#[test]
fn renamed_directives_are_read_through_their_link() {
    let sdl = shop_sdl()
        .replace(
            r#"@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])"#,
            r#"@link(url: "https://specs.apollo.dev/cost/v0.1", as: "price", import: [{name: "@listSize", as: "@size"}])"#,
        )
        .replace("@cost(", "@price(")
        .replace("@listSize(", "@size(");
    assert!(sdl.contains("directive @price(") && sdl.contains("directive @size("));
    let shop = Fixture::new(&sdl);
    assert_eq!(shop.cost("{ stats { total } }"), 7.0);
    assert_eq!(shop.cost("{ bestsellers { author { name } } }"), 30.0);
}

#[test]
fn apollo_compositions_are_read_too() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apollo-compose/access_cost/apollo.graphql"
    );
    let sdl = std::fs::read_to_string(path).expect("fixture");
    let fixture = Fixture::new(&sdl);
    // boards 1 + 5 edges × (edge 1 + node 1 + heavy 20).
    let query = "{ boards(first: 5) { edges { node { heavy } } } }";
    assert_eq!(fixture.cost(query), 111.0);
}

#[test]
fn only_costed_arguments_make_the_estimate_depend_on_variables() {
    let shop = shop();
    let depends = |query: &str| {
        let (op, _) = shop.operation(query, json!({"id": "1"}));
        shop.model.depends_on_variables(&op)
    };
    assert!(depends(
        "query($n: Int) { shelves { books(first: $n) { title } } }"
    ));
    assert!(depends(
        r#"query($f: Filter) { search(term: "x", filter: $f) { __typename } }"#
    ));
    assert!(!depends("query($id: ID!) { book(id: $id) { title } }"));
    assert!(!depends("{ books(first: 3) { title } }"));
}

#[test]
fn too_expensive_is_refused_like_apollo_does() {
    let config = DemandControlConfig {
        max_cost: 100.0,
        ..DemandControlConfig::default()
    };
    assert_eq!(config.check(100.0), Ok(()));
    let error = config.check(250.0).expect_err("over the maximum");
    assert_eq!(
        error.to_graphql_error(),
        json!({
            "message": "query estimated cost 250 exceeded configured maximum 100",
            "extensions": {"code": "COST_ESTIMATED_TOO_EXPENSIVE", "cost.estimated": 250.0, "cost.max": 100.0}
        })
    );
    let measure = DemandControlConfig {
        mode: DemandControlMode::Measure,
        ..config.clone()
    };
    assert_eq!(measure.check(250.0), Ok(()));
    let disabled = DemandControlConfig {
        enabled: false,
        ..config
    };
    assert_eq!(disabled.check(250.0), Ok(()));
}

#[test]
fn config_defaults_and_unknown_fields() {
    let parsed: DemandControlConfig = toml::from_str("").expect("empty");
    assert_eq!(parsed, DemandControlConfig::default());
    let parsed: DemandControlConfig = toml::from_str(
        "mode = \"measure\"\nmax_cost = 300\nlist_size = 20\nexpose_estimate = true",
    )
    .expect("parses");
    assert_eq!(parsed.mode, DemandControlMode::Measure);
    assert_eq!((parsed.max_cost, parsed.list_size), (300.0, 20));
    assert!(toml::from_str::<DemandControlConfig>("max = 1").is_err());
}

/// The platform's heaviest pages fit the default maximum; one more nested page does not.
#[test]
fn the_platform_operations_fit_the_default_max_cost() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/supergraph.graphql");
    let platform = Fixture::new(&std::fs::read_to_string(path).expect("supergraph"));
    let config = DemandControlConfig::default();
    let estimate = |query: &str| {
        let (op, variables) = platform.operation(query, json!({"b": "1"}));
        platform
            .model
            .estimate(&op, &variables, config.list_size)
            .expect("estimates")
    };
    let board_page = "query($b: ID!) { board(id: $b) { name members { role user { name } }
        tasks(first: 100) { totalCount pageInfo { hasNextPage endCursor }
          edges { node { title status assignee { name avatarUrl } creator { name } } } }
        chatRoom { name messages(last: 50) { edges { node { body author { name }
          mentions { name } } } } } } }";
    let inbox = "{ me { unreadNotificationCount notifications { edges { node { kind text
        actor { name } task { title } board { name } message { body } } } } } }";
    for page in [board_page, inbox] {
        let cost = estimate(page);
        assert!(config.check(cost).is_ok(), "{cost} for {page}");
    }
    let nested = "{ myBoards { tasks(first: 100) { edges { node { title assignee { name }
        creator { name } board { members { user { name } } } } } } } }";
    let cost = estimate(nested);
    assert!(config.check(cost).is_err(), "{cost} for the nested pages");
}
