//! Federation SDL beyond what async-graphql prints: `@authenticated` (federation 2.5), which
//! the router enforces before any subgraph is called, and demand control's `@listSize`
//! (federation 2.9), which the router reads to estimate what an operation costs.
//!
//! async-graphql links federation v2.5 with a fixed import list that has neither; the SDL is
//! re-linked with the ones it applies imported (at v2.9 for `@listSize`), both in the
//! checked-in schema ([`sdl`]) and in what a running subgraph answers to `{ _service { sdl } }`
//! ([`ServiceSdl`]), so routers that compose from running subgraphs see the same schema.
//!
//! Apply them as `#[graphql(directive = authenticated::apply())]` and
//! `#[graphql(directive = list_size::apply(assumed_size, slicing_arguments, sized_fields,
//! require_one_slicing_argument))]`; `@requiresScopes` is async-graphql's own
//! (`#[graphql(requires_scopes = "boards:write")]`).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest};
use async_graphql::{ObjectType, Response, Schema, SubscriptionType, TypeDirective, Value};

/// How long a list field's value is, for cost estimates (federation 2.9's `@listSize`, of the
/// IBM GraphQL cost spec).
#[TypeDirective(name = "listSize", location = "FieldDefinition")]
pub fn list_size(
    assumed_size: Option<i32>,
    slicing_arguments: Option<Vec<String>>,
    sized_fields: Option<Vec<String>>,
    #[graphql(default_with = "Some(true)")] require_one_slicing_argument: Option<bool>,
) {
}

/// The field needs a signed-in caller (a verified token); the router answers `null` with an
/// `UNAUTHORIZED_FIELD_OR_TYPE` error for anyone else, without calling the subgraph.
#[TypeDirective(name = "authenticated", location = "FieldDefinition")]
pub fn authenticated() {}

const LINKED: &str = "url: \"https://specs.apollo.dev/federation/v2.5\",";
const RELINKED: &str = "url: \"https://specs.apollo.dev/federation/v2.9\",";
const LAST_IMPORT: &str = "\"@requiresScopes\"";

/// Imports `@authenticated` and `@listSize` when the SDL applies them (linking federation
/// v2.9 for `@listSize`).
pub fn relink(sdl: &str) -> String {
    let applied = |name: &str| {
        sdl.contains(&format!("directive {name}")) && !sdl.contains(&format!("\"{name}\""))
    };
    let mut imports = String::from(LAST_IMPORT);
    let mut sdl_out = sdl.to_owned();
    if applied("@authenticated") {
        imports.push_str(", \"@authenticated\"");
    }
    if applied("@listSize") {
        imports.push_str(", \"@listSize\"");
        sdl_out = sdl_out.replacen(LINKED, RELINKED, 1);
    }
    sdl_out.replacen(&format!("{LAST_IMPORT}]"), &format!("{imports}]"), 1)
}

/// The federation SDL of `schema`, as checked in under `schema/` and composed.
pub fn sdl<Q, M, S>(schema: &Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    relink(&schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation()))
}

/// Answers `{ _service { sdl } }` with the SDL re-linked as [`sdl`] does.
pub struct ServiceSdl;

impl ExtensionFactory for ServiceSdl {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ServiceSdlExtension)
    }
}

struct ServiceSdlExtension;

#[async_trait::async_trait]
impl Extension for ServiceSdlExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        // One map lookup per request; only composition asks for `_service`.
        if let Value::Object(data) = &mut response.data {
            if let Some(Value::Object(service)) = data.get_mut("_service") {
                if let Some(Value::String(sdl)) = service.get_mut("sdl") {
                    *sdl = relink(sdl);
                }
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object};

    struct Query;

    #[Object]
    impl Query {
        #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), None, Some(false)))]
        async fn items(&self, #[graphql(default = 10)] first: i32) -> Vec<i32> {
            (0..first).collect()
        }

        #[graphql(directive = authenticated::apply())]
        async fn secret(&self) -> i32 {
            42
        }
    }

    const IMPORTS: &str = "\"@requiresScopes\", \"@authenticated\", \"@listSize\"]";

    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .extension(ServiceSdl)
            .finish()
    }

    #[test]
    fn authenticated_and_list_size_are_imported_at_federation_2_9() {
        let sdl = sdl(&schema());
        assert!(sdl.contains(
            "items(first: Int! = 10): [Int!]! @listSize(slicingArguments: [\"first\"], requireOneSlicingArgument: false)"
        ), "{sdl}");
        assert!(sdl.contains("directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"), "{sdl}");
        assert!(sdl.contains("secret: Int! @authenticated"), "{sdl}");
        assert!(
            sdl.contains("directive @authenticated on FIELD_DEFINITION"),
            "{sdl}"
        );
        assert!(sdl.contains(RELINKED) && sdl.contains(IMPORTS), "{sdl}");
        assert!(!sdl.contains(LINKED));
        assert_eq!(relink(&sdl), sdl, "relinking twice changes nothing");
    }

    #[test]
    fn sdl_applying_neither_is_left_alone() {
        let sdl = "extend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n\timport: [\"@key\", \"@requiresScopes\"]\n)\n";
        assert_eq!(relink(sdl), sdl);
    }

    #[tokio::test]
    async fn running_subgraphs_serve_the_same_link() {
        let response = schema().execute("{ _service { sdl } }").await;
        let data = response.data.into_json().expect("json");
        let served = data["_service"]["sdl"].as_str().expect("sdl");
        assert!(
            served.contains(RELINKED) && served.contains(IMPORTS),
            "{served}"
        );
    }
}
