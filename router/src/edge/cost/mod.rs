//! Demand control: the static cost of an operation, estimated before any subgraph is called,
//! by the IBM GraphQL Cost Directive spec as Apollo Router's demand control implements it
//! (Hive Router's follows the same rules).
//!
//! [`CostModel`] reads `@cost` and `@listSize` from the supergraph once; estimating an operation
//! is then one walk of its normalized tree with hash lookups by borrowed names and no allocation.
//! The rules, and the Apollo source deciding each (apollo-router `plugins/demand_control/
//! cost_calculator/{static_cost,directives,schema}.rs`, apollo-federation
//! `link/cost_spec_definition.rs`, the router's "Demand Control" docs page):
//! - A field returning an object, interface or union costs 1, a scalar or enum 0 (docs' table).
//!   `@cost(weight:)` on the field replaces that, else `@cost` on the returned type
//!   (`cost_directive_from_field`).
//! - A list field costs its size × (its weight + its selections). The size is the largest given
//!   slicing argument, literal or variable, where an argument's default counts as given, else
//!   `assumedSize`, else the configured `list_size` (`ListSizeDirective::new`). With
//!   `requireOneSlicingArgument` (default true) anything but exactly one is an error. With
//!   `sizedFields` the size applies to those child lists instead (`size_of`).
//! - Argument costs are added once, not per item (`score_argument`): a value costs its
//!   definition's `@cost` (or its type's), an input object 1 (or its `@cost`) plus its fields, a
//!   list its `@cost` plus its items; null nothing.
//! - A field's `@requires` selections cost as if selected, once per field (`score_field`).
//! - A mutation costs 10 more (docs: operation type costs); `__typename` and introspection 0.
//! - Fragments on different types at one position add up: Apollo and Hive both sum them (an
//!   upper bound), so estimates here match theirs.
//!
//! Apollo sums the costs of the subgraph fetches of the plan; this walks the client's operation
//! against the supergraph (Apollo's `estimated(.., should_estimate_requires: true)`), which needs
//! no plan and differs only where the plan adds entity fetches.

use crate::operation::{FieldSelection, NormalizedOperation, Selection};
use crate::supergraph::{Supergraph, SupergraphError};
use apollo_compiler::ast::{self, OperationType, Value};
use apollo_compiler::collections::HashMap;
use apollo_compiler::schema::{ExtendedType, FieldDefinition};
use apollo_compiler::{Name, Node, Schema};
use serde_json::{json, Map};

mod config;
pub use config::{DemandControlConfig, DemandControlMode};

/// Cost added for a mutation (Apollo's docs: "The cost of each operation type").
const MUTATION_COST: f64 = 10.0;

/// Why an operation is refused by demand control.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// Apollo's message and code (`DemandControlError::EstimatedCostTooExpensive`).
    #[error("query estimated cost {estimated} exceeded configured maximum {max}")]
    TooExpensive { estimated: f64, max: f64 },
    /// `@listSize(requireOneSlicingArgument: true)` and not exactly one slicing argument given.
    #[error("exactly one slicing argument is required on `{field}`, but found {found}")]
    SlicingArguments { field: Name, found: usize },
}

impl CostError {
    /// Stable error code for `extensions.code` (Apollo's).
    pub fn code(&self) -> &'static str {
        match self {
            CostError::TooExpensive { .. } => "COST_ESTIMATED_TOO_EXPENSIVE",
            CostError::SlicingArguments { .. } => "COST_QUERY_PARSE_FAILURE",
        }
    }

    /// The GraphQL error, shaped like Apollo's: the estimate and maximum sit in `extensions`
    /// under the dotted keys `cost.estimated` and `cost.max`.
    pub fn to_graphql_error(&self) -> serde_json::Value {
        let mut error =
            json!({ "message": self.to_string(), "extensions": { "code": self.code() } });
        if let CostError::TooExpensive { estimated, max } = self {
            error["extensions"]["cost.estimated"] = json!(estimated);
            error["extensions"]["cost.max"] = json!(max);
        }
        error
    }
}

