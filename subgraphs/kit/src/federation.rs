//! Federation SDL beyond what async-graphql prints: demand control's `@listSize` (federation
//! 2.9), which the router reads to estimate what an operation costs before running it.
//!
//! async-graphql links federation v2.5 with a fixed import list, which has no `@listSize`; the
//! SDL is re-linked at v2.9 with it imported, both in the checked-in schema ([`sdl`]) and in
//! what a running subgraph answers to `{ _service { sdl } }` ([`ServiceSdl`]), so routers that
//! compose from running subgraphs see the same schema.
//!
//! Apply it as `#[graphql(directive = list_size::apply(assumed_size, slicing_arguments,
//! sized_fields, require_one_slicing_argument))]` (the directive's doc comment is its SDL
//! description).

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

const LINKED: &str = "url: \"https://specs.apollo.dev/federation/v2.5\",";
const RELINKED: &str = "url: \"https://specs.apollo.dev/federation/v2.9\",";
const LAST_IMPORT: &str = "\"@requiresScopes\"]";
const WITH_LIST_SIZE: &str = "\"@requiresScopes\", \"@listSize\"]";

/// Links federation v2.9 and imports `@listSize` when the SDL applies it.
pub fn link_list_size(sdl: &str) -> String {
    if !sdl.contains("@listSize(") {
        return sdl.to_owned();
    }
    sdl.replacen(LINKED, RELINKED, 1)
        .replacen(LAST_IMPORT, WITH_LIST_SIZE, 1)
}

/// The federation SDL of `schema`, as checked in under `schema/` and composed.
pub fn sdl<Q, M, S>(schema: &Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    link_list_size(&schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation()))
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
                    *sdl = link_list_size(sdl);
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
    }

    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .extension(ServiceSdl)
            .finish()
    }

    #[test]
    fn list_size_is_linked_from_federation_2_9() {
        let sdl = sdl(&schema());
        assert!(sdl.contains(
            "items(first: Int! = 10): [Int!]! @listSize(slicingArguments: [\"first\"], requireOneSlicingArgument: false)"
        ), "{sdl}");
        assert!(sdl.contains("directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"), "{sdl}");
        assert!(
            sdl.contains(RELINKED) && sdl.contains(WITH_LIST_SIZE),
            "{sdl}"
        );
        assert!(!sdl.contains(LINKED));
    }

    #[test]
    fn sdl_without_list_size_is_left_alone() {
        let sdl = "extend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n";
        assert_eq!(link_list_size(sdl), sdl);
    }

    #[tokio::test]
    async fn running_subgraphs_serve_the_same_link() {
        let response = schema().execute("{ _service { sdl } }").await;
        let data = response.data.into_json().expect("json");
        let served = data["_service"]["sdl"].as_str().expect("sdl");
        assert!(
            served.contains(RELINKED) && served.contains(WITH_LIST_SIZE),
            "{served}"
        );
    }
}
