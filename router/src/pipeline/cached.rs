//! Stages 1–5 behind the caches: parsed documents and prepared operations in memory (an
//! LRU each), and, through [`Lookup::Miss`], a second level the caller may consult (plans
//! shared by the fleet in Redis, see [`crate::plan_store`]) before planning.

use super::{coerce_variables, parse_limited, PreparedDocument, PreparedOperation, RequestError};
use crate::edge::authorization::{Filtered, Grants};
use crate::edge::limits::LimitsConfig;
use crate::metrics::Metrics;
use crate::operation::{normalize, NormalizedOperation};
use crate::plan::cache::{CacheKey, PlanCache};
use crate::plan::{plan, QueryPlan};
use crate::supergraph::Supergraph;
use apollo_compiler::ast::OperationType;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Caches shared by all requests against one supergraph.
pub struct Caches {
    pub documents: PlanCache<PreparedDocument>,
    pub plans: PlanCache<PreparedOperation>,
    /// Where plan cache hits, misses and planning time are counted.
    pub(crate) metrics: Arc<Metrics>,
}

impl Caches {
    pub fn new(capacity: usize) -> Caches {
        Caches::with_metrics(capacity, Arc::default())
    }

    pub fn with_metrics(capacity: usize, metrics: Arc<Metrics>) -> Caches {
        Caches {
            documents: PlanCache::new(capacity),
            plans: PlanCache::new(capacity),
            metrics,
        }
    }
}

/// What a request is admitted with besides its document: the operation limits, and the
/// caller's grants when authorization is enforced.
#[derive(Default, Clone, Copy)]
pub struct Admission<'a> {
    pub limits: Option<&'a LimitsConfig>,
    pub grants: Option<&'a Grants>,
}

/// How a prepared operation was made, so it can be made again against another supergraph:
/// the values of its `@skip`/`@include` variables, the `@override` labels it was planned
/// with, and the grants it was filtered for.
#[derive(Debug, Clone, Default)]
pub struct Recipe {
    pub conditions: Map<String, Value>,
    pub labels: Vec<String>,
    pub grants: Option<Grants>,
}

/// The memory level's answer.
pub enum Lookup<'a> {
    Hit(Arc<PreparedOperation>, Map<String, Value>),
    /// Not prepared yet: plan it ([`Miss::plan`]) or take a plan from elsewhere
    /// ([`Miss::with_plan`]).
    Miss(Miss<'a>),
}

pub struct Miss<'a> {
    /// The plan cache key: the normalized document, the operation name and every bit that
    /// changes the plan (conditions, override labels, grants).
    pub key: CacheKey,
    document: Arc<PreparedDocument>,
    variables: Map<String, Value>,
    labels: Vec<String>,
    grants: Option<&'a Grants>,
}

/// Stages 4+5: normalize and plan; with `grants`, what they do not allow is left out of the
/// plan (the response is still shaped by the whole operation, so it comes back `null`).
pub fn normalize_and_plan(
    sg: &Supergraph,
    prepared: Arc<PreparedDocument>,
    variables: &Map<String, Value>,
    enabled_labels: &[String],
    grants: Option<&Grants>,
) -> Result<PreparedOperation, RequestError> {
    let (operation, filtered) = normalize_for(sg, &prepared, variables, grants)?;
    let planned = filtered.as_ref().map_or(&operation, |f| &f.operation);
    let plan = plan(sg, planned, enabled_labels)?;
    let recipe = Recipe {
        conditions: conditions_of(&prepared, variables),
        labels: enabled_labels.to_vec(),
        grants: grants.cloned(),
    };
    Ok(assemble(prepared, operation, filtered, plan, recipe))
}

/// Stage 4 and the authorization filter: the operation the response is shaped by, and what
/// is planned instead when the caller may not see all of it.
fn normalize_for(
    sg: &Supergraph,
    prepared: &PreparedDocument,
    variables: &Map<String, Value>,
    grants: Option<&Grants>,
) -> Result<(NormalizedOperation, Option<Filtered>), RequestError> {
    let operation = normalize(
        &sg.api_schema,
        &prepared.document,
        &prepared.operation,
        variables,
    )?;
    let filtered = grants.and_then(|grants| sg.access.filter(&operation, grants));
    Ok((operation, filtered))
}

fn assemble(
    prepared: Arc<PreparedDocument>,
    operation: NormalizedOperation,
    filtered: Option<Filtered>,
    plan: QueryPlan,
    recipe: Recipe,
) -> PreparedOperation {
    let has_introspection = operation.kind == OperationType::Query
        && prepared
            .operation
            .root_fields(&prepared.document)
            .any(|f| f.name == "__schema" || f.name == "__type");
    PreparedOperation {
        document: prepared,
        operation,
        plan,
        unauthorized: filtered.map(|f| f.errors).unwrap_or_default(),
        has_introspection,
        response_size: Default::default(),
        static_cost: Default::default(),
        recipe,
    }
}

