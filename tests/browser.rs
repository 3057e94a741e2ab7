//! The live UI and the playground, served by the platform, in a real browser: Debian's
//! Chromium driven by `playwright-core` (`web/e2e/run.mjs`: Ada and Bob in two browser
//! contexts, boards, tasks moved by mouse and keyboard, chat, the bell, the playground's query
//! and subscription, axe-core on every page, screenshots at desktop and phone widths).

use std::path::Path;

mod common;

use common::{ensure_node_modules, Stack};

/// One Chromium at a time: two on two cores make each other's timeouts.
static CHROMIUM_IN_USE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `web/e2e/run.mjs` against `stack` (with `SAFELIST=1` when `safelist`); screenshots go
/// to `target/screenshots`.
async fn run_e2e(stack: &Stack, safelist: bool) -> std::path::PathBuf {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install -y chromium (scripts/test.sh does it as root)"
    );
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    ensure_node_modules(&web, "playwright-core");
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let _chromium = CHROMIUM_IN_USE.lock().await;
    let output = tokio::process::Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(&web)
        .env("PLATFORM_URL", &stack.platform.urls.router)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", &chromium)
        .env("SAFELIST", if safelist { "1" } else { "" })
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed ({}); screenshots in {}\n{stdout}\n{stderr}",
        output.status,
        screenshots.display()
    );
    screenshots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_work_together_live_in_chromium() {
    let stack = Stack::start().await;
    let screenshots = run_e2e(&stack, false).await;
    for page in ["board-desktop.png", "playground-phone.png"] {
        assert!(screenshots.join(page).exists(), "{page} was saved");
    }
}

/// The live UI sends only persisted ids, so it works unchanged when the router runs nothing
/// but the UI's own manifest (`run.mjs` also checks that other documents are refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_ui_works_against_a_safelisting_router() {
    let stack = Stack::start_with(|config| config.safelist = true).await;
    run_e2e(&stack, true).await;
}

#[tokio::test]
async fn the_router_serves_the_live_ui_and_the_playground_to_browsers() {
    let stack = Stack::start().await;
    let http = reqwest::Client::new();
    let base = &stack.platform.urls.router;
    let get = |path: &str, accept: &str| {
        http.get(format!("{base}{path}"))
            .header("accept", accept)
            .send()
    };
    let html = "text/html,application/xhtml+xml,*/*;q=0.8";

    let ui = get("/", html).await.expect("GET /");
    assert_eq!(ui.status(), 200);
    assert_eq!(ui.headers()["content-type"], "text/html; charset=utf-8");
    let ui = ui.text().await.expect("body");
    let script = ui
        .split('"')
        .find(|p| p.starts_with("/assets/") && p.ends_with(".js"))
        .expect("index.html loads a script");
    let asset = get(script, "*/*").await.expect("asset");
    assert_eq!(asset.status(), 200);
    assert!(asset.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let manifest = get("/persisted-documents.json", "*/*")
        .await
        .expect("manifest");
    let manifest: serde_json::Value = manifest.json().await.expect("JSON");
    assert!(manifest.as_object().is_some_and(|m| !m.is_empty()));

    let playground = get("/graphql", html).await.expect("GET /graphql");
    assert_eq!(playground.status(), 200);
    assert!(playground
        .text()
        .await
        .unwrap()
        .contains("/playground/assets/"));
    // GraphQL clients still get GraphQL over HTTP at the same URL.
    let graphql = get("/graphql?query=%7B__typename%7D", "application/json")
        .await
        .expect("GET query");
    let status = graphql.status();
    let body: serde_json::Value = graphql.json().await.expect("JSON");
    assert_eq!(
        status, 400,
        "a bare GET is refused by CSRF prevention: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "CSRF_ERROR");
    assert_eq!(get("/assets/nope.js", "*/*").await.unwrap().status(), 404);
}
