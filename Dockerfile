# syntax=docker/dockerfile:1
# One image with every binary of the workspace (router, accounts, boards, chat, notifications,
# and the one-process `platform` launcher); each compose service / Kubernetes Deployment picks
# its command. One image because the binaries share almost every dependency: one build, one
# cached dependency layer, one thing to scan and pin, and a replica of any service is the same
# artifact. The `edge` target is NGINX with the shipped template and the live UI (web/dist).
#
#   docker build -t platform .                  # the services (default, last stage)
#   docker build -t platform-edge --target edge .

# --- dependencies, cached: cargo-chef's recipe changes only when Cargo.toml/Cargo.lock do -----
FROM rust:1-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Compiles only the dependencies: this layer is reused until the recipe changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bins

# --- NGINX: the public entry, balancer of router and subgraph replicas, live UI ---------------
FROM nginx:1.27-bookworm AS edge
COPY nginx/nginx.conf.template nginx/render.sh /etc/nginx/platform/
COPY web/dist /usr/share/nginx/platform-web
# The stock entrypoint's envsubst step is skipped (it would rewrite every ${...}); render.sh
# fills only the template's placeholders, then NGINX runs in the foreground.
ENV WORKER_USER=nginx RUN_DIR=/var/cache/nginx ERROR_LOG=/dev/stderr ACCESS_LOG=/dev/stdout \
    WEB_ROOT=/usr/share/nginx/platform-web PUBLIC_LISTEN=8080 SUBGRAPH_LISTEN=4100
EXPOSE 8080
ENTRYPOINT []
CMD ["sh", "-c", "/etc/nginx/platform/render.sh /etc/nginx/platform/nginx.conf.template > /etc/nginx/nginx.conf && exec nginx -g 'daemon off;'"]

# --- the services: small Debian runtime, non-root -----------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates for TLS to MongoDB/Redis/JWKS; curl for container health checks.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/platform platform \
    && install -d -o platform -g platform /home/platform/data /home/platform/data/keys
COPY --from=build /src/target/release/platform /src/target/release/router \
    /src/target/release/accounts /src/target/release/boards /src/target/release/chat \
    /src/target/release/notifications /usr/local/bin/
USER 10001:10001
# A named volume mounted at /home/platform/data(/keys) starts with this ownership, so the
# non-root user can write the embedded store and the generated signing key.
WORKDIR /home/platform
