//! The notifications subgraph as its own process (for replicas behind NGINX).

const BINARY: kit::cli::Binary = kit::cli::Binary {
    name: "notifications",
    env_prefix: "NOTIFICATIONS_",
    default_port: 4004,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    BINARY
        .run(|config, listener, shutdown| async move {
            notifications::serve(&config, listener, shutdown).await
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
