//! The boards subgraph as its own process (for replicas behind NGINX).

const BINARY: kit::cli::Binary = kit::cli::Binary {
    name: "boards",
    env_prefix: "BOARDS_",
    default_port: 4002,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    BINARY
        .run(|config, listener, shutdown| async move {
            boards::serve(&config, listener, shutdown).await
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