/// The values of the document's `@skip`/`@include` variables.
fn conditions_of(
    prepared: &PreparedDocument,
    variables: &Map<String, Value>,
) -> Map<String, Value> {
    prepared
        .condition_variables
        .iter()
        .filter_map(|name| Some((name.to_string(), variables.get(name.as_str())?.clone())))
        .collect()
}

/// Stages 1–5 with both cache levels: returns the prepared operation and coerced variables.
pub fn prepare(
    sg: &Supergraph,
    caches: &Caches,
    query: &str,
    operation_name: Option<&str>,
    variables: Map<String, Value>,
) -> Result<(Arc<PreparedOperation>, Map<String, Value>), RequestError> {
    let admission = Admission::default();
    prepare_with(sg, caches, query, operation_name, variables, &[], admission)
}

/// [`prepare`] with the progressive `@override` labels configured as enabled, within the
/// limits (checked when a document is first seen; the document cache keeps only those that
/// passed), and planned for the caller's grants (part of the plan cache key).
pub fn prepare_with(
    sg: &Supergraph,
    caches: &Caches,
    query: &str,
    operation_name: Option<&str>,
    variables: Map<String, Value>,
    enabled_labels: &[String],
    admission: Admission<'_>,
) -> Result<(Arc<PreparedOperation>, Map<String, Value>), RequestError> {
    match lookup(
        sg,
        caches,
        query,
        operation_name,
        variables,
        enabled_labels,
        admission,
    )? {
        Lookup::Hit(prepared, variables) => Ok((prepared, variables)),
        Lookup::Miss(miss) => miss.plan(sg, caches),
    }
}

/// Stages 1–3 and the memory level of the plan cache.
pub fn lookup<'a>(
    sg: &Supergraph,
    caches: &Caches,
    query: &str,
    operation_name: Option<&str>,
    variables: Map<String, Value>,
    enabled_labels: &[String],
    admission: Admission<'a>,
) -> Result<Lookup<'a>, RequestError> {
    let mut key = CacheKey {
        query: query.to_owned(),
        operation_name: operation_name.map(str::to_owned),
        conditions: Vec::new(),
    };
    let document = match caches.documents.get(&key) {
        Some(doc) => doc,
        None => {
            let doc = parse_limited(sg, query, operation_name, admission.limits)?;
            let doc = Arc::new(doc);
            caches.documents.insert(key.clone(), doc.clone());
            doc
        }
    };
    let variables = coerce_variables(sg, &document, variables)?;
    key.query.clone_from(&document.normalized);
    key.conditions = document
        .condition_variables
        .iter()
        .map(|v| {
            variables
                .get(v.as_str())
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .collect();
    let labels = super::roll_override_labels(sg, enabled_labels);
    key.conditions
        .extend(sg.override_labels.iter().map(|l| labels.contains(l)));
    let grants = admission.grants.filter(|_| !sg.access.is_empty());
    if let Some(grants) = grants {
        key.conditions.extend(sg.access.fingerprint(grants));
    }
    if let Some(prepared) = caches.plans.get(&key) {
        caches.metrics.record_plan(None);
        return Ok(Lookup::Hit(prepared, variables));
    }
    Ok(Lookup::Miss(Miss {
        key,
        document,
        variables,
        labels,
        grants: admission.grants,
    }))
}

impl Miss<'_> {
    /// Plans it and keeps it in memory.
    pub fn plan(
        self,
        sg: &Supergraph,
        caches: &Caches,
    ) -> Result<(Arc<PreparedOperation>, Map<String, Value>), RequestError> {
        let started = std::time::Instant::now();
        let planned = normalize_and_plan(
            sg,
            self.document,
            &self.variables,
            &self.labels,
            self.grants,
        );
        let prepared = Arc::new(planned?);
        caches.metrics.record_plan(Some(started.elapsed()));
        caches.plans.insert(self.key, prepared.clone());
        Ok((prepared, self.variables))
    }

    /// Prepares it with `plan`, made for the same key elsewhere (another replica), and keeps
    /// it in memory: only normalization runs here.
    pub fn with_plan(
        self,
        sg: &Supergraph,
        caches: &Caches,
        plan: QueryPlan,
    ) -> Result<(Arc<PreparedOperation>, Map<String, Value>), RequestError> {
        let (operation, filtered) =
            normalize_for(sg, &self.document, &self.variables, self.grants)?;
        let recipe = Recipe {
            conditions: conditions_of(&self.document, &self.variables),
            labels: self.labels,
            grants: self.grants.cloned(),
        };
        let prepared = Arc::new(assemble(self.document, operation, filtered, plan, recipe));
        caches.plans.insert(self.key, prepared.clone());
        Ok((prepared, self.variables))
    }
}
