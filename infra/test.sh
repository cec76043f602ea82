#!/usr/bin/env bash
# Runs the whole workspace's tests against real local emulators
# (DynamoDB Local + moto_server), started for this run and stopped after it.
# Extra arguments go to cargo test, e.g. infra/test.sh -p shared -- --nocapture
#
# A full run (no arguments) then fuzzes the HTTP contract from outside
# (infra/contract-fuzz.sh: schemathesis against the dev gateway and the
# same emulators), and ends with the least-privilege test.
#
# Every AWS call a function makes is recorded under CALL_LOG_DIR, the
# fuzzed stack's included; after a full run the least-privilege test checks
# them all against template.yaml's policies. A partial run cannot: it skips
# that check and the fuzz.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Unoptimised builds keep whole request futures (a merge runs the API, the
# store and the SDK in one) on the thread stack: give threads 8 MiB, not 2.
export RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}"
export CALL_LOG_DIR="$ROOT/.local/calls"
rm -rf "$CALL_LOG_DIR"

if [ "$#" -gt 0 ]; then
  exec bash "$ROOT/infra/with-emulators.sh" cargo test --workspace --no-fail-fast "$@"
fi
exec bash "$ROOT/infra/with-emulators.sh" bash -c '
  cargo test --workspace --no-fail-fast &&
  bash infra/contract-fuzz.sh &&
  cargo test -p integration-tests --test least_privilege -- --ignored --nocapture'
