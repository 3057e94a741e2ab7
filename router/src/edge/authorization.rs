//! Authorization declared in the schema (`@authenticated`, `@requiresScopes`, `@policy`,
//! federation 2.5/2.6), enforced once at the router, before any subgraph is called, the way
//! Apollo Router's authorization plugin does it: fields the caller may not see are removed
//! from the operation that is planned, and come back `null` with an
//! `UNAUTHORIZED_FIELD_OR_TYPE` error at their path, while the rest of the operation runs.
//!
//! A rule on a type protects every field returning it and every fragment on it; a field of an
//! interface is protected when the field is on any of its implementations. Introspection and
//! `__typename` are never filtered.

use crate::operation::{FieldSelection, NormalizedOperation, Selection};
use apollo_compiler::ast::{Directive, Value as AstValue};
use apollo_compiler::schema::{ExtendedType, Implementers};
use apollo_compiler::{Name, Schema};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// What one element requires: all of it (`@authenticated`; one of the scope sets; one of the
/// policy sets).
#[derive(Debug, Default, Clone)]
struct Rule {
    authenticated: bool,
    /// Any of these sets, each wholly held.
    scopes: Vec<Vec<String>>,
    policies: Vec<Vec<String>>,
}

impl Rule {
    fn read(directives: &[&Directive]) -> Option<Rule> {
        let sets = |name: &str, argument: &str| -> Vec<Vec<String>> {
            directives
                .iter()
                .filter(|d| d.name == name)
                .filter_map(|d| d.specified_argument_by_name(argument))
                .flat_map(|v| string_sets(v))
                .collect()
        };
        let rule = Rule {
            authenticated: directives.iter().any(|d| d.name == "authenticated"),
            scopes: sets("requiresScopes", "scopes"),
            policies: sets("policy", "policies"),
        };
        (rule.authenticated || !rule.scopes.is_empty() || !rule.policies.is_empty()).then_some(rule)
    }

    fn allows(&self, grants: &Grants) -> bool {
        let any_set = |sets: &[Vec<String>], held: &HashSet<String>| {
            sets.is_empty() || sets.iter().any(|set| set.iter().all(|s| held.contains(s)))
        };
        (!self.authenticated || grants.authenticated)
            && any_set(&self.scopes, &grants.scopes)
            && any_set(&self.policies, &grants.policies)
    }
}

/// `[["a", "b"], ["c"]]` as sets of strings.
fn string_sets(value: &AstValue) -> Vec<Vec<String>> {
    let AstValue::List(sets) = value else {
        return Vec::new();
    };
    sets.iter()
        .map(|set| match set.as_ref() {
            AstValue::List(items) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
            AstValue::String(one) => vec![one.clone()],
            _ => Vec::new(),
        })
        .collect()
}

/// What a caller holds: a verified token, its scopes, and the policies it satisfies.
#[derive(Debug, Default, Clone)]
pub struct Grants {
    pub authenticated: bool,
    pub scopes: HashSet<String>,
    pub policies: HashSet<String>,
}

/// The access rules of one supergraph.
#[derive(Debug, Default)]
pub struct AccessRules {
    types: HashMap<Name, Rule>,
    fields: HashMap<(Name, Name), Rule>,
    implementers: HashMap<Name, Vec<Name>>,
    /// Every scope and policy a rule names: a caller's grants, as bits over them, are part of
    /// the plan cache key.
    scopes: Vec<String>,
    policies: Vec<String>,
}

/// The operation to plan when the caller may not see all of it, and the errors to answer.
pub struct Filtered {
    pub operation: NormalizedOperation,
    pub errors: Vec<Value>,
}

