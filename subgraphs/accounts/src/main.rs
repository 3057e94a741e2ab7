//! The accounts subgraph as its own process (for replicas behind NGINX).

const BINARY: kit::cli::Binary = kit::cli::Binary {
    name: "accounts",
    env_prefix: "ACCOUNTS_",
    default_port: 4001,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    BINARY
        .run(|config, listener, shutdown| async move {
            accounts::serve(&config, listener, shutdown).await
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
