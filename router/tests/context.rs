//! @context/@fromContext (join v0.5): the context's fields are fetched with the ancestor that
//! sets it, and the field is fetched through its entity key with each argument bound to a
//! `$contextualArgument_<n>_<i>` variable the executor fills per entity.

mod common;
use common::subgraphs::{context_accounts, context_posts};
use common::{fixture, plan, post, router_app, with_urls};
use serde_json::json;
use std::time::Duration;

#[test]
fn apollo_supergraph_parses_and_hides_context_machinery() {
    let sg = common::supergraph("context");
    let sdl = sg.api_schema.to_string();
    assert!(!sdl.contains("join__"), "{sdl}");
    assert!(!sdl.contains("@context"), "{sdl}");
    // The @fromContext argument is not part of the API: the router fills it.
    assert!(sdl.contains("  title: String\n"), "{sdl}");
    assert_eq!(sg.types["User"].contexts, ["posts__owner"]);
}

#[test]
fn fields_without_context_arguments_are_planned_as_usual() {
    insta::assert_snapshot!(plan("context", "{ me { locale posts { likes } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              query { me { locale __typename id } }
            },
            Flatten(path: "me") {
              Fetch(service: "posts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { posts { likes } } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn context_value_comes_from_the_ancestor_in_another_subgraph() {
    insta::assert_snapshot!(plan("context", "{ me { posts { title } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              query { me { __typename id locale } }
            },
            Flatten(path: "me") {
              Fetch(service: "posts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { posts { __typename id } } } }
              },
            },
            Flatten(path: "me.posts.@") {
              Fetch(service: "posts") {
                { ... on Post { __typename id } } =>
                $contextualArgument_1_0 = "me" { __typename ... on User { locale } ... on Team { language } }
                query($representations: [_Any!]!, $contextualArgument_1_0: String) { _entities(representations: $representations) { ... on Post { title(locale: $contextualArgument_1_0) } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn type_conditions_pick_the_field_of_each_context_type() {
    insta::assert_snapshot!(plan("context", "{ teams { posts { title } } users { name posts { id title } } }"), @r#"
        QueryPlan {
          Parallel {
            Sequence {
              Fetch(service: "posts") {
                query { teams { posts { __typename id } __typename language } }
              },
              Flatten(path: "teams.@.posts.@") {
                Fetch(service: "posts") {
                  { ... on Post { __typename id } } =>
                  $contextualArgument_1_0 = "teams.@" { __typename ... on User { locale } ... on Team { language } }
                  query($representations: [_Any!]!, $contextualArgument_1_0: String) { _entities(representations: $representations) { ... on Post { title(locale: $contextualArgument_1_0) } } }
                },
              },
            },
            Sequence {
              Fetch(service: "accounts") {
                query { users { name __typename id locale } }
              },
              Flatten(path: "users.@") {
                Fetch(service: "posts") {
                  { ... on User { __typename id } } =>
                  query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { posts { id __typename } } } }
                },
              },
              Flatten(path: "users.@.posts.@") {
                Fetch(service: "posts") {
                  { ... on Post { __typename id } } =>
                  $contextualArgument_2_0 = "users.@" { __typename ... on User { locale } ... on Team { language } }
                  query($representations: [_Any!]!, $contextualArgument_2_0: String) { _entities(representations: $representations) { ... on Post { title(locale: $contextualArgument_2_0) } } }
                },
              },
            },
          },
        }
    "#);
}

#[test]
fn a_client_alias_does_not_collide_with_the_context_field() {
    insta::assert_snapshot!(plan("context", "{ me { locale: name posts { title } } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              query { me { locale: name __typename id locale__internal: locale } }
            },
            Flatten(path: "me") {
              Fetch(service: "posts") {
                { ... on User { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { posts { __typename id } } } }
              },
            },
            Flatten(path: "me.posts.@") {
              Fetch(service: "posts") {
                { ... on Post { __typename id } } =>
                $contextualArgument_1_0 = "me" { __typename ... on User { locale__internal: locale } ... on Team { language } }
                query($representations: [_Any!]!, $contextualArgument_1_0: String) { _entities(representations: $representations) { ... on Post { title(locale: $contextualArgument_1_0) } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn join_directive_form_of_context_plans_the_same() {
    let apollo = fixture("context");
    let legacy = apollo.replace(
        "@context(name: \"posts__owner\")",
        "@join__directive(graphs: [POSTS], name: \"context\", args: {name: \"posts__owner\"})",
    );
    assert_ne!(apollo, legacy);
    let query = "{ me { posts { title } } }";
    let plan_of = |sdl: &str| {
        let sg = router::supergraph::Supergraph::parse(sdl).unwrap();
        router::pipeline::plan_only(&sg, query, None, Default::default(), &[])
            .unwrap()
            .to_string()
    };
    assert_eq!(plan_of(&legacy), plan_of(&apollo));
}

#[test]
fn a_field_reached_without_its_context_is_refused_clearly() {
    // Apollo's composition rejects such supergraphs; a hand-edited one is refused at plan time.
    let sdl = fixture("context").replacen(
        "@join__type(graph: POSTS, key: \"id\")\n  @context(name: \"posts__owner\")\n{\n  id: ID!\n  name",
        "@join__type(graph: POSTS, key: \"id\")\n{\n  id: ID!\n  name",
        1,
    );
    let sg = router::supergraph::Supergraph::parse(&sdl).unwrap();
    let error = router::pipeline::plan_only(
        &sg,
        "{ me { posts { title } } }",
        None,
        Default::default(),
        &[],
    )
    .unwrap_err();
    insta::assert_snapshot!(format!("{}: {error}", error.code()), @r#"UNSUPPORTED_OPERATION: unsupported: Post.title reads context `posts__owner` (@fromContext), but no enclosing field of the operation returns a type that sets it"#);
}

struct Running {
    accounts: common::subgraphs::TestSubgraph,
    posts: common::subgraphs::TestSubgraph,
    app: axum::Router,
}

async fn start() -> Running {
    let accounts = context_accounts().await;
    let posts = context_posts().await;
    let sdl = with_urls(
        &fixture("context"),
        &[("accounts", &accounts.url), ("posts", &posts.url)],
    );
    let app = router_app(&sdl, Duration::from_secs(5));
    Running {
        accounts,
        posts,
        app,
    }
}

#[tokio::test]
async fn each_entity_receives_its_own_ancestors_context_in_one_request() {
    let run = start().await;
    let (status, _, body) = post(
        &run.app,
        json!({ "query": "{ users { name posts { id title } } }" }),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    // p1 is under both users: one entity, two contexts, two different titles.
    assert_eq!(
        body,
        json!({ "data": { "users": [
            { "name": "Ada", "posts": [
                { "id": "p1", "title": "Hello p1" }, { "id": "p2", "title": "Hello p2" } ] },
            { "name": "Alan", "posts": [
                { "id": "p1", "title": "Bonjour p1" }, { "id": "p3", "title": "Bonjour p3" } ] } ] } })
    );
    assert_eq!(run.accounts.count(), 1);
    // One request for the users' posts, one for every title, whatever the contexts.
    let requests = run.posts.requests();
    assert_eq!(requests.len(), 2);
    let titles = &requests[1].body;
    let query = titles["query"].as_str().unwrap();
    assert!(
        query.contains("_0: _entities(representations: $representations_0)"),
        "{query}"
    );
    assert!(
        query.contains("title(locale: $contextualArgument_1_0_1)"),
        "{query}"
    );
    let variables = &titles["variables"];
    assert_eq!(variables["contextualArgument_1_0_0"], "en");
    assert_eq!(variables["contextualArgument_1_0_1"], "fr");
    assert_eq!(
        variables["representations_0"],
        json!([{ "__typename": "Post", "id": "p1" }, { "__typename": "Post", "id": "p2" }])
    );
    assert_eq!(
        variables["representations_1"],
        json!([{ "__typename": "Post", "id": "p1" }, { "__typename": "Post", "id": "p3" }])
    );
}

#[tokio::test]
async fn one_context_value_sends_the_planned_operation_despite_a_client_alias() {
    let run = start().await;
    let (_, _, body) = post(
        &run.app,
        json!({ "query": "{ me { locale: name posts { title } } }" }),
        &[],
    )
    .await;
    // The client's `locale` alias and the context's `locale` field do not mix.
    assert_eq!(
        body,
        json!({ "data": { "me": { "locale": "Ada",
            "posts": [ { "title": "Hello p1" }, { "title": "Hello p2" } ] } } })
    );
    let requests = run.posts.requests();
    let titles = &requests.last().unwrap().body;
    assert!(titles["query"]
        .as_str()
        .unwrap()
        .contains("_entities(representations: $representations) { ... on Post { title(locale: $contextualArgument_1_0) } }"));
    assert_eq!(titles["variables"]["contextualArgument_1_0"], "en");
}

#[tokio::test]
async fn type_conditions_read_the_teams_field_and_a_missing_value_is_null() {
    let run = start().await;
    let (_, _, body) = post(
        &run.app,
        json!({ "query": "{ teams { id posts { title } } }" }),
        &[],
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "teams": [
            { "id": "t1", "posts": [ { "title": "Hallo p2" } ] },
            { "id": "t2", "posts": [ { "title": "(no locale) p3" } ] } ] } })
    );
    assert_eq!(run.accounts.count(), 0);
    let requests = run.posts.requests();
    assert_eq!(requests.len(), 2);
    let variables = &requests[1].body["variables"];
    assert_eq!(variables["contextualArgument_1_0_0"], "de");
    assert_eq!(
        variables["contextualArgument_1_0_1"],
        serde_json::Value::Null
    );
}