impl AccessRules {
    pub fn read<'s>(
        schema: &Schema,
        implementers: impl IntoIterator<Item = (&'s Name, &'s Implementers)>,
    ) -> AccessRules {
        let mut rules = AccessRules::default();
        for (name, ty) in &schema.types {
            let on_type: Vec<&Directive> = ty.directives().iter().map(|c| &*c.node).collect();
            if let Some(rule) = Rule::read(&on_type) {
                rules.types.insert(name.clone(), rule);
            }
            let fields = match ty {
                ExtendedType::Object(object) => &object.fields,
                ExtendedType::Interface(interface) => &interface.fields,
                _ => continue,
            };
            for (field, definition) in fields {
                let on_field: Vec<&Directive> =
                    definition.directives.iter().map(|d| &**d).collect();
                if let Some(rule) = Rule::read(&on_field) {
                    rules.fields.insert((name.clone(), field.clone()), rule);
                }
            }
        }
        for (interface, found) in implementers {
            let objects = found.objects.iter().cloned().collect();
            rules.implementers.insert(interface.clone(), objects);
        }
        let all = rules.types.values().chain(rules.fields.values());
        let (mut scopes, mut policies) = (BTreeSet::new(), BTreeSet::new());
        for rule in all {
            scopes.extend(rule.scopes.iter().flatten().cloned());
            policies.extend(rule.policies.iter().flatten().cloned());
        }
        rules.scopes = scopes.into_iter().collect();
        rules.policies = policies.into_iter().collect();
        rules
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty()
    }

    /// What of `grants` can change a plan, as bits: the same bits, the same filtering.
    pub fn fingerprint<'a>(&'a self, grants: &'a Grants) -> impl Iterator<Item = bool> + 'a {
        let authenticated = std::iter::once(grants.authenticated);
        let scopes = self.scopes.iter().map(|s| grants.scopes.contains(s));
        let policies = self.policies.iter().map(|p| grants.policies.contains(p));
        authenticated.chain(scopes).chain(policies)
    }

    /// `operation` without what `grants` do not allow; `None` when it is allowed whole.
    pub fn filter(&self, operation: &NormalizedOperation, grants: &Grants) -> Option<Filtered> {
        if self.is_empty() {
            return None;
        }
        let mut errors = Vec::new();
        let mut path = Vec::new();
        let parent = &operation.root_type;
        let mut selections = self.selections(
            parent,
            &operation.selections,
            grants,
            &mut path,
            &mut errors,
        )?;
        if selections.is_empty() {
            selections.push(Selection::Field(FieldSelection::typename()));
        }
        Some(Filtered {
            operation: NormalizedOperation {
                selections,
                ..operation.clone()
            },
            errors,
        })
    }

    /// The selections of `parent` that `grants` allow, when some are not (copied on the first
    /// removal, so an allowed operation costs one walk and no allocation).
    fn selections(
        &self,
        parent: &Name,
        selections: &[Selection],
        grants: &Grants,
        path: &mut Vec<String>,
        errors: &mut Vec<Value>,
    ) -> Option<Vec<Selection>> {
        let mut out: Option<Vec<Selection>> = None;
        for (i, selection) in selections.iter().enumerate() {
            let kept = self.selection(parent, selection, grants, path, errors);
            match (&mut out, kept) {
                (None, Kept::Same) => {}
                (None, changed) => {
                    let mut copy = selections[..i].to_vec();
                    if let Kept::Changed(selection) = changed {
                        copy.push(selection);
                    }
                    out = Some(copy);
                }
                (Some(copy), Kept::Same) => copy.push(selection.clone()),
                (Some(copy), Kept::Changed(selection)) => copy.push(selection),
                (Some(_), Kept::Removed) => {}
            }
        }
        out
    }

    fn selection(
        &self,
        parent: &Name,
        selection: &Selection,
        grants: &Grants,
        path: &mut Vec<String>,
        errors: &mut Vec<Value>,
    ) -> Kept {
        match selection {
            Selection::Field(field) if field.name.starts_with("__") => Kept::Same,
            Selection::Field(field) => {
                path.push(field.response_key().to_string());
                let kept = if self.field_allowed(parent, field, grants) {
                    let ty = field.ty.inner_named_type();
                    match self.selections(ty, &field.selections, grants, path, errors) {
                        None => Kept::Same,
                        Some(mut inner) => {
                            if inner.is_empty() {
                                inner.push(Selection::Field(FieldSelection::typename()));
                            }
                            let mut field = field.clone();
                            field.selections = inner;
                            Kept::Changed(Selection::Field(field))
                        }
                    }
                } else {
                    errors.push(unauthorized(path));
                    Kept::Removed
                };
                path.pop();
                kept
            }
            Selection::Fragment(fragment) => {
                let ty = &fragment.type_condition;
                if !self.type_allowed(ty, grants) {
                    errors.push(unauthorized(path));
                    return Kept::Removed;
                }
                match self.selections(ty, &fragment.selections, grants, path, errors) {
                    None => Kept::Same,
                    Some(inner) => {
                        let mut fragment = fragment.clone();
                        fragment.selections = inner;
                        if fragment.selections.is_empty() {
                            return Kept::Removed;
                        }
                        Kept::Changed(Selection::Fragment(fragment))
                    }
                }
            }
        }
    }

    fn type_allowed(&self, ty: &Name, grants: &Grants) -> bool {
        self.types.get(ty).is_none_or(|rule| rule.allows(grants))
    }

    fn field_allowed(&self, parent: &Name, field: &FieldSelection, grants: &Grants) -> bool {
        let on = |ty: &Name| {
            let key = (ty.clone(), field.name.clone());
            self.fields.get(&key).is_none_or(|rule| rule.allows(grants))
        };
        let implementations = self.implementers.get(parent).into_iter().flatten();
        on(parent)
            && self.type_allowed(field.ty.inner_named_type(), grants)
            && implementations.into_iter().all(on)
    }
}

