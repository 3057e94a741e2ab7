//! The `router` binary (see [`router::cli`]).

// The executor allocates many small, short-lived buffers per request; mimalloc's
// thread-local free lists serve those far faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    router::cli::run().await
}
