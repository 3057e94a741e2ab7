//! Golden file: the federation SDL this subgraph serves is checked in as `schema/boards.graphql`.
//! When it changes, the test rewrites the file and fails, so the change shows in review.

use kit::config::ServiceConfig;

#[tokio::test]
async fn federation_sdl_matches_the_checked_in_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServiceConfig {
        data_dir: dir.path().to_owned(),
        ..ServiceConfig::default()
    };
    let signer = auth::TokenSigner::ephemeral("iss", "aud");
    let verifier = auth::TokenVerifier::from_jwks(&signer.jwks(), "iss", "aud");
    let boards = boards::Boards::start(&config, verifier)
        .await
        .expect("start boards");
    let sdl = boards::federation_sdl(&boards.schema);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/boards.graphql");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != sdl {
        std::fs::write(&path, &sdl).expect("write golden file");
        panic!("schema/boards.graphql was stale and has been rewritten; review and commit it");
    }
}
