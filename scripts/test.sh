#!/usr/bin/env bash
# The project's test command (README "Quick start"). Installs the services the tests start
# (redis-server, nginx, chromium) when missing and running as root, then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
apt_updated=""
install() {
    if [ "$(id -u)" != 0 ]; then
        echo "missing $1: install it with apt-get install -y $2" >&2
        return 1
    fi
    [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need redis-server || install redis-server redis-server || [ "${CI:-}" != true ]
# The deployment topology runs behind real NGINX (tests/topology.rs).
need nginx || install nginx nginx || [ "${CI:-}" != true ]
# The live UI and the playground are tested in Debian's Chromium (tests/browser.rs).
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || install chromium chromium || [ "${CI:-}" != true ]

# CI builds once from scratch: incremental artifacts would only cost disk and time.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi

# The client-compatibility test runs real Apollo Client and urql (pinned by package-lock.json).
(cd clients/compat && npm ci --no-audit --no-fund --loglevel=error)
# The differential suite runs Apollo Gateway and Apollo's composition (pinned the same way).
(cd router/tests/differential && npm ci --no-audit --no-fund --loglevel=error)
# The live UI (web/) and the playground: their committed bundles, which the binaries compile
# in, must be what their sources build to; web/ also holds the browser tests.
(cd web && npm ci --no-audit --no-fund --loglevel=error)
(cd playground && npm ci --no-audit --no-fund --loglevel=error)
(cd web && npm run --silent check-bundles)
# The Kubernetes manifests against the Kubernetes schemas (shipped offline by the package).
python3 -m pip install -q --disable-pip-version-check kubernetes-validate==1.37.0 pyyaml
python3 deploy/k8s/validate.py

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# MongoDB cases (the storage contract, and each subgraph's MongoDB tests) run only against a real
# server (see shared/SERVICES.md); without one they are listed above as ignored, with the reason.
if [ -n "${MONGODB_URL:-}" ]; then
    cargo test --workspace --locked -- --ignored
fi