/// The demand-control rules of one supergraph, read once and shared by every request.
#[derive(Debug, Default)]
pub struct CostModel {
    /// Object, interface and union types (unions with no fields): their fields' rules.
    types: HashMap<Name, HashMap<Name, FieldRule>>,
    /// Input object types: the rules of their fields that can cost anything.
    inputs: HashMap<Name, HashMap<Name, InputRule>>,
}

#[derive(Debug)]
struct FieldRule {
    /// The cost of one instance, before its selections.
    weight: f64,
    list_size: Option<ListSize>,
    /// Only the arguments whose values can cost anything.
    arguments: Vec<(Name, InputRule)>,
    /// The `@requires` selections of the first subgraph declaring some.
    requires: Option<Vec<Selection>>,
}

#[derive(Debug)]
struct ListSize {
    assumed: Option<f64>,
    /// Slicing argument names with their default values.
    slicing: Vec<(Name, Option<f64>)>,
    sized_fields: Vec<Name>,
    require_one: bool,
}

#[derive(Debug, Clone)]
struct InputRule {
    weight: Option<f64>,
    /// The input object type of the value (through lists), if it is one.
    input_object: Option<Name>,
}

/// The local names of `@cost` and `@listSize`, which `@link(import:)` or `as:` may rename.
struct Names {
    cost: String,
    list_size: String,
}

impl Names {
    fn read(schema: &Schema) -> Names {
        let mut names = Names {
            cost: "cost".to_owned(),
            list_size: "listSize".to_owned(),
        };
        for link in schema.schema_definition.directives.get_all("link") {
            let url = link
                .specified_argument_by_name("url")
                .and_then(|v| v.as_str());
            let mut segments = url.unwrap_or_default().trim_end_matches('/').rsplit('/');
            if !(segments.next().is_some_and(|v| v.starts_with('v'))
                && segments.next() == Some("cost"))
            {
                continue;
            }
            // Link spec: the directive named like the spec takes the namespace's name.
            let namespace = link
                .specified_argument_by_name("as")
                .and_then(|v| v.as_str());
            names.cost = namespace.unwrap_or("cost").to_owned();
            names.list_size = format!("{}__listSize", names.cost);
            let imports = link.specified_argument_by_name("import");
            for import in imports.and_then(|v| v.as_list()).into_iter().flatten() {
                let (name, alias) = match import.as_ref() {
                    Value::String(s) => (s.as_str(), s.as_str()),
                    Value::Object(fields) => {
                        let get = |key: &str| {
                            fields
                                .iter()
                                .find(|(k, _)| k == key)
                                .and_then(|(_, v)| v.as_str())
                        };
                        let Some(name) = get("name") else { continue };
                        (name, get("as").unwrap_or(name))
                    }
                    _ => continue,
                };
                let alias = alias.trim_start_matches('@').to_owned();
                match name {
                    "@cost" => names.cost = alias,
                    "@listSize" => names.list_size = alias,
                    _ => {}
                }
            }
        }
        names
    }
}

/// `@cost(weight:)`: an `Int` in federation, a numeric string in the IBM spec.
fn weight(directive: Option<&ast::Directive>) -> Option<f64> {
    let value = directive?.specified_argument_by_name("weight")?;
    match value.as_ref() {
        Value::String(s) => s.parse::<f64>().ok(),
        other => other.to_f64(),
    }
    .filter(|w| w.is_finite())
}

fn strings(directive: &ast::Directive, name: &str) -> Option<Vec<Name>> {
    let list = directive.specified_argument_by_name(name)?.as_list()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().and_then(|s| Name::new(s).ok()))
            .collect(),
    )
}

/// Builds a [`CostModel`] from the full supergraph schema.
struct Reader<'a> {
    schema: &'a Schema,
    sg: &'a Supergraph,
    names: Names,
}

