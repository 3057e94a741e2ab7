//! The request pipeline as explicit stages:
//! parse → validate → select operation → coerce variables → normalize → plan (cached)
//! → execute → shape. Each stage is one function; [`prepare`] composes the pure ones.

mod cached;

pub use cached::{
    lookup, normalize_and_plan, prepare, prepare_with, Admission, Caches, Lookup, Miss, Recipe,
};

use crate::edge::limits::{measure, LimitError, LimitsConfig};
use crate::operation::{condition_variables, NormalizeError, NormalizedOperation};
use crate::plan::{PlanError, QueryPlan};
use crate::supergraph::Supergraph;
use apollo_compiler::executable::Operation;
use apollo_compiler::response::{GraphQLError, JsonMap};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A request error: the operation is rejected before execution (no `data` in the response).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{}", join_messages(.0))]
    Parse(Vec<GraphQLError>),
    #[error("{}", join_messages(.0))]
    Validation(Vec<GraphQLError>),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Variables(String),
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl RequestError {
    /// Stable error code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::Parse(_) => "GRAPHQL_PARSE_FAILED",
            RequestError::Validation(_) => "GRAPHQL_VALIDATION_FAILED",
            RequestError::UnknownOperation(_) => "GRAPHQL_UNKNOWN_OPERATION_NAME",
            RequestError::Variables(_) => "BAD_USER_INPUT",
            RequestError::Normalize(e) => e.code(),
            RequestError::Plan(e) => e.code(),
            RequestError::Limit(e) => e.code(),
        }
    }

    /// The error(s) as GraphQL response errors with `extensions.code`.
    pub fn to_graphql_errors(&self) -> Vec<Value> {
        let code = self.code();
        let with_code = |message: String, locations: Value| {
            let mut error =
                serde_json::json!({ "message": message, "extensions": { "code": code } });
            if locations.as_array().is_some_and(|l| !l.is_empty()) {
                error["locations"] = locations;
            }
            error
        };
        match self {
            RequestError::Parse(errors) | RequestError::Validation(errors) => errors
                .iter()
                .map(|e| {
                    with_code(
                        e.message.clone(),
                        serde_json::to_value(&e.locations).unwrap_or(Value::Null),
                    )
                })
                .collect(),
            other => vec![with_code(other.to_string(), Value::Null)],
        }
    }
}

fn join_messages(errors: &[GraphQLError]) -> String {
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    messages.join("; ")
}

fn diagnostics(list: &apollo_compiler::validation::DiagnosticList) -> Vec<GraphQLError> {
    list.iter().map(|d| d.to_json()).collect()
}

/// A parsed and validated document, cached by operation text and name.
#[derive(Debug)]
pub struct PreparedDocument {
    pub document: Valid<ExecutableDocument>,
    pub operation: Node<Operation>,
    /// Variables read by `@skip`/`@include`; their values select the cached plan.
    pub condition_variables: Vec<Name>,
    /// The document printed canonically (formatting and comments gone): the plan cache
    /// key, so differently formatted copies of one operation share a plan.
    pub normalized: String,
}

/// Everything needed to execute an operation once variables are coerced.
#[derive(Debug)]
pub struct PreparedOperation {
    pub document: Arc<PreparedDocument>,
    pub operation: NormalizedOperation,
    pub plan: QueryPlan,
    /// `UNAUTHORIZED_FIELD_OR_TYPE` errors for what the plan leaves out (see
    /// [`crate::edge::authorization`]); every response of this entry carries them.
    pub unauthorized: Vec<Value>,
    /// Whether `__schema`/`__type` must be answered from the API schema.
    pub has_introspection: bool,
    /// The size of the last response written for this operation: the next one's buffer
    /// starts that large instead of growing (and copying) its way there.
    pub response_size: std::sync::atomic::AtomicUsize,
    /// The demand-control estimate, once computed, when it does not depend on variables.
    pub static_cost: std::sync::OnceLock<f64>,
    /// How to prepare this entry again (on a supergraph reload's warm-up).
    pub recipe: Recipe,
}

/// Stage 1+2: parse, validate and select the operation.
pub fn parse_and_validate(
    sg: &Supergraph,
    query: &str,
    operation_name: Option<&str>,
) -> Result<PreparedDocument, RequestError> {
    parse_limited(sg, query, operation_name, None)
}

