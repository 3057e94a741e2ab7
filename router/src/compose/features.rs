//! Federation features carried into the supergraph as Apollo's composition writes them:
//! access control (`@authenticated`, `@requiresScopes`, `@policy`; federation 2.5/2.6),
//! demand control (`@cost`, `@listSize`; 2.9), `@context`/`@fromContext` (2.8) and
//! `@cacheTag` (2.12). Applications merge across subgraphs by each argument's strategy
//! (scopes and policies: conjunction of the alternatives; weights and sizes: the maximum;
//! sliced fields: the union); `@cacheTag` stays per subgraph, as a `@join__directive`.

use apollo_compiler::ast::{self, Value};
use apollo_compiler::{Name, Node};
use std::fmt::Write as _;

use super::subgraph::Common;

/// The federation directives this module carries (their canonical names).
pub const DIRECTIVES: [&str; 8] = [
    "authenticated",
    "requiresScopes",
    "policy",
    "cost",
    "listSize",
    "cacheTag",
    "context",
    "fromContext",
];

/// Records the application of federation directive `canonical` (in subgraph `subgraph`).
pub fn read(common: &mut Common, canonical: &str, directive: &ast::Directive, subgraph: &str) {
    let string = |name: &str| {
        directive
            .arguments
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_str().map(str::to_owned))
    };
    match canonical {
        "cacheTag" => {
            let args = print_arguments(&directive.arguments);
            common.joined.push((
                subgraph.to_owned(),
                format!("name: \"federation__cacheTag\", args: {{{args}}}"),
            ));
        }
        // Contexts are named per subgraph: two subgraphs may use one name for two things.
        "context" => common
            .contexts
            .extend(string("name").map(|n| format!("{subgraph}__{n}"))),
        "fromContext" => common.from_context = string("field"),
        _ => {
            let mut canonical_form = directive.clone();
            canonical_form.name = Name::new(canonical).expect("a directive name");
            merge_spec(&mut common.spec, canonical_form);
        }
    }
}

fn print_arguments(args: &[Node<ast::Argument>]) -> String {
    let printed: Vec<String> = args
        .iter()
        .map(|a| format!("{}: {}", a.name, a.value))
        .collect();
    printed.join(", ")
}

/// Adds `directive` to `into`, merging it with an application of the same directive.
pub fn merge_spec(into: &mut Vec<ast::Directive>, directive: ast::Directive) {
    let Some(existing) = into.iter_mut().find(|d| d.name == directive.name) else {
        into.push(directive);
        return;
    };
    for arg in &directive.arguments {
        let merged = match existing.arguments.iter().find(|a| a.name == arg.name) {
            None => Some((*arg.value).clone()),
            Some(current) => merge_value(&directive.name, &arg.name, &current.value, &arg.value),
        };
        let Some(merged) = merged else { continue };
        existing.arguments.retain(|a| a.name != arg.name);
        existing.arguments.push(Node::new(ast::Argument {
            name: arg.name.clone(),
            value: Node::new(merged),
        }));
    }
}

fn merge_value(directive: &str, arg: &str, a: &Value, b: &Value) -> Option<Value> {
    match (directive, arg) {
        ("requiresScopes", _) | ("policy", _) => Some(conjunction(a, b)),
        ("cost", _) | ("listSize", "assumedSize") => {
            let (x, y) = (a.to_i32()?, b.to_i32()?);
            Some(Value::Int(x.max(y).into()))
        }
        ("listSize", "requireOneSlicingArgument") => {
            Some(Value::Boolean(a.to_bool()? && b.to_bool()?))
        }
        ("listSize", _) => {
            let mut items = strings(a);
            for s in strings(b) {
                if !items.contains(&s) {
                    items.push(s);
                }
            }
            Some(string_list(&items))
        }
        _ => None,
    }
}

/// Both requirements hold: every alternative of one combined with every alternative of the
/// other (disjunctive normal form), without repeated alternatives.
fn conjunction(a: &Value, b: &Value) -> Value {
    let (a, b) = (alternatives(a), alternatives(b));
    let mut out: Vec<Vec<String>> = Vec::new();
    for x in &a {
        for y in &b {
            let mut clause = x.clone();
            clause.extend(y.iter().filter(|s| !x.contains(s)).cloned());
            if !out.iter().any(|c| same_set(c, &clause)) {
                out.push(clause);
            }
        }
    }
    Value::List(out.iter().map(|c| Node::new(string_list(c))).collect())
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|s| b.contains(s))
}

