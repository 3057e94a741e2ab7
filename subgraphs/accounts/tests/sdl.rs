//! Golden file: the federation SDL this subgraph serves is checked in as `schema/accounts.graphql`.
//! When it changes, the test rewrites the file and fails, so the change shows in review.

use std::sync::Arc;

#[tokio::test]
async fn federation_sdl_matches_the_checked_in_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = kit::store::Store::new(
        Arc::new(kit::store::EmbeddedStore::open(&dir.path().join("a.db")).expect("open")),
        kit::metrics::Metrics::new("accounts"),
    );
    let signer = Arc::new(auth::TokenSigner::ephemeral("iss", "aud"));
    let events = Arc::new(
        kit::events::EmbeddedEventStream::open(
            &dir.path().join("events.db"),
            kit::metrics::Metrics::new("accounts"),
        )
        .expect("events"),
    );
    let service = accounts::AccountsService::new(
        &store,
        events,
        signer,
        chrono::Duration::minutes(15),
        chrono::Duration::days(30),
    )
    .await
    .expect("service");
    let sdl = accounts::federation_sdl(&accounts::build_schema(Arc::new(service)));
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/accounts.graphql");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != sdl {
        std::fs::write(&path, &sdl).expect("write golden file");
        panic!("schema/accounts.graphql was stale and has been rewritten; review and commit it");
    }
}
