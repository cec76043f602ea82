#!/usr/bin/env bash
# Local development: emulators up, then the dev gateway (serves the API on
# http://127.0.0.1:3000 and writes .local/dev.env). Ctrl-C stops the gateway
# and the emulators. Extra arguments go to the gateway.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Unoptimised builds keep whole request futures (a merge runs the API, the
# store and the SDK in one) on the thread stack: give threads 8 MiB, not 2.
export RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}"
if [ "$#" -gt 0 ]; then
  exec bash "$ROOT/infra/with-emulators.sh" cargo run -p devtools --bin dev-gateway -- "$@"
fi
exec bash "$ROOT/infra/with-emulators.sh" cargo run -p devtools --bin dev-gateway