impl Reader<'_> {
    fn type_weight(&self, name: &str) -> Option<f64> {
        let directives = self.schema.types.get(name)?.directives();
        weight(directives.get(&self.names.cost).map(|d| &***d))
    }

    fn field(&self, parent: &Name, def: &FieldDefinition) -> FieldRule {
        let returned = def.ty.inner_named_type();
        let composite = matches!(
            self.schema.types.get(returned),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        );
        let weight = weight(def.directives.get(&self.names.cost).map(|d| &**d))
            .or_else(|| self.type_weight(returned))
            .unwrap_or(if composite { 1.0 } else { 0.0 });
        let list_size = def.directives.get(&self.names.list_size).map(|d| ListSize {
            assumed: d
                .specified_argument_by_name("assumedSize")
                .and_then(|v| v.to_f64()),
            slicing: strings(d, "slicingArguments")
                .unwrap_or_default()
                .into_iter()
                .map(|name| {
                    let default = def
                        .argument_by_name(&name)
                        .and_then(|a| a.default_value.as_ref());
                    (name, default.and_then(|v| v.to_f64()).map(|v| v.max(0.0)))
                })
                .collect(),
            sized_fields: strings(d, "sizedFields").unwrap_or_default(),
            require_one: d
                .specified_argument_by_name("requireOneSlicingArgument")
                .and_then(|v| v.to_bool())
                .unwrap_or(true),
        });
        let arguments = def
            .arguments
            .iter()
            .filter_map(|a| Some((a.name.clone(), self.input(&a.ty, &a.directives)?)))
            .collect();
        let requires = self
            .sg
            .types
            .get(parent)
            .and_then(|t| t.fields.get(&def.name))
            .and_then(|f| f.sources.iter().find_map(|s| s.requires.clone()));
        FieldRule {
            weight,
            list_size,
            arguments,
            requires,
        }
    }

    /// The rule of an argument or input field, when its values can cost anything.
    fn input(&self, ty: &ast::Type, directives: &ast::DirectiveList) -> Option<InputRule> {
        let named = ty.inner_named_type();
        let rule = InputRule {
            weight: weight(directives.get(&self.names.cost).map(|d| &**d))
                .or_else(|| self.type_weight(named)),
            input_object: matches!(
                self.schema.types.get(named),
                Some(ExtendedType::InputObject(_))
            )
            .then(|| named.clone()),
        };
        (rule.weight.is_some() || rule.input_object.is_some()).then_some(rule)
    }
}

impl CostModel {
    /// Reads `@cost` and `@listSize` from `schema`, the full supergraph schema `sg` was parsed
    /// from (its API schema has them stripped), and `@requires` from `sg`.
    pub fn new(sg: &Supergraph, schema: &Schema) -> CostModel {
        let reader = Reader {
            schema,
            sg,
            names: Names::read(schema),
        };
        let mut model = CostModel::default();
        for (name, ty) in &schema.types {
            let fields = match ty {
                ExtendedType::Object(o) => &o.fields,
                ExtendedType::Interface(i) => &i.fields,
                ExtendedType::Union(_) => {
                    model.types.insert(name.clone(), HashMap::default());
                    continue;
                }
                ExtendedType::InputObject(input) => {
                    let rules = input.fields.iter().filter_map(|(field, def)| {
                        Some((field.clone(), reader.input(&def.ty, &def.directives)?))
                    });
                    model.inputs.insert(name.clone(), rules.collect());
                    continue;
                }
                _ => continue,
            };
            let rules = fields
                .iter()
                .map(|(field, def)| (field.clone(), reader.field(name, def)));
            model.types.insert(name.clone(), rules.collect());
        }
        model
    }

    /// [`CostModel::new`] from the supergraph SDL `sg` was parsed from.
    pub fn from_sdl(sg: &Supergraph, sdl: &str) -> Result<CostModel, SupergraphError> {
        let schema = Schema::parse(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::InvalidSchema(crate::diagnostics::plain(&e.errors)))?;
        Ok(CostModel::new(sg, &schema))
    }

    /// The estimated cost of `op` with coerced `variables`; lists without a known size are
    /// assumed `default_list_size` long. Saturates at `f64::MAX`, so huge sizes stay finite.
    pub fn estimate(
        &self,
        op: &NormalizedOperation,
        variables: &Map<String, serde_json::Value>,
        default_list_size: u32,
    ) -> Result<f64, CostError> {
        let walk = Walk {
            model: self,
            variables,
            default_list_size: f64::from(default_list_size),
        };
        let base = if op.kind == OperationType::Mutation {
            MUTATION_COST
        } else {
            0.0
        };
        Ok(add(
            base,
            walk.selections(&op.root_type, &op.selections, None)?,
        ))
    }

