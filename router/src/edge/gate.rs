//! The rate-limit gate of one request: which budgets an operation spends, and whether any
//! is exhausted. Runs after planning (on a plan-cache hit: no parsing) and before any fetch.

use super::rate_limit::{
    email_key, ip_key, Decision, RateLimitConfig, RateLimitError, RateLimiter, RuleSet,
};
use crate::operation::{NormalizedOperation, Selection};
use apollo_compiler::ast::{OperationType, Value as AstValue};
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::time::Duration;

/// Who is asking: the verified JWT `sub`, or nobody, and the client's address.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<String>,
    pub ip: IpAddr,
}

impl Caller {
    /// A caller known only by address (tests, and requests without a verifier).
    pub fn anonymous(ip: IpAddr) -> Caller {
        Caller { user: None, ip }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// HTTP 429 `RATE_LIMITED` with `Retry-After`.
    Limited { retry_after: Duration },
    /// Redis failed and the rule is fail-closed: HTTP 503 `RATE_LIMIT_UNAVAILABLE`.
    Unavailable,
}

/// The limiter and its rules; one per router process, kept across supergraph reloads.
pub struct Gate {
    limiter: RateLimiter,
    rules: RuleSet,
    auth_fields: Vec<String>,
}

impl Gate {
    /// `None` when rate limiting is off.
    pub fn new(config: &RateLimitConfig) -> Result<Option<Gate>, RateLimitError> {
        if !config.enabled {
            return Ok(None);
        }
        Ok(Some(Gate {
            limiter: RateLimiter::from_config(config)?,
            rules: config.rules(),
            auth_fields: config.auth.fields.clone(),
        }))
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Spends the operation's budgets in turn; the first one exhausted refuses it.
    pub async fn admit(
        &self,
        caller: &Caller,
        operation: &NormalizedOperation,
        variables: &Map<String, Value>,
        cost: f64,
    ) -> Result<(), Refused> {
        let ip = ip_key(caller.ip);
        let who = match &caller.user {
            Some(sub) => sub.as_str(),
            None => ip.as_str(),
        };
        if operation.kind == OperationType::Mutation {
            for email in self.auth_emails(operation, variables) {
                self.spend(self.rules.auth_per_email.as_ref(), &email, 1)
                    .await?;
            }
            if self.touches_auth(operation) {
                self.spend(self.rules.auth_per_ip.as_ref(), &ip, 1).await?;
            }
        }
        let caller_rule = match caller.user {
            Some(_) => self.rules.per_user.as_ref(),
            None => self.rules.per_ip.as_ref(),
        };
        self.spend(caller_rule, who, 1).await?;
        if let Some(name) = &operation.name {
            self.spend(self.rules.operations.get(name.as_str()), who, 1)
                .await?;
        }
        // Whole units: a fractional estimate rounds up, so no operation is free by rounding.
        let units = if cost.is_finite() {
            cost.ceil().max(0.0) as u64
        } else {
            u64::MAX
        };
        self.spend(self.rules.cost.as_ref(), who, units).await
    }

    async fn spend(
        &self,
        rule: Option<&super::rate_limit::Rule>,
        key: &str,
        cost: u64,
    ) -> Result<(), Refused> {
        let Some(rule) = rule else { return Ok(()) };
        match self.limiter.check(rule, key, cost).await {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after } => Err(Refused::Limited { retry_after }),
            Decision::Unavailable => Err(Refused::Unavailable),
        }
    }

    fn is_auth_field(&self, name: &str) -> bool {
        self.auth_fields.iter().any(|f| f == name)
    }

    fn touches_auth(&self, operation: &NormalizedOperation) -> bool {
        root_fields(&operation.selections).any(|f| self.is_auth_field(&f.name))
    }

    /// The `email` arguments of the sign-in family: `signIn(email:)` or
    /// `signUp(input: { email })`, literal or from variables, normalized.
    fn auth_emails(
        &self,
        operation: &NormalizedOperation,
        variables: &Map<String, Value>,
    ) -> Vec<String> {
        let mut emails = Vec::new();
        for field in root_fields(&operation.selections).filter(|f| self.is_auth_field(&f.name)) {
            for argument in &field.arguments {
                let value = resolve(&argument.value, variables);
                let email = match (argument.name.as_str(), &value) {
                    ("email", Value::String(email)) => Some(email.clone()),
                    (_, Value::Object(fields)) => fields
                        .get("email")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => None,
                };
                if let Some(email) = email {
                    emails.push(email_key(&email));
                }
            }
        }
        emails
    }
}

fn root_fields(
    selections: &[Selection],
) -> impl Iterator<Item = &crate::operation::FieldSelection> {
    selections.iter().flat_map(|selection| {
        let nested: Box<dyn Iterator<Item = _>> = match selection {
            Selection::Field(field) => Box::new(std::iter::once(field)),
            Selection::Fragment(fragment) => Box::new(root_fields(&fragment.selections)),
        };
        nested
    })
}

/// An argument's value as JSON, variables substituted (enough for strings and objects).
fn resolve(value: &AstValue, variables: &Map<String, Value>) -> Value {
    match value {
        AstValue::Variable(name) => variables.get(name.as_str()).cloned().unwrap_or(Value::Null),
        AstValue::String(text) => Value::String(text.clone()),
        AstValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.to_string(), resolve(value, variables)))
                .collect(),
        ),
        _ => Value::Null,
    }
}
