//! Schema checks for teams' CI: what a proposed subgraph change does to the API schema clients
//! use. Breaking changes fail the check; safe ones are listed separately.

use apollo_compiler::ast::Type;
use apollo_compiler::schema::{ExtendedType, FieldDefinition, InputValueDefinition};
use apollo_compiler::{Node, Schema};
use serde::Serialize;

use crate::compose::{self, SubgraphInput};

/// One difference between the current and the proposed API schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Stable code, e.g. `FIELD_REMOVED`.
    pub code: &'static str,
    /// Schema coordinate: `Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`.
    pub coordinate: String,
    pub message: String,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub breaking: Vec<Change>,
    pub safe: Vec<Change>,
    /// Composition errors of the proposal (each also makes the check fail).
    pub composition_errors: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.breaking.is_empty() && self.composition_errors.is_empty()
    }

    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for error in &self.composition_errors {
            out.push_str(&format!("✖ composition: {error}\n"));
        }
        for change in &self.breaking {
            out.push_str(&format!(
                "✖ BREAKING {} {}: {}\n",
                change.code, change.coordinate, change.message
            ));
        }
        for change in &self.safe {
            out.push_str(&format!(
                "✔ safe     {} {}: {}\n",
                change.code, change.coordinate, change.message
            ));
        }
        out.push_str(&format!(
            "{} breaking, {} safe{}\n",
            self.breaking.len(),
            self.safe.len(),
            if self.composition_errors.is_empty() {
                String::new()
            } else {
                format!(", {} composition errors", self.composition_errors.len())
            }
        ));
        out
    }
}

/// Checks proposed subgraph SDLs (replacing or adding subgraphs by name) against a supergraph.
pub fn check_subgraphs(
    current_supergraph: &str,
    proposed: &[SubgraphInput],
) -> Result<Report, String> {
    let mut subgraphs = compose::extract(current_supergraph)?;
    for change in proposed {
        match subgraphs.iter_mut().find(|s| s.name == change.name) {
            Some(existing) => existing.sdl.clone_from(&change.sdl),
            None => subgraphs.push(change.clone()),
        }
    }
    let current = api_schema(current_supergraph)?;
    match compose::compose(&subgraphs) {
        Ok(next) => Ok(diff(&current, &api_schema(&next)?)),
        Err(errors) => Ok(Report {
            composition_errors: errors.iter().map(ToString::to_string).collect(),
            ..Report::default()
        }),
    }
}

fn api_schema(supergraph: &str) -> Result<Schema, String> {
    crate::supergraph::Supergraph::parse(supergraph)
        .map(|s| s.api_schema.into_inner())
        .map_err(|e| e.to_string())
}

