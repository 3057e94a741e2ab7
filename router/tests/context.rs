//! @context/@fromContext (join v0.5): parsed, not planned yet; the router says so.

mod common;
use common::{plan, supergraph};

#[test]
fn join_v05_supergraph_parses_and_hides_context_machinery() {
    let sg = supergraph("context");
    let sdl = sg.api_schema.to_string();
    assert!(!sdl.contains("join__"), "{sdl}");
    assert!(sdl.contains("title: String"), "{sdl}");
}

#[test]
fn fields_without_context_arguments_are_planned() {
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
fn fields_with_context_arguments_are_refused_clearly() {
    insta::assert_snapshot!(plan("context", "{ me { posts { title } } }"), @r#"error[UNSUPPORTED_OPERATION]: unsupported: Post.title takes @fromContext arguments, which this router does not plan yet"#);
}