fn alternatives(value: &Value) -> Vec<Vec<String>> {
    match value {
        Value::List(items) => items.iter().map(|i| strings(i)).collect(),
        _ => Vec::new(),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::List(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn string_list(items: &[String]) -> Value {
    Value::List(
        items
            .iter()
            .map(|s| Node::new(Value::String(s.clone())))
            .collect(),
    )
}

/// Which features a supergraph uses, for its `@link`s and definitions.
#[derive(Default)]
pub struct Used {
    pub spec: Vec<String>,
    pub joined: bool,
    pub context: bool,
}

impl Used {
    /// Everything the merged schema applies, arguments of every subgraph included (a
    /// `@fromContext` argument is not in the merged field).
    pub fn of(merged: &super::merge::Merged) -> Used {
        let mut used = Used::default();
        for ty in merged.types.values() {
            used.add(&ty.common);
            for (common, _) in ty.values.values() {
                used.add(common);
            }
            for field in ty.fields.values() {
                used.add(&field.common);
                let sources = field.sources.iter().flat_map(|s| s.field.args.values());
                for arg in field.args.values().chain(sources) {
                    used.add(&arg.common);
                }
            }
        }
        used
    }

    fn add(&mut self, common: &Common) {
        for d in &common.spec {
            if !self.spec.iter().any(|s| s == d.name.as_str()) {
                self.spec.push(d.name.to_string());
            }
        }
        self.joined |= !common.joined.is_empty();
        self.context |= !common.contexts.is_empty() || common.from_context.is_some();
    }

    fn has(&self, name: &str) -> bool {
        self.spec.iter().any(|s| s == name)
    }

    /// The schema's `@link`s for the features used.
    pub fn links(&self, out: &mut String) {
        if self.context {
            out.push_str(
                "  @link(url: \"https://specs.apollo.dev/context/v0.1\", for: SECURITY)\n",
            );
        }
        for name in ["authenticated", "requiresScopes", "policy"] {
            if self.has(name) {
                let _ = writeln!(
                    out,
                    "  @link(url: \"https://specs.apollo.dev/{name}/v0.1\", for: SECURITY)"
                );
            }
        }
        if self.has("cost") || self.has("listSize") {
            out.push_str(
                "  @link(url: \"https://specs.apollo.dev/cost/v0.1\", import: [\"@listSize\"])\n",
            );
        }
        if self.joined {
            out.push_str(
                "  @link(url: \"https://specs.apollo.dev/cacheTag/v0.1\", for: EXECUTION)\n",
            );
        }
    }

    /// Directive and scalar definitions for the features used.
    pub fn definitions(&self, out: &mut String) {
        const ACCESS: &str = "on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM";
        if self.context {
            out.push_str(
                "directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION\n\n",
            );
            out.push_str("directive @context__fromContext(field: context__ContextFieldValue) on ARGUMENT_DEFINITION\n\n");
            out.push_str("scalar context__ContextFieldValue\n\n");
        }
        if self.has("authenticated") {
            let _ = writeln!(out, "directive @authenticated {ACCESS}\n");
        }
        if self.has("requiresScopes") {
            let _ = writeln!(
                out,
                "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) {ACCESS}\n"
            );
            out.push_str("scalar requiresScopes__Scope\n\n");
        }
        if self.has("policy") {
            let _ = writeln!(
                out,
                "directive @policy(policies: [[policy__Policy!]!]!) {ACCESS}\n"
            );
            out.push_str("scalar policy__Policy\n\n");
        }
        if self.has("cost") || self.has("listSize") {
            out.push_str("directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR\n\n");
            out.push_str("directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION\n\n");
        }
    }
}

/// The features applied to one element, as supergraph directives.
pub fn applied(out: &mut String, common: &Common) {
    for directive in &common.spec {
        let _ = write!(out, " {directive}");
    }
    for context in &common.contexts {
        let _ = write!(out, " @context(name: {})", super::print::quote(context));
    }
}

/// One `@join__directive` per distinct application, listing the graphs applying it.
/// `graph_of` maps a subgraph name to its `join__Graph` value.
pub fn joined(out: &mut String, common: &Common, graph_of: &dyn Fn(&str) -> String) {
    let mut joined: Vec<(Vec<String>, &String)> = Vec::new();
    for (subgraph, args) in &common.joined {
        let graph = graph_of(subgraph);
        match joined.iter_mut().find(|(_, a)| *a == args) {
            Some((graphs, _)) if !graphs.contains(&graph) => graphs.push(graph),
            Some(_) => {}
            None => joined.push((vec![graph], args)),
        }
    }
    for (graphs, args) in joined {
        let _ = write!(
            out,
            " @join__directive(graphs: [{}], {args})",
            graphs.join(", ")
        );
    }
}

/// `"$owner ... on User { locale }"` → `("owner", " ... on User { locale }")`.
pub fn split_context(field: &str) -> Option<(&str, &str)> {
    let rest = field.trim_start().strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(rest.split_at(end))
}

/// `contextArguments` of one subgraph's `@join__field`: its `@fromContext` arguments, each
/// `{context, name, type, selection}`, with the context named per subgraph.
pub fn context_arguments(
    subgraph: &str,
    args: &indexmap::IndexMap<String, super::subgraph::Arg>,
) -> Option<String> {
    let items: Vec<String> = args
        .values()
        .filter_map(|arg| {
            let (context, selection) = split_context(arg.common.from_context.as_ref()?)?;
            Some(format!(
                "{{context: {}, name: {}, type: {}, selection: {}}}",
                super::print::quote(&format!("{subgraph}__{context}")),
                super::print::quote(&arg.name),
                super::print::quote(&arg.ty.to_string()),
                super::print::quote(selection)
            ))
        })
        .collect();
    (!items.is_empty()).then(|| format!("[{}]", items.join(", ")))
}