/// Every difference from `old` to `new` that a client could notice.
pub fn diff(old: &Schema, new: &Schema) -> Report {
    let mut report = Report::default();
    for (name, old_ty) in old.types.iter().filter(|(_, t)| !t.is_built_in()) {
        let Some(new_ty) = new.types.get(name) else {
            breaking(
                &mut report,
                "TYPE_REMOVED",
                name.as_str(),
                format!("type {name} was removed"),
            );
            continue;
        };
        match (old_ty, new_ty) {
            (ExtendedType::Object(a), ExtendedType::Object(b)) => {
                output_fields(&mut report, name.as_str(), &a.fields, &b.fields);
                for interface in a
                    .implements_interfaces
                    .iter()
                    .filter(|i| !b.implements_interfaces.contains(*i))
                {
                    breaking(
                        &mut report,
                        "IMPLEMENTATION_REMOVED",
                        name.as_str(),
                        format!("{name} no longer implements {}", interface.name),
                    );
                }
            }
            (ExtendedType::Interface(a), ExtendedType::Interface(b)) => {
                output_fields(&mut report, name.as_str(), &a.fields, &b.fields)
            }
            (ExtendedType::Union(a), ExtendedType::Union(b)) => {
                for member in a.members.iter().filter(|m| !b.members.contains(*m)) {
                    breaking(
                        &mut report,
                        "UNION_MEMBER_REMOVED",
                        name.as_str(),
                        format!("{} is no longer a member of {name}", member.name),
                    );
                }
                for member in b.members.iter().filter(|m| !a.members.contains(*m)) {
                    safe(
                        &mut report,
                        "UNION_MEMBER_ADDED",
                        name.as_str(),
                        format!("{} joined {name}", member.name),
                    );
                }
            }
            (ExtendedType::Enum(a), ExtendedType::Enum(b)) => {
                for value in a.values.keys().filter(|v| !b.values.contains_key(*v)) {
                    breaking(
                        &mut report,
                        "ENUM_VALUE_REMOVED",
                        &format!("{name}.{value}"),
                        format!("enum value {value} was removed"),
                    );
                }
                for value in b.values.keys().filter(|v| !a.values.contains_key(*v)) {
                    safe(&mut report, "ENUM_VALUE_ADDED", &format!("{name}.{value}"), format!("enum value {value} was added (clients switching on {name} should handle unknown values)"));
                }
            }
            (ExtendedType::InputObject(a), ExtendedType::InputObject(b)) => {
                for (field, def) in &a.fields {
                    let coordinate = format!("{name}.{field}");
                    match b.fields.get(field) {
                        None => breaking(
                            &mut report,
                            "INPUT_FIELD_REMOVED",
                            &coordinate,
                            format!("input field {field} was removed"),
                        ),
                        Some(new_def) => {
                            input_value(&mut report, &coordinate, def, new_def, "input field")
                        }
                    }
                }
                for (field, def) in b.fields.iter().filter(|(f, _)| !a.fields.contains_key(*f)) {
                    let coordinate = format!("{name}.{field}");
                    if is_required(def) {
                        breaking(
                            &mut report,
                            "REQUIRED_INPUT_FIELD_ADDED",
                            &coordinate,
                            format!("required input field {field} was added"),
                        );
                    } else {
                        safe(
                            &mut report,
                            "OPTIONAL_INPUT_FIELD_ADDED",
                            &coordinate,
                            format!("optional input field {field} was added"),
                        );
                    }
                }
            }
            (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            _ => breaking(
                &mut report,
                "TYPE_KIND_CHANGED",
                name.as_str(),
                format!("type {name} changed kind"),
            ),
        }
    }
    for name in new.types.keys().filter(|n| !old.types.contains_key(*n)) {
        safe(
            &mut report,
            "TYPE_ADDED",
            name.as_str(),
            format!("type {name} was added"),
        );
    }
    report
}

type Fields = apollo_compiler::collections::IndexMap<
    apollo_compiler::Name,
    apollo_compiler::schema::Component<FieldDefinition>,
>;

fn output_fields(report: &mut Report, type_name: &str, old: &Fields, new: &Fields) {
    for (name, field) in old {
        let coordinate = format!("{type_name}.{name}");
        let Some(next) = new.get(name) else {
            breaking(
                report,
                "FIELD_REMOVED",
                &coordinate,
                format!("field {name} was removed"),
            );
            continue;
        };
        match output_type_change(&field.ty, &next.ty) {
            Compat::Same => {}
            Compat::Safe => safe(
                report,
                "FIELD_TYPE_TIGHTENED",
                &coordinate,
                format!(
                    "type changed from {} to {} (now non-null: safe for clients)",
                    field.ty, next.ty
                ),
            ),
            Compat::Loosened => breaking(
                report,
                "OUTPUT_NULLABILITY_LOOSENED",
                &coordinate,
                format!(
                    "type changed from {} to {}: clients may now receive null",
                    field.ty, next.ty
                ),
            ),
            Compat::Incompatible => breaking(
                report,
                "FIELD_TYPE_CHANGED",
                &coordinate,
                format!("type changed from {} to {}", field.ty, next.ty),
            ),
        }
        if next.directives.get("deprecated").is_some()
            && field.directives.get("deprecated").is_none()
        {
            safe(
                report,
                "FIELD_DEPRECATED",
                &coordinate,
                format!("field {name} was deprecated"),
            );
        }
        for arg in &field.arguments {
            let arg_coordinate = format!("{coordinate}({}:)", arg.name);
            match next.arguments.iter().find(|a| a.name == arg.name) {
                None => breaking(
                    report,
                    "ARGUMENT_REMOVED",
                    &arg_coordinate,
                    format!("argument {} was removed", arg.name),
                ),
                Some(new_arg) => input_value(report, &arg_coordinate, arg, new_arg, "argument"),
            }
        }
        for arg in next
            .arguments
            .iter()
            .filter(|a| !field.arguments.iter().any(|o| o.name == a.name))
        {
            let arg_coordinate = format!("{coordinate}({}:)", arg.name);
            if is_required(arg) {
                breaking(
                    report,
                    "REQUIRED_ARGUMENT_ADDED",
                    &arg_coordinate,
                    format!("required argument {} was added", arg.name),
                );
            } else {
                safe(
                    report,
                    "OPTIONAL_ARGUMENT_ADDED",
                    &arg_coordinate,
                    format!("optional argument {} was added", arg.name),
                );
            }
        }
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        safe(
            report,
            "FIELD_ADDED",
            &format!("{type_name}.{name}"),
            format!("field {name} was added"),
        );
    }
}

/// Arguments and input fields: tightening nullability or changing a default breaks callers.
fn input_value(
    report: &mut Report,
    coordinate: &str,
    old: &Node<InputValueDefinition>,
    new: &Node<InputValueDefinition>,
    what: &str,
) {
    match output_type_change(&new.ty, &old.ty) {
        Compat::Same => {}
        // Reversed roles: an input that became nullable accepts everything it accepted before.
        Compat::Safe => safe(
            report,
            "INPUT_NULLABILITY_LOOSENED",
            coordinate,
            format!("{what} type changed from {} to {}", old.ty, new.ty),
        ),
        Compat::Loosened => breaking(
            report,
            "INPUT_NULLABILITY_TIGHTENED",
            coordinate,
            format!(
                "{what} type changed from {} to {}: callers sending null or omitting it break",
                old.ty, new.ty
            ),
        ),
        Compat::Incompatible => breaking(
            report,
            "INPUT_TYPE_CHANGED",
            coordinate,
            format!("{what} type changed from {} to {}", old.ty, new.ty),
        ),
    }
    let (a, b) = (
        old.default_value.as_ref().map(|v| v.to_string()),
        new.default_value.as_ref().map(|v| v.to_string()),
    );
    if a != b {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        breaking(
            report,
            "DEFAULT_VALUE_CHANGED",
            coordinate,
            format!("{what} default changed from {} to {}", show(&a), show(&b)),
        );
    }
}

fn is_required(def: &InputValueDefinition) -> bool {
    def.ty.is_non_null() && def.default_value.is_none()
}

enum Compat {
    Same,
    /// `new` is stricter (more non-null) than `old`.
    Safe,
    /// `new` is looser (more nullable) than `old`.
    Loosened,
    Incompatible,
}

/// How an output type changed from `old` to `new`.
fn output_type_change(old: &Type, new: &Type) -> Compat {
    if old == new {
        return Compat::Same;
    }
    match loosened(old, new) {
        Some(true) => Compat::Loosened,
        Some(false) => Compat::Safe,
        None => Compat::Incompatible,
    }
}

/// Same shape? Then whether any position became nullable.
fn loosened(old: &Type, new: &Type) -> Option<bool> {
    let here = old.is_non_null() && !new.is_non_null();
    match (old, new) {
        (Type::Named(a) | Type::NonNullNamed(a), Type::Named(b) | Type::NonNullNamed(b)) => {
            (a == b).then_some(here)
        }
        (Type::List(a) | Type::NonNullList(a), Type::List(b) | Type::NonNullList(b)) => {
            Some(here || loosened(a, b)?)
        }
        _ => None,
    }
}

fn breaking(report: &mut Report, code: &'static str, coordinate: &str, message: String) {
    report.breaking.push(Change {
        code,
        coordinate: coordinate.to_owned(),
        message,
    });
}

fn safe(report: &mut Report, code: &'static str, coordinate: &str, message: String) {
    report.safe.push(Change {
        code,
        coordinate: coordinate.to_owned(),
        message,
    });
}
