//! `router compose` and `router check` as CI runs them: output, JSON and exit statuses.

use std::process::Command;

fn router() -> Command {
    Command::new(env!("CARGO_BIN_EXE_router"))
}

fn schema(name: &str) -> String {
    format!("{}/../schema/{name}.graphql", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compose_writes_a_supergraph_and_fails_with_coded_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("supergraph.graphql");
    let status = router()
        .args([
            "compose",
            &format!(
                "accounts={}@http://127.0.0.1:4001/graphql",
                schema("accounts")
            ),
            "-o",
        ])
        .arg(&out)
        .status()
        .expect("run");
    assert!(status.success());
    let sdl = std::fs::read_to_string(&out).expect("written");
    assert!(
        sdl.contains(
            "ACCOUNTS @join__graph(name: \"accounts\", url: \"http://127.0.0.1:4001/graphql\")"
        ),
        "{sdl}"
    );

    let bad = dir.path().join("bad.graphql");
    std::fs::write(&bad, "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\ntype Query { me: User } type User @key(fields: \"id\") { id: ID! name: String! }").expect("write");
    let output = router()
        .args([
            "compose",
            &format!("accounts={}@http://a/graphql", schema("accounts")),
            &format!("other={}@http://b/graphql", bad.display()),
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INVALID_FIELD_SHARING") && stderr.contains("User.name"),
        "{stderr}"
    );

    let missing_url = router()
        .args(["compose", &format!("accounts={}", schema("accounts"))])
        .output()
        .expect("run");
    assert_eq!(missing_url.status.code(), Some(2));
}

#[test]
fn check_exits_non_zero_only_for_breaking_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let supergraph = schema("supergraph");
    let accounts = std::fs::read_to_string(schema("accounts")).expect("read");
    let safe = dir.path().join("safe.graphql");
    std::fs::write(
        &safe,
        accounts.replace(
            "\tavatarUrl: String\n",
            "\tavatarUrl: String\n\tpronouns: String\n",
        ),
    )
    .expect("write");
    let output = router()
        .args(["check", "--supergraph", &supergraph])
        .arg(format!("accounts={}", safe.display()))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("FIELD_ADDED User.pronouns") && stdout.contains("0 breaking"),
        "{stdout}"
    );

    let breaking = dir.path().join("breaking.graphql");
    std::fs::write(&breaking, accounts.replace("\tavatarUrl: String\n", "")).expect("write");
    let output = router()
        .args(["check", "--format", "json", "--supergraph", &supergraph])
        .arg(format!("accounts={}", breaking.display()))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let breaking = report["breaking"].as_array().expect("list");
    assert!(
        breaking
            .iter()
            .any(|c| c["code"] == "FIELD_REMOVED" && c["coordinate"] == "User.avatarUrl"),
        "{report}"
    );
}

#[test]
fn check_against_the_subgraphs_of_a_router_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("router.toml");
    let mut toml = String::new();
    for name in ["accounts", "boards", "chat", "notifications"] {
        toml.push_str(&format!("[[subgraphs]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:1/{name}\"\nsdl_file = {:?}\n", schema(name)));
    }
    std::fs::write(&config, toml).expect("write");
    let accounts = std::fs::read_to_string(schema("accounts")).expect("read");
    let proposed = dir.path().join("accounts.graphql");
    std::fs::write(&proposed, accounts.replace("\tavatarUrl: String\n", "")).expect("write");
    let output = router()
        .args(["check", "--config"])
        .arg(&config)
        .arg(format!("accounts={}", proposed.display()))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FIELD_REMOVED User.avatarUrl"), "{stdout}");
}
