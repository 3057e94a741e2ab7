# One image with every binary of the workspace; docker-compose picks the command per service.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --create-home platform
COPY --from=build /src/target/release/platform /src/target/release/router \
    /src/target/release/accounts /src/target/release/boards /src/target/release/chat \
    /src/target/release/notifications /usr/local/bin/
USER platform
WORKDIR /home/platform
