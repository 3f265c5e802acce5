# Shared helpers of the integration scripts (sourced, not run). The script that sources it
# sets COMITYD and works in its own temporary folder; results count into passed/failed, and
# the script ends with "NAME: N passed, N failed".
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() {  # check CONDITION_STATUS WHAT: counts a condition already evaluated ($?)
  if [ "$1" -eq 0 ]; then ok; else bad "$2"; fi
}

# expect CODE PATTERN -- ARGS: runs comityd, checks the exit code and that stdout+stderr match
# PATTERN (grep -E); on refusal (CODE != 0) stderr must be exactly one line (test-KDF warnings
# aside).
expect() {
  local code=$1 pattern=$2; shift 3
  "$COMITYD" "$@" >out.txt 2>err.txt </dev/null
  local rc=$?
  if [ "$rc" -ne "$code" ]; then bad "comityd $* -> exit $rc, wanted $code: $(cat out.txt err.txt)"; return; fi
  # grep reads the files itself: a pipe into grep -q can die of SIGPIPE under pipefail.
  if ! grep -Eqh -- "$pattern" out.txt err.txt; then bad "comityd $* -> output lacks /$pattern/: $(cat out.txt err.txt)"; return; fi
  if [ "$code" -ne 0 ] && [ "$(grep -vc '^comityd: warning' err.txt)" -ne 1 ]; then
    bad "comityd $* -> stderr is not one line: $(head -c 600 err.txt)"; return
  fi
  ok
}

# Every file under DIR with its hash: new, removed or changed files all show.
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
unchanged() {  # unchanged DIR SNAPSHOT_FILE WHAT
  if [ "$(snapshot "$1")" == "$(cat "$2")" ]; then ok; else
    bad "$3 changed $1: $(diff <(cat "$2") <(snapshot "$1") | head -5 | tr '\n' ' ')"; fi
}

flip_byte() {  # flip_byte FILE POS [MASK]: xor the byte at POS with MASK (default 1)
  local orig
  orig=$(dd if="$1" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
  printf "\\x$(printf %02x $(( (orig ^ ${3:-1}) & 255 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# Helpers of the scripts that run comityd daemons.
# gone PID: the process has exited (reaped already, or a zombie waiting to be).
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]; }
# wait_exit PID SECONDS: polls until PID exits and reaps it, with its exit code in rc; false
# (rc 124) when it is still running after SECONDS.
wait_exit() {
  local i
  for ((i = 0; i < $2 * 50; i++)); do
    if gone "$1"; then { wait "$1"; } 2>/dev/null; rc=$?; return 0; fi
    sleep 0.02
  done
  rc=124
  return 1
}
# free_ports N: N distinct free loopback ports on one line, all held at once while the kernel
# picks them.
free_ports() {
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1"
}

# setup ARGS: a comityd command that must succeed (counted as a failure otherwise).
setup() { "$COMITYD" "$@" >setup.out 2>&1 </dev/null || bad "setup: comityd $* failed: $(cat setup.out)"; }
# wait_log LOG PATTERN PID SECONDS: polls every 20 ms until LOG matches PATTERN (grep -E);
# false when PID exited without writing it or SECONDS passed.
wait_log() {
  local i
  for ((i = 0; i < $4 * 50; i++)); do
    grep -Eqs -- "$2" "$1" && return 0
    gone "$3" && { grep -Eqs -- "$2" "$1"; return; }
    sleep 0.02
  done
  return 1
}

# P NODE: the options that name node NODE's home and passphrase file, both under $WORK.
P() { echo "--home $WORK/$1 --passphrase-file $WORK/$1.pass"; }
# passphrases NODE...: a random passphrase file for each node, mode 0600, in the current folder.
passphrases() {
  local n
  for n in "$@"; do (umask 077; echo "pass-$n-$RANDOM$RANDOM" >"$n.pass"); done
}

# Times as $EPOCHREALTIME gives them (seconds, with microseconds):
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }       # seconds since T
before() { awk -v end="$1" -v now="$EPOCHREALTIME" 'BEGIN { exit !(now < end) }'; }     # before DEADLINE
deadline() { awk -v s="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.3f", now + s }'; } # S seconds from now