    /// Whether [`CostModel::estimate`] of `op` reads variables: when it does not, the estimate
    /// can be cached with the plan (`@skip`/`@include` are applied by normalization already).
    pub fn depends_on_variables(&self, op: &NormalizedOperation) -> bool {
        self.reads_variables(&op.root_type, &op.selections)
    }

    fn reads_variables(&self, parent: &str, selections: &[Selection]) -> bool {
        let rules = self.types.get(parent);
        selections.iter().any(|selection| match selection {
            Selection::Field(f) => {
                let rule = rules.and_then(|r| r.get(f.name.as_str()));
                let costed = |name: &Name| {
                    rule.is_some_and(|r| {
                        r.arguments.iter().any(|(n, _)| n == name)
                            || r.list_size
                                .as_ref()
                                .is_some_and(|l| l.slicing.iter().any(|(n, _)| n == name))
                    })
                };
                f.arguments
                    .iter()
                    .any(|a| costed(&a.name) && has_variable(&a.value))
                    || self.reads_variables(f.ty.inner_named_type(), &f.selections)
            }
            Selection::Fragment(fragment) => {
                self.reads_variables(&fragment.type_condition, &fragment.selections)
            }
        })
    }
}

fn has_variable(value: &Value) -> bool {
    match value {
        Value::Variable(_) => true,
        Value::List(items) => items.iter().any(|v| has_variable(v)),
        Value::Object(fields) => fields.iter().any(|(_, v)| has_variable(v)),
        _ => false,
    }
}

fn add(a: f64, b: f64) -> f64 {
    (a + b).clamp(-f64::MAX, f64::MAX)
}

fn mul(a: f64, b: f64) -> f64 {
    (a * b).clamp(-f64::MAX, f64::MAX)
}

/// A parent's `@listSize(sizedFields:)`: the size it gives those child fields.
#[derive(Clone, Copy)]
struct SizedBy<'a> {
    fields: &'a [Name],
    size: Option<f64>,
}

struct Walk<'a> {
    model: &'a CostModel,
    variables: &'a Map<String, serde_json::Value>,
    default_list_size: f64,
}

