#!/usr/bin/env bash
# deploy/demo.sh as the README's main command, against the binaries just built (COMITY_DEMO_BIN:
# nothing installed, nothing rebuilt): the whole scenario to its summary with every node stopped
# cleanly and every archive intact; --keep with --nodes 6 leaves a running network that comity
# can use and stop.sh stops; bad options are refused in one line.
# Usage: demo_test.sh PATH_TO_REPOSITORY PATH_TO_BIN_DIR
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
REPO=$(realpath "${1:?usage: demo_test.sh REPOSITORY BIN_DIR}")
BIN=$(realpath "${2:?usage: demo_test.sh REPOSITORY BIN_DIR}")
DEMO=$REPO/deploy/demo.sh
WORK=$(mktemp -d /tmp/comity-demo-test.XXXXXX)
cleanup() {
  # Whatever a failed run left behind: the --keep network's daemons.
  [ -x "$WORK/keep/stop.sh" ] && timeout 30 "$WORK/keep/stop.sh" >/dev/null 2>&1
  pkill -KILL -f "comityd run --home $WORK/" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export COMITY_DEMO_BIN=$BIN

# demo OUT ARGS...: runs the demo, its output in OUT, its exit code in rc.
demo() { local out=$1; shift; "$DEMO" "$@" >"$out" 2>&1 </dev/null; rc=$?; }
has() { grep -Eq -- "$2" "$1"; check $? "$3: $(tail -n 5 "$1")"; }

# --- the full run ----------------------------------------------------------------------------
COMITY_DEMO_DIR=$WORK/full COMITY_DEMO_PORT=47400 demo "$WORK/full.out"
check $((rc != 0)) "deploy/demo.sh exited $rc: $(tail -n 20 "$WORK/full.out")"
has "$WORK/full.out" '^  nodes: +9 comityd processes running \(3 coordinators, 1 relay, 5 authorities\) in 3 networks$' "no summary of the nodes"
has "$WORK/full.out" '^  verification: [0-9]+ envelopes, [0-9]+ receipts, 2 rosters of IberRed, WACAP' "no verification in the summary"
has "$WORK/full.out" 'delivered +by PT-PGR@IberRed' "the ping through the relay was not delivered"
has "$WORK/full.out" '^\+Measures requested' "no diff of the two drafts"
has "$WORK/full.out" '^comity: error: tampered.bundle: ' "the tampered bundle was not refused"
has "$WORK/full.out" '^  9 of 9 daemons stopped with exit code 0$' "not every daemon stopped cleanly"
has "$WORK/full.out" '^  9 of 9 archives intact' "not every archive verifies"
has "$WORK/full.out" '^Demo complete' "the demo did not complete"
pgrep -f "comityd run --home $WORK/full/" >/dev/null; check $((! $?)) "daemons are still running after the demo"
# The demo never uses the test-only key cost.
! grep -q 'test-only' "$WORK/full.out"; check $? "the demo ran with the test-only Argon2id cost"

# --- --keep, --nodes 6 -------------------------------------------------------------------------
COMITY_DEMO_DIR=$WORK/keep COMITY_DEMO_PORT=47600 demo "$WORK/keep.out" --keep --nodes 6
check $((rc != 0)) "deploy/demo.sh --keep --nodes 6 exited $rc: $(tail -n 20 "$WORK/keep.out")"
has "$WORK/keep.out" '10 comityd processes running \(3 coordinators, 1 relay, 6 authorities\)' "--nodes 6 did not run 6 authorities"
has "$WORK/keep.out" "^Stop every node with: $WORK/keep/stop.sh$" "--keep does not say how to stop"
"$BIN/comity" --home "$WORK/keep/es-mj" thread list >"$WORK/list.out" 2>&1
check $? "comity against the kept network failed: $(cat "$WORK/list.out")"
grep -q 'agreed .*Operation Lagoon' "$WORK/list.out"; check $? "the kept ES-MJ lacks the agreed thread: $(cat "$WORK/list.out")"
"$BIN/comity" --home "$WORK/keep/gh-ag" directory --network WACAP >"$WORK/dir.out" 2>&1
check $? "the added authority GH-AG does not answer: $(cat "$WORK/dir.out")"
timeout 60 "$WORK/keep/stop.sh" >/dev/null 2>&1; check $? "stop.sh failed or hung"
pgrep -f "comityd run --home $WORK/keep/" >/dev/null; check $((! $?)) "daemons run on after stop.sh"
[ "$(grep -l 'info: stopped' "$WORK"/keep/*.log | wc -l)" -eq 10 ]; check $? "not every kept daemon logged a clean stop"

# --- refused options: one line, exit 2, nothing created ---------------------------------------
for args in "--nodes 4" "--nodes 30" "--nodes x" "--nodes" "--frobnicate"; do
  # shellcheck disable=SC2086  # each case is several words
  COMITY_DEMO_DIR=$WORK/refused "$DEMO" $args >"$WORK/r.out" 2>"$WORK/r.err" </dev/null; rc=$?
  [ "$rc" -eq 2 ] && [ "$(wc -l <"$WORK/r.err")" -eq 1 ] && grep -q '^demo: ' "$WORK/r.err" && [ ! -e "$WORK/refused" ]
  check $? "demo.sh $args: exit $rc, stderr: $(cat "$WORK/r.err")"
done
mkdir "$WORK/taken" && touch "$WORK/taken/file"
COMITY_DEMO_DIR=$WORK/taken "$DEMO" >"$WORK/r.out" 2>"$WORK/r.err" </dev/null; rc=$?
[ "$rc" -eq 1 ] && grep -q 'is not empty' "$WORK/r.err"; check $? "a non-empty demo folder: exit $rc, $(cat "$WORK/r.err")"

echo "demo_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
