//! The `router` binary: `router plan` prints the plan; bad input fails with a message.

use std::process::Command;

fn router() -> Command {
    Command::new(env!("CARGO_BIN_EXE_router"))
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn plan_prints_the_query_plan() {
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            "{ me { name } }",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap(), @r#"
        QueryPlan {
          Fetch(service: "accounts") {
            query { me { name } }
          },
        }
    "#);
}

#[test]
fn plan_reads_the_query_from_a_file_and_honours_variables() {
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("q.graphql");
    std::fs::write(
        &query,
        "query($x: Boolean!) { me { name @include(if: $x) id } }",
    )
    .unwrap();
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            query.to_str().unwrap(),
            "--variables",
            r#"{"x": false}"#,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("query { me { id } }"));
}

#[test]
fn invalid_operation_fails_with_the_validation_error() {
    let output = router()
        .args([
            "plan",
            "--supergraph",
            &fixture("demo"),
            "--query",
            "{ nope }",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}
