#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ once and runs them one after the
# other (never two at once), each for FUZZ_SECONDS or until FUZZ_RUNS
# executions, then prints executions, exec/s and findings per target.
# See docs/fuzzing.md.
#
# Usage: infra/fuzz.sh [--build | --cmin | --list] [TARGET...]   (default: every target)
#   FUZZ_SECONDS=60      run each target this long (libFuzzer -max_total_time)
#   FUZZ_RUNS=N          instead, run each target until N executions (-runs=N)
#   FUZZ_SANITIZER=none  or address (AddressSanitizer: slower, catches memory errors in C/unsafe code)
#   FUZZ_TIMEOUT=10      seconds one input may take before it is a hang (-timeout)
#   FUZZ_RSS_MB=2048     memory limit (-rss_limit_mb)
#   FUZZ_ARGS="..."      more libFuzzer flags, e.g. "-seed=1 -jobs=1"
# --build builds only; --cmin folds what the runs found into fuzz/corpus/ and
# minimizes it (cargo fuzz cmin); --list prints the targets.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
LOCAL="$ROOT/.local"
CARGO_FUZZ_VERSION="0.13.2"
TRIPLE="x86_64-unknown-linux-gnu"

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_RUNS="${FUZZ_RUNS:-}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
FUZZ_ARGS="${FUZZ_ARGS:-}"

log() { echo "fuzz.sh: $*" >&2; }
die() { echo "fuzz.sh: ERROR: $*" >&2; exit 1; }

mode=run
targets=()
for arg in "$@"; do
  case "$arg" in
    --build) mode=build ;;
    --cmin) mode=cmin ;;
    --list) mode=list ;;
    -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $arg (see --help)" ;;
    *) targets+=("$arg") ;;
  esac
done

