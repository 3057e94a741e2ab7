//! Cold planning time: parse, validate, coerce, normalize and plan an operation with no cache,
//! as the first request of an operation pays it. Cases:
//!
//! - the gateway benchmark's `TestQuery` on its supergraph (`benches/workload/`);
//! - the same selections under 97 aliases (the `large` case of `federation.rs`);
//! - the largest fixture: the platform's own supergraph, with every query field selected
//!   (required arguments given literals) to a depth of three.
//!
//! `cargo bench -p router --bench planning`; BENCH_PLAN_ROUNDS sets the repetitions (200).

#[path = "workload/operations.rs"]
#[allow(dead_code)]
mod operations;

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::Schema;
use router::supergraph::Supergraph;
use std::time::Instant;

const PLATFORM: &str = include_str!("../tests/fixtures/apollo-compose/platform/apollo.graphql");
const BENCH: &str = include_str!("workload/supergraph.graphql");

fn main() {
    let rounds: usize = std::env::var("BENCH_PLAN_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let bench = Supergraph::parse(BENCH).expect("the bench supergraph parses");
    let platform = Supergraph::parse(PLATFORM).expect("the platform supergraph parses");
    let everything = select_everything(&platform.api_schema, 3);
    let cases = [
        ("TestQuery (benchmark)", &bench, operations::test_query()),
        ("TestQuery x97 aliases", &bench, operations::large_query(97)),
        (
            "platform, every query field, depth 3",
            &platform,
            everything,
        ),
    ];
    println!("| operation | size | fetches | cold plan (median) | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, sg, query) in cases {
        let plan = router::pipeline::plan_only(sg, &query, None, Default::default(), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let fetches = plan.to_string().matches("Fetch(service").count();
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                let plan = router::pipeline::plan_only(sg, &query, None, Default::default(), &[]);
                std::hint::black_box(plan.is_ok());
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "| {name} | {:.1} KiB | {fetches} | {:.3} ms | {:.3} ms |",
            query.len() as f64 / 1024.0,
            at(0.5),
            at(0.99)
        );
    }
}

/// Every field of the query root, recursively to `depth`, with literals for required
/// arguments.
fn select_everything(schema: &Schema, depth: usize) -> String {
    let root = schema
        .schema_definition
        .query
        .as_ref()
        .expect("a query root");
    format!(
        "query Everything {}",
        selection(schema, root.name.as_str(), depth)
    )
}

fn selection(schema: &Schema, type_name: &str, depth: usize) -> String {
    let fields = match schema.types.get(type_name) {
        Some(ExtendedType::Object(o)) => &o.fields,
        Some(ExtendedType::Interface(i)) => &i.fields,
        _ => return "{ __typename }".into(),
    };
    let mut items = vec!["__typename".to_owned()];
    for field in fields.values() {
        let named = field.ty.inner_named_type();
        let leaf = schema.types.get(named).is_none_or(|t| t.is_leaf());
        if !leaf && depth == 0 {
            continue;
        }
        let Some(args) = arguments(schema, field) else {
            continue;
        };
        let sub = if leaf {
            String::new()
        } else {
            format!(" {}", selection(schema, named, depth - 1))
        };
        items.push(format!("{}{args}{sub}", field.name));
    }
    format!("{{ {} }}", items.join(" "))
}

fn arguments(schema: &Schema, field: &apollo_compiler::schema::FieldDefinition) -> Option<String> {
    let mut out = Vec::new();
    for arg in field.arguments.iter().filter(|a| a.is_required()) {
        let value = match arg.ty.inner_named_type().as_str() {
            "Int" => "1".to_owned(),
            "Float" => "1.5".to_owned(),
            "Boolean" => "true".to_owned(),
            "String" | "ID" => "\"x\"".to_owned(),
            other => match schema.types.get(other)? {
                ExtendedType::Enum(e) => e.values.keys().next()?.to_string(),
                _ => return None, // input objects: the field is left out
            },
        };
        let value = if arg.ty.is_list() {
            format!("[{value}]")
        } else {
            value
        };
        out.push(format!("{}: {value}", arg.name));
    }
    Some(if out.is_empty() {
        String::new()
    } else {
        format!("({})", out.join(", "))
    })
}
