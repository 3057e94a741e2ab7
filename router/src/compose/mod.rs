//! Composition: subgraph SDLs in, a standard supergraph (`@link`/`join__*`) out — the same
//! format Apollo's composition produces, so our supergraph runs on other routers and theirs on
//! ours. Pure: no IO here except [`fetch_sdl`], which asks a running subgraph for its SDL.

mod extract;
mod features;
mod fieldset;
mod merge;
mod print;
mod rules;
mod satisfy;
mod subgraph;

use std::fmt;

pub use extract::extract;

use merge::{Merged, MergedField};
use subgraph::Kind;

/// One subgraph to compose.
#[derive(Clone, Debug)]
pub struct SubgraphInput {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

/// A broken composition rule. The message names the subgraph(s) and the type/field coordinate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompositionError {
    pub code: ErrorCode,
    pub message: String,
}

impl CompositionError {
    pub fn new(code: ErrorCode, message: String) -> Self {
        Self { code, message }
    }
}

impl fmt::Display for CompositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for CompositionError {}

macro_rules! codes {
    ($($variant:ident => $code:literal),* $(,)?) => {
        /// Stable error codes (the names Apollo's composition uses for the same rules).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),* }
        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }
        }
    };
}

codes! {
    InvalidGraphQL => "INVALID_GRAPHQL",
    InvalidSubgraphName => "INVALID_SUBGRAPH_NAME",
    TypeKindMismatch => "TYPE_KIND_MISMATCH",
    FieldTypeMismatch => "FIELD_TYPE_MISMATCH",
    FieldArgumentTypeMismatch => "FIELD_ARGUMENT_TYPE_MISMATCH",
    FieldArgumentDefaultMismatch => "FIELD_ARGUMENT_DEFAULT_MISMATCH",
    RequiredArgumentMissingInSomeSubgraph => "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
    InvalidFieldSharing => "INVALID_FIELD_SHARING",
    KeyInvalidFields => "KEY_INVALID_FIELDS",
    KeyFieldsHasArgs => "KEY_FIELDS_HAS_ARGS",
    ExternalUnused => "EXTERNAL_UNUSED",
    ExternalMissingOnBase => "EXTERNAL_MISSING_ON_BASE",
    RequiresInvalidFields => "REQUIRES_INVALID_FIELDS",
    RequiresFieldsMissingExternal => "REQUIRES_FIELDS_MISSING_EXTERNAL",
    ProvidesInvalidFields => "PROVIDES_INVALID_FIELDS",
    ProvidesFieldsMissingExternal => "PROVIDES_FIELDS_MISSING_EXTERNAL",
    ProvidesOnNonObjectField => "PROVIDES_ON_NON_OBJECT_FIELD",
    OverrideFromSelfError => "OVERRIDE_FROM_SELF_ERROR",
    OverrideSourceHasOverride => "OVERRIDE_SOURCE_HAS_OVERRIDE",
    EnumValueMismatch => "ENUM_VALUE_MISMATCH",
    EmptyMergedEnumType => "EMPTY_MERGED_ENUM_TYPE",
    EmptyMergedInputType => "EMPTY_MERGED_INPUT_TYPE",
    RequiredInputFieldMissingInSomeSubgraph => "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
    InputFieldDefaultMismatch => "INPUT_FIELD_DEFAULT_MISMATCH",
    RequiredInaccessible => "REQUIRED_INACCESSIBLE",
    ReferencedInaccessible => "REFERENCED_INACCESSIBLE",
    OnlyInaccessibleChildren => "ONLY_INACCESSIBLE_CHILDREN",
    NoQueries => "NO_QUERIES",
    SatisfiabilityError => "SATISFIABILITY_ERROR",
}

/// [`compose`] with its errors as text, one `[CODE] message` per line.
pub fn compose_text(inputs: &[SubgraphInput]) -> Result<String, String> {
    compose(inputs).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Composes subgraphs into a supergraph SDL, or every rule the subgraphs break.
pub fn compose(inputs: &[SubgraphInput]) -> Result<String, Vec<CompositionError>> {
    let mut errors = Vec::new();
    let mut subgraphs = Vec::new();
    for input in inputs {
        if input.name.is_empty() || inputs.iter().filter(|i| i.name == input.name).count() > 1 {
            errors.push(CompositionError::new(
                ErrorCode::InvalidSubgraphName,
                format!("subgraph name \"{}\" is empty or used twice", input.name),
            ));
            continue;
        }
        match subgraph::parse(&input.name, &input.url, &input.sdl) {
            Ok(subgraph) => subgraphs.push(subgraph),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut merged = merge::merge(&subgraphs, &mut errors);
    rules::check(&mut merged, &subgraphs, &mut errors);
    add_interface_object_fields(&mut merged);
    if !merged
        .types
        .get("Query")
        .is_some_and(|q| q.fields.values().any(|f| !f.common.inaccessible))
    {
        errors.push(CompositionError::new(
            ErrorCode::NoQueries,
            "no subgraph defines a (visible) query field".into(),
        ));
    }
    if errors.is_empty() {
        satisfy::check(&merged, &subgraphs, &mut errors);
    }
    if errors.is_empty() {
        Ok(print::print(&merged, &subgraphs))
    } else {
        Err(errors)
    }
}

/// Fields an `@interfaceObject` contributes to an interface are fields of every implementation
/// too; they carry a bare `@join__field` (no subgraph resolves them on the implementation).
fn add_interface_object_fields(merged: &mut Merged) {
    let additions: Vec<(String, MergedField)> = merged
        .types
        .values()
        .filter(|t| t.kind == Kind::Interface && t.sources.iter().any(|s| s.interface_object))
        .flat_map(|interface| {
            let implementations: Vec<String> = merged
                .types
                .values()
                .filter(|t| t.implements.contains_key(&interface.name))
                .map(|t| t.name.clone())
                .collect();
            interface.fields.values().flat_map(move |field| {
                implementations
                    .clone()
                    .into_iter()
                    .map(move |ty| (ty, field.clone()))
            })
        })
        .collect();
    for (type_name, field) in additions {
        let Some(ty) = merged.types.get_mut(&type_name) else {
            continue;
        };
        ty.fields
            .entry(field.name.clone())
            .or_insert_with(|| MergedField {
                sources: Vec::new(),
                from_interface_object: true,
                ..field
            });
    }
}

/// Asks a running subgraph for its SDL (`{ _service { sdl } }`).
pub async fn fetch_sdl(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let response: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({ "query": "{ _service { sdl } }" }))
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: response is not JSON: {e}"))?;
    response["data"]["_service"]["sdl"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{url}: no _service.sdl in the response: {response}"))
}