all_targets=()
for f in "$FUZZ"/fuzz_targets/*.rs; do all_targets+=("$(basename "$f" .rs)"); done
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "$FUZZ/fuzz_targets/$t.rs" ] || die "no target '$t' (targets: ${all_targets[*]})"
done
if [ "$mode" = list ]; then printf '%s\n' "${all_targets[@]}"; exit 0; fi

# Longest input libFuzzer makes per target: room for the e-mail bodies and
# SNS envelopes that superlinear work needs to show; short fields elsewhere.
max_len() {
  case "$1" in
    postmark | ses_mime) echo 65536 ;;
    chat | sns | webhooks) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

# --- cargo-fuzz, pinned ------------------------------------------------------
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  export PATH="$LOCAL/cargo-fuzz/bin:$PATH"
  if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .local/cargo-fuzz ..."
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$LOCAL/cargo-fuzz" --quiet
  fi
fi

# Stable rustc accepts cargo-fuzz's nightly flags (-Zsanitizer, sancov) this way.
export RUSTC_BOOTSTRAP=1
build_flags=(-O -a -s "$FUZZ_SANITIZER" --codegen-units 16)

# Run from the repository root: cargo fuzz finds fuzz/ there.
cd "$ROOT"
log "building ${#targets[@]} target(s) (sanitizer: $FUZZ_SANITIZER) ..."
t0=$(date +%s)
for t in "${targets[@]}"; do
  cargo fuzz build "${build_flags[@]}" "$t"
done
log "built in $(( $(date +%s) - t0 )) s"
[ "$mode" = build ] && exit 0

bin_of() { echo "$FUZZ/target/$TRIPLE/release/$1"; }
dict_args() { [ -f "$FUZZ/dict/$1.dict" ] && echo "-dict=$FUZZ/dict/$1.dict"; true; }

if [ "$mode" = cmin ]; then
  for t in "${targets[@]}"; do
    work="$FUZZ/target/work/$t"
    before=$(find "$FUZZ/corpus/$t" -type f | wc -l)
    if [ -d "$work" ]; then find "$work" -type f -exec cp -n -t "$FUZZ/corpus/$t/" {} +; fi
    # Edge coverage only (-use_counters=0): a corpus a third the size, which
    # still reaches every branch the runs reached; the work directory keeps
    # the finer one for the next run.
    cargo fuzz cmin "${build_flags[@]}" "$t" "$FUZZ/corpus/$t" -- -use_counters=0 \
      -max_len="$(max_len "$t")" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
      >"$FUZZ/target/cmin-$t.log" 2>&1 ||
      die "cmin $t failed: see fuzz/target/cmin-$t.log"
    after=$(find "$FUZZ/corpus/$t" -type f | wc -l)
    log "$t: corpus $before -> $after files ($(du -s --apparent-size --block-size=1 "$FUZZ/corpus/$t" | cut -f1) bytes)"
  done
  log "corpora total: $(find "$FUZZ/corpus" -type f | wc -l) files, $(du -s --apparent-size --block-size=1 "$FUZZ/corpus" | cut -f1) bytes"
  exit 0
fi

# --- run, one target at a time ----------------------------------------------
if [ -n "$FUZZ_RUNS" ]; then
  limit=(-runs="$FUZZ_RUNS")
  log "running each target until $FUZZ_RUNS executions"
else
  limit=(-max_total_time="$FUZZ_SECONDS")
  log "running each target for $FUZZ_SECONDS s"
fi
results="$FUZZ/target/results.tsv"
printf 'target\texecs\tseconds\texec_per_s\tnew_units\tcorpus\tfindings\n' >"$results"
failed=0
for t in "${targets[@]}"; do
  work="$FUZZ/target/work/$t"
  artifacts="$FUZZ/artifacts/$t"
  logf="$FUZZ/target/run-$t.log"
  mkdir -p "$work" "$artifacts"
  found_before=$(find "$artifacts" -type f | wc -l)
  log "$t ..."
  start=$(date +%s)
  # New inputs go to the work directory; the committed corpus is read only
  # (--cmin folds the work in). -print_final_stats gives the counts below.
  # shellcheck disable=SC2046,SC2086
  set +e
  "$(bin_of "$t")" "$work" "$FUZZ/corpus/$t" "${limit[@]}" \
    -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" -max_len="$(max_len "$t")" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 $(dict_args "$t") $FUZZ_ARGS \
    >"$logf" 2>&1
  status=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  stat() { grep -m1 "^stat::$1:" "$logf" | awk '{print $2}'; }
  execs=$(stat number_of_executed_units)
  if [ -z "$execs" ]; then
    # No final stats after a crash: take the last status line (#N ...).
    execs=$(grep -oE '^#[0-9]+' "$logf" | tail -1 | tr -d '#')
  fi
  execs=${execs:-0}
  rate=$(stat average_exec_per_sec)
  [ -n "$rate" ] || rate=$(( seconds > 0 ? execs / seconds : execs ))
  new_units=$(stat new_units_added)
  corpus=$(grep -oE 'corp: [0-9]+' "$logf" | tail -1 | awk '{print $2}')
  found=$(( $(find "$artifacts" -type f | wc -l) - found_before ))
  if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
    failed=1
    log "$t: FINDING (exit $status), see $logf and $artifacts/"
    grep -m3 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$logf" >&2 || true
    found=$(( found > 0 ? found : 1 ))
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$execs" "$seconds" "$rate" "${new_units:-0}" \
    "${corpus:-?}" "$found" >>"$results"
done

echo
column -t -s $'\t' "$results"
if [ -n "$FUZZ_RUNS" ]; then :; else
  echo
  echo "Time to 10,000,000 executions at these rates (one target at a time):"
  awk -F'\t' 'NR > 1 && $4 > 0 { s = 1e7 / $4; t += s; printf "  %-12s %6.1f min\n", $1, s / 60 }
    END { printf "  %-12s %6.1f min\n", "total", t / 60 }' "$results"
fi
echo
echo "Logs: fuzz/target/run-<target>.log; new inputs: fuzz/target/work/<target>/ (make them part of"
echo "the corpus with infra/fuzz.sh --cmin); findings: fuzz/artifacts/<target>/."
exit "$failed"
