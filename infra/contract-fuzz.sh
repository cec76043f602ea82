#!/usr/bin/env bash
# The HTTP contract, fuzzed from outside: schemathesis generates requests from
# docs/openapi.yaml for every management and query operation (webhooks are
# covered by the signed-delivery tests) and sends them to a real local stack
# (the emulators, the dev gateway serving the api function, the demo seed),
# once as an admin and once as an agent of the demo tenant. It fails on any
# 5xx, on any response the document does not describe (status code, content
# type, headers, body), on a request the document calls valid being refused
# or one it calls invalid being accepted, and on a method a path lacks not
# answering 405 with Allow (infra/contract-fuzz.toml).
#
# Values are real: infra/contract_fuzz_seed.py takes a contact of the demo
# story, a connection made for the run and a cursor of each listing through
# the API; infra/contract_fuzz_hooks.py puts state-bound values (a cursor, a
# current stage) into the requests generated as valid.
#
# Usage: infra/contract-fuzz.sh   (starts the emulators unless they are up)
# Settings: CONTRACT_FUZZ_EXAMPLES (test cases per operation and phase,
#   default 100: under a minute per role here), CONTRACT_FUZZ_SEED (default
#   fixed, so a CI run is repeatable; `random` for a new one each run; the
#   seed used is printed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${DYNAMODB_ENDPOINT:-}" ] || [ -z "${MOTO_ENDPOINT:-}" ]; then
  exec bash "$ROOT/infra/with-emulators.sh" bash "$ROOT/infra/contract-fuzz.sh" "$@"
fi
cd "$ROOT"
bash infra/install.sh >/dev/null

export RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}"
VENV="$ROOT/.local/venv/bin"
WORK="$ROOT/.local/contract-fuzz"
ENV_FILE="$WORK/dev.env"
EXAMPLES="${CONTRACT_FUZZ_EXAMPLES:-100}"
SEED="${CONTRACT_FUZZ_SEED:-20261021}"
if [ "$SEED" = random ]; then
  SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
fi

log() { echo "contract-fuzz: $*" >&2; }
die() { echo "contract-fuzz: ERROR: $*" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"

log "building the dev gateway"
cargo build --quiet -p devtools --bin dev-gateway

# The gateway on a free port, writing its env file here (a `make dev` of the
# same checkout keeps its own .local/dev.env). Stopped however this ends.
gateway_pid=""
stop_gateway() {
  local rc=$?
  trap - EXIT
  if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$gateway_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$gateway_pid" 2>/dev/null || true
  fi
  exit "$rc"
}
trap stop_gateway EXIT
PORT=0 DEV_ENV_FILE="$ENV_FILE" RUST_LOG="${RUST_LOG:-warn}" \
  "${CARGO_TARGET_DIR:-$ROOT/target}/debug/dev-gateway" >"$WORK/gateway.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 1 600); do
  [ -f "$ENV_FILE" ] && break
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$WORK/gateway.log" >&2; die "the dev gateway stopped"; }
  sleep 0.2
done
[ -f "$ENV_FILE" ] || { cat "$WORK/gateway.log" >&2; die "the dev gateway did not start in 120 s"; }
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
log "stack up at $API_URL"

# Real values: a contact of the demo story once its deliveries are
# normalized, a connection the fuzz may delete, a cursor of each listing.
"$VENV/python" "$ROOT/infra/contract_fuzz_seed.py" >"$WORK/values.env"
set -a
# shellcheck disable=SC1091
. "$WORK/values.env"
set +a
log "contact $FUZZ_CONTACT, connection $FUZZ_CONNECTION"
export SCHEMATHESIS_HOOKS="$ROOT/infra/contract_fuzz_hooks.py"

run_as() {
  local role="$1" token="$2" t0 t1 rc
  log "== as $role: at most $EXAMPLES examples per operation and phase, seed $SEED"
  t0=$(date +%s)
  set +e
  "$VENV/schemathesis" --config-file "$ROOT/infra/contract-fuzz.toml" run \
    "$ROOT/docs/openapi.yaml" \
    --url "$API_URL" \
    --header "Authorization: Bearer $token" \
    --max-examples "$EXAMPLES" \
    --seed "$SEED" \
    --no-color \
    --report junit --report-dir "$WORK/report-$role"
  rc=$?
  set -e
  t1=$(date +%s)
  log "== as $role: exit $rc in $((t1 - t0)) s"
  return "$rc"
}

t_start=$(date +%s)
failed=0
run_as admin "$DEV_ADMIN_TOKEN" || failed=1
run_as agent "$DEV_AGENT_TOKEN" || failed=1
log "both runs took $(($(date +%s) - t_start)) s"
if ! kill -0 "$gateway_pid" 2>/dev/null; then
  cat "$WORK/gateway.log" >&2
  die "the dev gateway died during the run"
fi
if [ "$failed" != 0 ]; then
  log "gateway log: $WORK/gateway.log"
  die "schemathesis found responses the document does not allow (above)"
fi
log "ok: 0 failures"
