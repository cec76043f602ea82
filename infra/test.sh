#!/usr/bin/env bash
# Runs the whole workspace's tests against real local emulators
# (DynamoDB Local + moto_server), started for this run and stopped after it.
# Extra arguments go to cargo test, e.g. infra/test.sh -p storage -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$ROOT/infra/with-emulators.sh" cargo test --workspace --no-fail-fast "$@"
