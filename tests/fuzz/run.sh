#!/usr/bin/env bash
# Runs each libFuzzer target of a COMITY_FUZZ build for a while, starting from the seed corpus
# in the repository (tests/fuzz/corpus/<target>, only read) and keeping what it finds in
# OUT/corpus/<target>. Stops at the first crash, leak, sanitizer report or timeout, with the
# input that caused it in OUT/crash-<target>-*; exits non-zero then.
# Usage: tests/fuzz/run.sh BIN_DIR OUT_DIR [SECONDS_PER_TARGET (default 30)] [TARGET...]
set -uo pipefail
BIN=${1:?usage: run.sh BIN_DIR OUT_DIR [SECONDS] [TARGET...]}
OUT=${2:?usage: run.sh BIN_DIR OUT_DIR [SECONDS] [TARGET...]}
SECONDS_EACH=${3:-30}
shift $(( $# < 3 ? $# : 3 ))
SEEDS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(envelope trust api bundle config)
mkdir -p "$OUT"
status=0
for t in "${targets[@]}"; do
  [ -x "$BIN/fuzz_$t" ] || { echo "fuzz: no $BIN/fuzz_$t (a COMITY_FUZZ=ON build with clang)" >&2; exit 1; }
  mkdir -p "$OUT/corpus/$t"
  log="$OUT/$t.log"
  "$BIN/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" "$OUT/corpus/$t" "$SEEDS/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} inputs in ${SECONDS_EACH} s, coverage ${cov:-?} edges, corpus $(ls "$OUT/corpus/$t" | wc -l) new files, no crash"
  else
    echo "fuzz $t: FAILED (exit $rc); the input is in $OUT/crash-$t-*; the report:" >&2
    grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|deadly signal|Test unit written' "$log" | head -n 20 >&2
    status=1
  fi
done
exit $status
