#!/usr/bin/env bash
# Runs one command with the local emulators up and their settings exported
# (DYNAMODB_ENDPOINT, MOTO_ENDPOINT, AWS_* from .local/emulators.env), then
# stops the emulators however the command ends (exit, error, Ctrl-C, TERM).
# The command runs in the repository root; its exit status is returned.
#
# Usage: infra/with-emulators.sh CMD [ARGS...]
#   e.g. infra/with-emulators.sh cargo test -p storage
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$#" -eq 0 ]; then
  echo "usage: infra/with-emulators.sh CMD [ARGS...]" >&2
  exit 2
fi

bash "$ROOT/infra/install.sh"

# shellcheck disable=SC2329 # invoked by the EXIT trap
stop_emulators() {
  local rc=$?
  trap - EXIT INT TERM
  bash "$ROOT/infra/emulators.sh" stop || true
  exit "$rc"
}
trap stop_emulators EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$ROOT/infra/emulators.sh" start

set -a
# shellcheck disable=SC1091
. "$ROOT/.local/emulators.env"
set +a

cd "$ROOT"
set +e
"$@"
rc=$?
set -e
exit "$rc"