impl Walk<'_> {
    fn selections(
        &self,
        parent: &str,
        selections: &[Selection],
        sized: Option<SizedBy<'_>>,
    ) -> Result<f64, CostError> {
        let rules = self.model.types.get(parent);
        let mut total = 0.0;
        for selection in selections {
            let cost = match selection {
                Selection::Field(f) => self.field(parent, rules, f, sized)?,
                Selection::Fragment(fragment) => {
                    self.selections(&fragment.type_condition, &fragment.selections, sized)?
                }
            };
            total = add(total, cost);
        }
        Ok(total)
    }

    fn field(
        &self,
        parent: &str,
        rules: Option<&HashMap<Name, FieldRule>>,
        f: &FieldSelection,
        sized: Option<SizedBy<'_>>,
    ) -> Result<f64, CostError> {
        // `__typename`, `__schema` and `__type`: answered by the router itself.
        if f.name.starts_with("__") {
            return Ok(0.0);
        }
        let returned = f.ty.inner_named_type();
        let Some(rule) = rules.and_then(|r| r.get(f.name.as_str())) else {
            // Not in the supergraph schema (validation makes this unreachable): the defaults.
            let weight = if self.model.types.contains_key(returned) {
                1.0
            } else {
                0.0
            };
            let count = if f.ty.is_list() {
                self.default_list_size
            } else {
                1.0
            };
            return Ok(mul(
                count,
                add(weight, self.selections(returned, &f.selections, None)?),
            ));
        };
        let expected = match &rule.list_size {
            Some(list_size) => self.expected_size(list_size, f)?,
            None => None,
        };
        let count = if !f.ty.is_list() {
            1.0
        } else {
            let upstream = sized
                .filter(|s| s.fields.contains(&f.name))
                .and_then(|s| s.size);
            upstream.or(expected).unwrap_or(self.default_list_size)
        };
        let child_sized = rule
            .list_size
            .as_ref()
            .filter(|l| !l.sized_fields.is_empty())
            .map(|l| SizedBy {
                fields: &l.sized_fields,
                size: expected,
            });
        let own = add(
            rule.weight,
            self.selections(returned, &f.selections, child_sized)?,
        );
        let mut cost = mul(count, own);
        for argument in &f.arguments {
            if let Some((_, input)) = rule.arguments.iter().find(|(n, _)| *n == argument.name) {
                cost = add(cost, self.literal(input, &argument.value));
            }
        }
        if let Some(requires) = &rule.requires {
            cost = add(cost, self.selections(parent, requires, child_sized)?);
        }
        Ok(cost)
    }

    /// The list size the slicing arguments or `assumedSize` give (Apollo's `expected_size`).
    fn expected_size(
        &self,
        list_size: &ListSize,
        f: &FieldSelection,
    ) -> Result<Option<f64>, CostError> {
        let mut found = 0;
        let mut largest: Option<f64> = None;
        for (name, default) in &list_size.slicing {
            let given = f
                .arguments
                .iter()
                .find(|a| a.name == *name)
                .and_then(|a| self.int(&a.value));
            if let Some(size) = given.or(*default) {
                found += 1;
                largest = Some(largest.map_or(size, |l: f64| l.max(size)));
            }
        }
        if list_size.require_one && !list_size.slicing.is_empty() && found != 1 {
            return Err(CostError::SlicingArguments {
                field: f.name.clone(),
                found,
            });
        }
        Ok(largest.or(list_size.assumed))
    }

    /// An integer argument value, literal or variable; negative sizes count as 0.
    fn int(&self, value: &Node<Value>) -> Option<f64> {
        let size = match value.as_ref() {
            Value::Variable(name) => self.variables.get(name.as_str())?.as_f64(),
            other => other.to_f64(),
        };
        size.filter(|s| s.fract() == 0.0).map(|s| s.max(0.0))
    }

    fn input_object(&self, rule: &InputRule) -> Option<&HashMap<Name, InputRule>> {
        self.model.inputs.get(rule.input_object.as_ref()?)
    }

    /// The cost of an argument or input field value written in the operation.
    fn literal(&self, rule: &InputRule, value: &Value) -> f64 {
        match value {
            Value::Null => 0.0,
            Value::Variable(name) => self
                .variables
                .get(name.as_str())
                .map_or(0.0, |v| self.json(rule, v)),
            Value::List(items) => items.iter().fold(rule.weight.unwrap_or(0.0), |sum, item| {
                add(sum, self.literal(rule, item))
            }),
            Value::Object(fields) if rule.input_object.is_some() => {
                let rules = self.input_object(rule);
                fields
                    .iter()
                    .fold(rule.weight.unwrap_or(1.0), |sum, (name, v)| {
                        let field = rules.and_then(|r| r.get(name));
                        add(sum, field.map_or(0.0, |f| self.literal(f, v)))
                    })
            }
            _ => rule.weight.unwrap_or(0.0),
        }
    }

    /// The cost of an argument or input field value given as (part of) a variable.
    fn json(&self, rule: &InputRule, value: &serde_json::Value) -> f64 {
        use serde_json::Value as Json;
        match value {
            Json::Null => 0.0,
            Json::Array(items) => items.iter().fold(rule.weight.unwrap_or(0.0), |sum, item| {
                add(sum, self.json(rule, item))
            }),
            Json::Object(fields) if rule.input_object.is_some() => {
                let rules = self.input_object(rule);
                fields
                    .iter()
                    .fold(rule.weight.unwrap_or(1.0), |sum, (name, v)| {
                        let field = rules.and_then(|r| r.get(name.as_str()));
                        add(sum, field.map_or(0.0, |f| self.json(f, v)))
                    })
            }
            _ => rule.weight.unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests;