enum Kept {
    Same,
    Changed(Selection),
    Removed,
}

fn unauthorized(path: &[String]) -> Value {
    json!({
        "message": "Unauthorized field or type",
        "path": path,
        "extensions": { "code": "UNAUTHORIZED_FIELD_OR_TYPE" },
    })
}

/// `[authorization]`: how the caller's grants are read from its verified token.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// Refuse a whole operation (HTTP 403) that asks for anything the caller may not see,
    /// instead of answering the rest.
    pub reject_unauthorized: bool,
    /// The claim holding the token's scopes: a space-separated string (OAuth's `scope`) or
    /// an array of strings.
    pub scope_claim: String,
    /// `@policy` names and how each is decided from the token's claims.
    pub policies: std::collections::BTreeMap<String, PolicyRule>,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        AuthorizationConfig {
            reject_unauthorized: false,
            scope_claim: "scope".into(),
            policies: Default::default(),
        }
    }
}

/// A policy the caller satisfies when every condition given holds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyRule {
    /// The claim examined (a string, or an array of strings).
    pub claim: Option<String>,
    /// The claim equals one of these, or (an array) contains one of them.
    pub one_of: Vec<String>,
    /// Every one of these other policies holds too.
    pub all: Vec<String>,
    /// At least one of these other policies holds (when given).
    pub any: Vec<String>,
}

impl AuthorizationConfig {
    /// The grants of a caller with these verified `claims` (`None`: anonymous).
    pub fn grants(&self, claims: Option<&auth::Claims>) -> Grants {
        let Some(claims) = claims else {
            return Grants::default();
        };
        let scopes = strings(claims.extra.get(&self.scope_claim));
        let policies = self
            .policies
            .keys()
            .filter(|name| self.holds(name, claims, 0))
            .cloned()
            .collect();
        Grants {
            authenticated: true,
            scopes,
            policies,
        }
    }

    /// Whether policy `name` holds; rules nest at most a few levels (a cycle holds nothing).
    fn holds(&self, name: &str, claims: &auth::Claims, depth: usize) -> bool {
        let Some(rule) = self.policies.get(name).filter(|_| depth < 8) else {
            return false;
        };
        let claimed = match &rule.claim {
            Some(claim) => {
                let values = strings(claims.extra.get(claim));
                rule.one_of.iter().any(|v| values.contains(v))
            }
            None => rule.one_of.is_empty(),
        };
        claimed
            && rule.all.iter().all(|p| self.holds(p, claims, depth + 1))
            && (rule.any.is_empty() || rule.any.iter().any(|p| self.holds(p, claims, depth + 1)))
    }
}

/// A claim's values: a string split on spaces, or an array's strings.
fn strings(value: Option<&Value>) -> HashSet<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => HashSet::new(),
    }
}
