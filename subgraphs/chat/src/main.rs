//! The chat subgraph as its own process (for replicas behind NGINX).

const BINARY: kit::cli::Binary = kit::cli::Binary {
    name: "chat",
    env_prefix: "CHAT_",
    default_port: 4003,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    BINARY
        .run(|config, listener, shutdown| async move {
            chat::serve(&config, listener, shutdown).await
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