/// [`parse_and_validate`] within operation limits: the size before parsing, the tokens while
/// parsing, the shape of the selected operation after validation.
pub fn parse_limited(
    sg: &Supergraph,
    query: &str,
    operation_name: Option<&str>,
    limits: Option<&LimitsConfig>,
) -> Result<PreparedDocument, RequestError> {
    let mut parser = apollo_compiler::parser::Parser::new();
    if let Some(limits) = limits {
        limits.check_size(query)?;
        parser = parser.token_limit(limits.max_tokens);
    }
    let ast = match parser.parse_ast(query, "operation.graphql") {
        Ok(ast) => ast,
        Err(_) if limits.is_some_and(|l| parser.tokens_reached() >= l.max_tokens) => {
            let max = limits.map_or(0, |l| l.max_tokens);
            return Err(LimitError::Tokens { max }.into());
        }
        Err(e) => return Err(RequestError::Parse(diagnostics(&e.errors))),
    };
    let document = ast
        .to_executable_validate(&sg.api_schema)
        .map_err(|e| RequestError::Validation(diagnostics(&e.errors)))?;
    let operation = document
        .operations
        .get(operation_name)
        .map_err(|e| RequestError::UnknownOperation(e.message().to_string()))?
        .clone();
    if let Some(limits) = limits {
        limits.check(&measure(&document, &operation))?;
    }
    let condition_variables = condition_variables(&document, &operation);
    let normalized = document.serialize().no_indent().to_string();
    Ok(PreparedDocument {
        document,
        operation,
        condition_variables,
        normalized,
    })
}

/// Stage 3: coerce variables against the operation's definitions.
pub fn coerce_variables(
    sg: &Supergraph,
    prepared: &PreparedDocument,
    variables: Map<String, Value>,
) -> Result<Map<String, Value>, RequestError> {
    if prepared.operation.variables.is_empty() {
        return Ok(Map::new());
    }
    let input: JsonMap = variables
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let coerced = apollo_compiler::request::coerce_variable_values(
        &sg.api_schema,
        &prepared.operation,
        &input,
    )
    .map_err(|e| RequestError::Variables(e.message().to_string()))?;
    let mut coerced = serde_json::to_value(coerced.into_inner())
        .ok()
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .ok_or_else(|| RequestError::Variables("variables are not a JSON object".into()))?;
    for definition in &prepared.operation.variables {
        if definition.ty.inner_named_type() == "ID" {
            if let Some(value) = coerced.get_mut(definition.name.as_str()) {
                ids_to_strings(value);
            }
        }
    }
    Ok(coerced)
}

/// An `ID` given as an integer is coerced to its string form (the spec's ID coercion).
fn ids_to_strings(value: &mut Value) {
    match value {
        Value::Number(n) => *value = Value::String(n.to_string()),
        Value::Array(items) => items.iter_mut().for_each(ids_to_strings),
        _ => {}
    }
}

/// Plans `query` without executing it (the `router plan` command), with the given
/// progressive `@override` labels enabled.
pub fn plan_only(
    sg: &Supergraph,
    query: &str,
    operation_name: Option<&str>,
    variables: Map<String, Value>,
    enabled_labels: &[String],
) -> Result<QueryPlan, RequestError> {
    let prepared = Arc::new(parse_and_validate(sg, query, operation_name)?);
    let variables = coerce_variables(sg, &prepared, variables)?;
    Ok(normalize_and_plan(sg, prepared, &variables, enabled_labels, None)?.plan)
}

/// Decides, for one request, which progressive `@override` labels of the supergraph are
/// enabled: those in `enabled` (configured feature flags), and `percent(N)` for N% of
/// requests. Other labels stay disabled, so the original subgraph keeps serving.
pub fn roll_override_labels(sg: &Supergraph, enabled: &[String]) -> Vec<String> {
    sg.override_labels
        .iter()
        .filter(|label| {
            enabled.contains(label) || percent(label).is_some_and(|p| random_percent() < p)
        })
        .cloned()
        .collect()
}

fn percent(label: &str) -> Option<f64> {
    let inner = label.strip_prefix("percent(")?.strip_suffix(')')?;
    inner
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
}

/// A uniform value in `[0, 100)` from the standard library's randomly keyed hasher.
fn random_percent() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64 * 100.0
}

/// Answers `__schema`/`__type` from the API schema.
pub fn introspect(
    sg: &Supergraph,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, RequestError> {
    if !prepared.has_introspection {
        return Ok(None);
    }
    let doc = &prepared.document;
    let input: JsonMap = variables
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.clone().into()))
        .collect();
    let invalid = |e: apollo_compiler::request::RequestError| {
        RequestError::Variables(e.message().to_string())
    };
    let coerced =
        apollo_compiler::request::coerce_variable_values(&sg.api_schema, &doc.operation, &input)
            .map_err(invalid)?;
    apollo_compiler::introspection::check_max_depth(&doc.document, &doc.operation)
        .map_err(invalid)?;
    let response = apollo_compiler::introspection::partial_execute(
        &sg.api_schema,
        &sg.implementers,
        &doc.document,
        &doc.operation,
        &coerced,
    )
    .map_err(invalid)?;
    let data = response
        .data
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null));
    Ok(match data {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    })
}
