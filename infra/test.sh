#!/usr/bin/env bash
# Runs the whole workspace's tests against real local emulators
# (DynamoDB Local + moto_server), started for this run and stopped after it.
# Extra arguments go to cargo test, e.g. infra/test.sh -p storage -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Unoptimised builds keep whole request futures (a merge runs the API, the
# store and the SDK in one) on the thread stack: give threads 8 MiB, not 2.
export RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}"
exec bash "$ROOT/infra/with-emulators.sh" cargo test --workspace --no-fail-fast "$@"
