#!/usr/bin/env bash
# Delivery through network faults, with real `comityd run` processes of one network. Each
# scenario counts, in the audit logs, that every message queued with `comityd send` was stored
# exactly once by its recipient (one `receive` per message id, the same ids as the sender's
# `send` entries), that each sender recorded custody (`delivered`) of each one, that the
# recipients' delivered receipts reached the sender (the counts of the sender's `receipt`
# entries add up), that every outbox on the way is empty, and that every archive verifies.
#  1. A relay down for 60 s: A and O are both outbound only, reached through the relay RL (so
#     RL is the only path between them). A sends 100 to O; RL gets SIGKILL; A keeps queueing
#     10 messages a second for 60 s, none of which reaches O meanwhile; RL starts again; all
#     arrive, through RL, with their delivered receipts (carried back through RL too) and
#     RL's relayed receipts. RL may take a forward twice (an answer lost in its crash): it
#     passes each one it took on once, and O stores each message once.
#  2. A member offline for the whole run: S queues 500 to R, which never runs, and 500 to M,
#     which runs: M has all of its 500 while R's 500 wait in S's outbox; 15 s after the
#     batch R starts and gets its 500 once, and S gets R's receipts.
#  3. A partition and its healing: P runs in its own network namespace, joined to the main one
#     by a veth pair (a free 10.x.y.0/30, removed at exit); S and P send to each other over it
#     (10 and 5 messages a second for 30 s); about 6 s in, the link is set down (`ip link set
#     down`) for 20 s, during which nothing crosses either way; then up again. Where netem
#     works (it is probed first), the phase before the cut also loses, delays and reorders
#     packets; where `ip netns` is not permitted, P is frozen with SIGSTOP for the 20 s instead
#     (SIGCONT after). The script prints which method it used.
#  4. A revocation while the revoked member sends: X sends R 100, then streams 10 messages a
#     second; 3 s in, the running coordinator revokes X (`network revoke`, `network publish`,
#     SIGHUP), and the roster reaches R over the link R keeps to it; from then on R stores
#     nothing from X (no `receive` from X after R's `roster` entry), while everything X queued
#     up to 2 s before the revocation is at R once; R counts and logs the refused link of X
#     (its listener is reopened, X's reconnection refused); X, which never learns the roster
#     (the coordinator refuses it too), keeps what it queued after in its outbox; S still
#     delivers 50 to R.
#  5. Clock skew: K runs with its wall clock an hour ahead, then an hour behind, then right
#     (a preloaded shim compiled here with cc moves time(), gettimeofday() and the realtime
#     clock_gettime(); skipped, with the reason, without a C compiler; libfaketime is not
#     used: see "the clock" below). Each time S and K send each other 50 and the coordinator
#     (real clock) publishes a roster. It asserts what happens: the messages pass both ways
#     whatever the skew (no receiver checks created_at, which is the sender's clock: S stores
#     K's an hour in its future or past); a receipt dated more than 300 s in its receiver's
#     future is refused (K ahead: S refuses K's delivered receipts; K behind: K refuses S's)
#     and its sender audits the refusal; a roster issued more than 300 s in a node's future
#     is not taken (K behind keeps the older version, logging why) until its clock is right.
#     So that certificates are not "not yet valid" to K behind, the whole network is set up
#     with the clock 2 h back (a certificate is valid from 300 s before its issue).
# It prints how long each scenario took and each delivery after the fault ended.
# Usage: network_faults_test.sh PATH_TO_COMITYD   (KEEP_WORK=1 keeps the homes and logs;
#        ONLY="1 4" runs those scenarios alone)
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: network_faults_test.sh PATH_TO_COMITYD}")
[ -x "$COMITYD" ] || { echo "network_faults_test: no comityd at $COMITYD" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-netfaults-test.XXXXXX)
declare -A pids     # node -> pid of its `comityd run` while it runs: none outlives the script
declare -A waiters  # node -> the subshell that waits for it (see start)
declare -A clock    # node -> seconds its wall clock is off (see clocked; unset: the real clock)
declare -A netns_of # node -> the network namespace its daemon runs in
declare -A runlog   # node -> the stderr log of its current run
loops=()            # background send loops
NS="" VETH_MAIN="" VETH_NS=""
cleanup() {
  local p
  for p in "${loops[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$VETH_MAIN" ] && ip link del "$VETH_MAIN" 2>/dev/null
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "network_faults_test: work kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE

NET=NetFaults
COORD=NF-COORD S=ES-SENDER R=PT-RECEIVER M=IT-ONLINE RL=RELAY-ONE A=DE-OUTBOUND O=FR-OUTBOUND
P=NL-PARTITIONED X=MT-REVOKED K=GR-SKEWED
sleep_until() { local d; d=$(awk -v end="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = end - now; printf "%.3f", (d > 0 ? d : 0) }'); sleep "$d"; }
# until_true SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
until_true() {
  local end; end=$(deadline "$1"); shift
  while before "$end"; do "$@" && return 0; sleep 0.2; done
  "$@"
}

# --- the clock: a preloaded shim that moves the wall clock only ------------------------------
# libfaketime (Debian's faketime) is not used: it also rewrites absolute timerfd deadlines,
# and Boost.Asio arms its timerfd with an absolute deadline for a timer due at once, so a
# daemon under `faketime -f -1h` never runs its outbox or status timers (seen with 0.9.10,
# FAKETIME_DONT_FAKE_MONOTONIC=1 or not). This shim shifts time(), gettimeofday() and
# clock_gettime() of CLOCK_REALTIME(_COARSE) and CLOCK_TAI by CLOCKSHIFT_SECONDS, nothing else.
CLOCKSHIFT="" SKEW_SKIP=""
if cc_bin=$(command -v cc || command -v gcc || command -v g++); then
  cat >clockshift.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
static long shift(void) {
  static long s = 0;
  static int read = 0;
  if (!read) {
    const char* v = getenv("CLOCKSHIFT_SECONDS");
    s = v ? atol(v) : 0;
    read = 1;
  }
  return s;
}
int clock_gettime(clockid_t c, struct timespec* ts) {
  static int (*real)(clockid_t, struct timespec*);
  if (!real) real = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT, "clock_gettime");
  int r = real(c, ts);
  if (r == 0 && ts && (c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE || c == CLOCK_TAI)) ts->tv_sec += shift();
  return r;
}
int gettimeofday(struct timeval* tv, void* tz) {
  static int (*real)(struct timeval*, void*);
  if (!real) real = (int (*)(struct timeval*, void*))dlsym(RTLD_NEXT, "gettimeofday");
  int r = real(tv, tz);
  if (r == 0 && tv) tv->tv_sec += shift();
  return r;
}
time_t time(time_t* t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t) *t = ts.tv_sec;
  return ts.tv_sec;
}
EOF
  if "$cc_bin" -x c -shared -fPIC -O2 -o clockshift.so clockshift.c -ldl 2>clockshift.err &&
     [ "$(LD_PRELOAD=$WORK/clockshift.so CLOCKSHIFT_SECONDS=-3600 date +%s)" -le $(($(date +%s) - 3590)) ]; then
    CLOCKSHIFT=$WORK/clockshift.so
  else
    SKEW_SKIP="the clock shim did not build or work ($(head -c 300 clockshift.err | tr '\n' ' '))"
  fi
else
  SKEW_SKIP="no C compiler (cc, gcc or g++) to build the clock shim"
fi
# clocked NODE COMMAND...: COMMAND with NODE's clock (clock[NODE] seconds off; unset: real).
clocked() {
  local node=$1; shift
  if [ -n "${clock[$node]:-}" ]; then LD_PRELOAD=$CLOCKSHIFT CLOCKSHIFT_SECONDS=${clock[$node]} "$@"; else "$@"; fi
}
cd_() { local node=$1; shift; clocked "$node" "$COMITYD" "$@"; }  # comityd as NODE's operator

# --- the partition: a network namespace and a veth pair, or SIGSTOP --------------------------
read -r port_coord port_s port_s3 port_r port_m port_rl port_x port_k port_p < <(free_ports 9)
[ -n "${port_p:-}" ] || { echo "network_faults_test: python3 found no free ports" >&2; exit 1; }
PARTITION=""
p_host=127.0.0.1 s_host3=""
if [ "$(id -u)" -eq 0 ] && ip netns add "comity-nf-$$" 2>netns.err; then
  NS=comity-nf-$$ VETH_MAIN=nf$$m VETH_NS=nf$$n
  # A /30 of 10/8 that no address or route of this machine covers (default routes aside).
  for _ in $(seq 40); do
    sub="10.$((RANDOM % 230 + 20)).$((RANDOM % 256))"
    ip -4 route show match "$sub.0/30" | grep -qv '^default' || ip -4 addr | grep -q "inet $sub\." || break
    sub=""
  done
  if [ -n "$sub" ] && ip link add "$VETH_MAIN" type veth peer name "$VETH_NS" 2>netns.err &&
     ip link set "$VETH_NS" netns "$NS" && ip addr add "$sub.1/30" dev "$VETH_MAIN" && ip link set "$VETH_MAIN" up &&
     ip netns exec "$NS" ip addr add "$sub.2/30" dev "$VETH_NS" && ip netns exec "$NS" ip link set "$VETH_NS" up &&
     ip netns exec "$NS" ip link set lo up; then
    PARTITION=netns p_host=$sub.2 s_host3=$sub.1
    netns_of[p]=$NS
    echo "network_faults_test: partition by network namespace $NS, veth $VETH_MAIN ($sub.1) <-> $VETH_NS ($sub.2)"
  else
    echo "network_faults_test: no veth pair ($(tr '\n' ' ' <netns.err)${sub:-no free 10.x.y.0/30})" >&2
  fi
fi
if [ -z "$PARTITION" ]; then
  PARTITION=sigstop
  why=$([ "$(id -u)" -eq 0 ] && tr '\n' ' ' <netns.err | sed 's/ *$//' || echo "not root: uid $(id -u)")
  echo "network_faults_test: ip netns not permitted or no veth pair ($why): partition by SIGSTOP/SIGCONT of P instead"
fi
NETEM=""
if [ "$PARTITION" == netns ]; then
  if tc qdisc add dev "$VETH_MAIN" root netem loss 10% delay 20ms 10ms reorder 25% 2>netem.err; then
    NETEM=1
    tc qdisc del dev "$VETH_MAIN" root 2>/dev/null
    echo "network_faults_test: netem available: a lossy phase (loss 10%, delay 20 ms +- 10 ms, reorder 25%) before the cut"
  else
    echo "network_faults_test: netem not available ($(tr '\n' ' ' <netem.err | sed 's/ *$//')): partition by link down only"
  fi
fi

# --- one network: coordinator, S, R, M, relay RL, A and O outbound only through RL, P, X, K ----
passphrases coord s r m rl a o p x k
if [ -n "$CLOCKSHIFT" ]; then
  # Set up "two hours ago": certificates are valid from 300 s before their issue, so a node
  # one hour behind would otherwise find every certificate of this network not yet valid.
  export LD_PRELOAD=$CLOCKSHIFT CLOCKSHIFT_SECONDS=-7200
fi
setup init $(P coord) --id $COORD --name "Fault Secretariat" --country ES --listen tcp://127.0.0.1:$port_coord
setup network create $(P coord) --network $NET
setup init $(P s) --id $S --name "Sending Authority" --country ES --listen tcp://127.0.0.1:$port_s
setup init $(P r) --id $R --name "Receiving Authority" --country PT --listen tcp://127.0.0.1:$port_r
setup init $(P m) --id $M --name "Online Authority" --country IT --listen tcp://127.0.0.1:$port_m
setup init $(P rl) --id $RL --name "Relay One" --country BE --listen tcp://127.0.0.1:$port_rl
setup init $(P a) --id $A --name "Outbound Sender" --country DE --via $RL
setup init $(P o) --id $O --name "Outbound Authority" --country FR --via $RL
setup init $(P p) --id $P --name "Partitioned Authority" --country NL --listen tcp://$p_host:$port_p
setup init $(P x) --id $X --name "Revoked Authority" --country MT --listen tcp://127.0.0.1:$port_x
setup init $(P k) --id $K --name "Skewed Authority" --country GR --listen tcp://127.0.0.1:$port_k
for n in s r m rl a o p x k; do
  setup enroll $(P $n) --out $n.request
  setup network admit $(P coord) --request $n.request --role "$([ $n == rl ] && echo relay || echo central-authority)"
done
setup network publish $(P coord) --out net.roster
setup network root $(P coord) --out net.root
for n in s r m rl a o p x k; do setup join $(P $n) --roster net.roster --root net.root; done
unset LD_PRELOAD CLOCKSHIFT_SECONDS
[ "$failed" -eq 0 ] || { echo "network_faults_test: setup failed, nothing checked" >&2; exit 1; }
# publish: a new roster version (VERSION set), taken by the running coordinator on SIGHUP.
publish() {
  setup network publish $(P coord) --out "$WORK/roster-$1"
  VERSION=$(sed -n 's/^Published roster version \([0-9]*\) .*/\1/p' setup.out)
  [ -n "$VERSION" ] || bad "publish $1: no version in: $(cat setup.out)"
  kill -HUP "${pids[coord]}"
}

printf 'relays: "%s@%s"\n' "$RL" "$NET" >outbound.conf
printf 'listen: "tcp://127.0.0.1:%s"\nlisten: "tcp://%s:%s"\n' "$port_s" "$s_host3" "$port_s3" >s3.conf
printf 'log_level: "debug"\npeers { member: "%s@%s" endpoints: "tcp://%s:%s" }\n' "$S" "$NET" "$s_host3" "$port_s3" >p3.conf
printf 'log_level: "debug"\n' >debug.conf

# --- daemons ---------------------------------------------------------------------------------
# start NODE RUN [ARGS...]: `comityd run` of NODE (in its namespace, with its clock) in the
# background, its stderr in RUN.log; waits (10 s at most) for its running line. A subshell
# waits for the daemon, so that this shell does not report the kills as "Killed" jobs.
start() {
  local node=$1 run=$2 end; shift 2
  # `ip netns exec` and `env` exec the command: the pid is comityd's.
  local -a cmd=()
  [ -n "${netns_of[$node]:-}" ] && cmd+=(ip netns exec "${netns_of[$node]}")
  [ -n "${clock[$node]:-}" ] && cmd+=(env LD_PRELOAD="$CLOCKSHIFT" CLOCKSHIFT_SECONDS="${clock[$node]}")
  cmd+=("$COMITYD" run $(P "$node") "$@")
  rm -f "$node.pid"
  ( "${cmd[@]}" >"$run.out" 2>"$run.log" </dev/null &
    echo "$!" >"$node.pid.new" && mv "$node.pid.new" "$node.pid"
    wait "$!" ) 2>/dev/null &
  waiters[$node]=$!
  end=$(deadline 5)
  while [ ! -s "$node.pid" ] && before "$end"; do sleep 0.01; done
  pids[$node]=$(cat "$node.pid" 2>/dev/null)
  runlog[$node]=$run.log
  if until_true 10 grep -qs ': info: running as ' "$run.log"; then ok; else bad "$node ($run.log) did not start: $(tail -n 3 "$run.log")"; fi
}
# stop NODE: SIGTERM must make it exit 0 within 10 s, logging "stopped".
stop() {
  local pid=${pids[$1]} waiter=${waiters[$1]} log=${runlog[$1]}
  kill -CONT "$pid" 2>/dev/null
  kill -TERM "$pid"
  if ! wait_exit "$waiter" 10; then bad "$1: still running 10 s after SIGTERM: $(tail -n 3 "$log")"; kill -9 "$pid"; wait "$waiter"
  elif [ "$rc" -ne 0 ]; then bad "$1: exit $rc after SIGTERM, wanted 0: $(tail -n 3 "$log")"
  elif ! until_true 5 grep -q ': info: stopped$' "$log"; then bad "$1: no 'stopped' line after SIGTERM: $(tail -n 3 "$log")"
  else ok; fi
  unset "pids[$1]"
}
# crash NODE: SIGKILL; it must die of it (exit 137) within 10 s.
crash() {
  local pid=${pids[$1]} waiter=${waiters[$1]}
  kill -9 "$pid"
  if ! wait_exit "$waiter" 10; then bad "$1 still runs 10 s after SIGKILL"; fi
  [ "$rc" -eq 137 ]; check $? "$1 exited $rc after SIGKILL, not 137"
  unset "pids[$1]"
}

# status NODE: its `comityd status` (with its clock: the status says when it was written) in
# NODE.status; exit 0 when it runs.
status() { cd_ "$1" status --home "$WORK/$1" >"$1.status" 2>&1; }
# outbox NODE MEMBER: the depth of NODE's outbox for MEMBER@NET in its status (no row: 0).
outbox() {
  status "$1"
  awk -v m="$2@$NET" '$1 == m { for (i = 1; i < NF; i++) if ($i == "outbox") { print $(i + 1); found = 1 } }
                      END { if (!found) print 0 }' "$1.status"
}
# counter NODE NAME: a counter in NODE's last status (0 when absent).
counter() {
  status "$1"
  tr ',' '\n' <"$1.status" | awk -v k="$2" '$1 == k || $2 == k { print $NF; f = 1 } END { if (!f) print 0 }'
}
# roster_version NODE: the roster version of $NET NODE's last status shows.
roster_version() { status "$1"; sed -n "s/^Rosters: *.*$NET v\([0-9]*\).*/\1/p" "$1.status"; }
# drained MARK NODE MEMBER...: NODE runs, and a status it wrote after MARK was touched (it
# writes one every 2 s) shows no outbox entry for any MEMBER.
drained() {
  local mark=$1 node=$2 member; shift 2
  [ "$WORK/$node/status.pb" -nt "$mark" ] && status "$node" || return 1
  for member in "$@"; do
    awk -v m="$member@$NET" '$1 == m { for (i = 1; i < NF; i++) if ($i == "outbox" && $(i + 1) != 0) bad = 1 }
                             END { exit bad }' "$node.status" || return 1
  done
}
# wait_drained SECONDS NODE:MEMBER[,MEMBER]...: until each NODE's outbox for its MEMBERs is
# empty in a status written from now on.
wait_drained() {
  local end pair all; end=$(deadline "$1"); shift
  touch drain.mark
  while before "$end"; do
    all=0
    for pair in "$@"; do
      # shellcheck disable=SC2046
      drained drain.mark "${pair%%:*}" $(echo "${pair#*:}" | tr ',' ' ') || { all=1; break; }
    done
    [ "$all" -eq 0 ] && return 0
    sleep 0.2
  done
  return 1
}

# --- the audit logs --------------------------------------------------------------------------
# audit NODE: NODE's whole audit log into NODE.audit (also while it runs).
audit() {
  cd_ "$1" archive log $(P "$1") --last 999999 >"$1.audit" 2>"$1.audit.err" </dev/null ||
    bad "archive log of $1 failed: $(cat "$1.audit.err")"
}
last_seq() { audit "$1"; awk 'END { print $1 + 0 }' "$1.audit"; }
# ids NODE AFTER ACTION [PATTERN]: the message ids (sorted, repeats kept) of NODE's ACTION
# entries numbered above AFTER whose line matches PATTERN (awk). The audit log names a message
# by 8 bytes of its hash (send.cpp ShortMessageId): distinct within these batches.
ids() {
  audit "$1"
  awk -v after="$2" -v action="$3" -v pat="${4:-}" '$1 > after && $4 == action && $0 ~ pat { print $5 }' "$1.audit" | sort
}
# receipted NODE AFTER KIND BY: how many message ids NODE's receipts of KIND by BY@NET cover.
receipted() {
  audit "$1"
  awk -v after="$2" -v kind="$3" -v by="$4@$NET" '$1 > after && $4 == "receipt" && $6 == kind {
      for (i = 7; i < NF; i++) if ($i == "by" && $(i + 1) == by) n += $5 }
    END { print n + 0 }' "$1.audit"
}
n_ids() { ids "$@" | wc -l; }
# at_least N COMMAND...: COMMAND prints a number of at least N; is VALUE COMMAND...: prints VALUE.
at_least() { local n=$1; shift; [ "$("$@")" -ge "$n" ]; }
is() { local v=$1; shift; [ "$("$@")" == "$v" ]; }
# same_ids WHAT A_FILE B_FILE: the two id lists are equal, each id as many times in both.
same_ids() {
  if cmp -s "$2" "$3"; then ok; else
    bad "$1: the ids differ ($(wc -l <"$2") vs $(wc -l <"$3")): $(diff "$2" "$3" | grep '^[<>]' | head -4 | tr '\n' ' ')"; fi
}
# once WHAT FILE: no id in FILE twice.
once() {
  local twice; twice=$(uniq -d "$2" | wc -l)
  [ "$twice" -eq 0 ]; check $? "$1: $twice ids stored more than once: $(uniq -d "$2" | head -3 | tr '\n' ' ')"
}
verify() { expect 0 'is intact' -- archive verify $(P "$1"); }
# equals WHAT GOT WANTED
equals() { [ "$2" == "$3" ]; check $? "$1: $2, wanted $3"; }

# send NODE TO COUNT TEXT: queues COUNT messages from NODE to TO@NET (NODE's clock); 0 or fails.
send() {
  cd_ "$1" send $(P "$1") --to "$2@$NET" --text "$4" --count "$3" >"send-$1.out" 2>&1 </dev/null ||
    { bad "send of $3 from $1 to $2 failed: $(cat "send-$1.out")"; return 1; }
}
# stream NODE TO SECONDS PER_SEND EVERY TEXT: in the background, a send of PER_SEND messages
# every EVERY seconds for SECONDS; each send's start (epoch seconds) and exit code go to
# NODE-stream.log, its output to NODE-stream.err.
stream() {
  local node=$1 to=$2 secs=$3 per=$4 every=$5 text=$6 start=$EPOCHREALTIME i
  local n; n=$(awk -v s="$secs" -v e="$every" 'BEGIN { print int(s / e + 0.5) }')
  for ((i = 0; i < n; i++)); do
    sleep_until "$(awk -v a="$start" -v i="$i" -v e="$every" 'BEGIN { printf "%.3f", a + i * e }')"
    local at=$EPOCHREALTIME
    cd_ "$node" send $(P "$node") --to "$to@$NET" --text "$text $i" --count "$per" >>"$node-stream.err" 2>&1 </dev/null
    echo "$at $?" >>"$node-stream.log"
  done
}
# start_stream ARGS...: stream in the background, its pid in stream_pid.
start_stream() { rm -f "$1-stream.log" "$1-stream.err"; stream "$@" & stream_pid=$!; loops+=("$stream_pid"); }
# stream_done NODE PID: waits for NODE's stream PID (in this shell: a $(...) cannot wait for
# it); then queued NODE PER_SEND: the number of messages it queued.
stream_done() { wait "$2" 2>/dev/null; }
queued() { awk -v per="$2" '$2 == 0 { n += per } END { print n + 0 }' "$1-stream.log"; }
# failed_sends NODE: the sends of NODE's stream that failed.
failed_sends() { awk '$2 != 0' "$1-stream.log" | wc -l; }
# seq_of NODE PATTERN: the number of NODE's first audit entry matching PATTERN (0: none).
seq_of() { audit "$1"; awk -v pat="$2" '$0 ~ pat { print $1; exit }' "$1.audit" | grep . || echo 0; }

# want N: scenario N runs (ONLY="N ..." runs those alone; to debug one).
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
declare -A from
mark_audits() { local n; for n in "$@"; do from[$n]=$(last_seq "$n"); done; }
T_ALL=$EPOCHREALTIME

# === 1. a relay down for 60 s =================================================================
if want 1; then
  T1=$EPOCHREALTIME
  mark_audits a o rl
  start rl 1-rl
  start o 1-o --config "$WORK/outbound.conf"
  start a 1-a --config "$WORK/outbound.conf"
  PRE=100
  send a $O $PRE "before the relay outage"
  until_true 30 at_least $PRE n_ids o "${from[o]}" receive
  check $? "1: O did not receive the $PRE messages sent before the outage within 30 s"
  wait_drained 20 a:$O rl:$O; check $? "1: outboxes for $O not empty before the outage"
  crash rl
  t_kill=$EPOCHREALTIME
  echo "1: relay RL killed (SIGKILL) after $(since "$T1") s; A queues 10 messages a second for 60 s"
  sent_during=0
  for ((i = 0; i < 60; i++)); do
    sleep_until "$(awk -v a="$t_kill" -v i="$i" 'BEGIN { printf "%.3f", a + i }')"
    send a $O 10 "during the relay outage, second $i" && sent_during=$((sent_during + 10))
  done
  sleep_until "$(awk -v a="$t_kill" 'BEGIN { printf "%.3f", a + 60 }')"
  ids o "${from[o]}" receive >during.ids
  equals "1: messages O stored while its relay was down" "$(wc -l <during.ids)" $PRE
  owed=$(outbox a $O)
  [ "$owed" -gt 0 ]; check $? "1: A's outbox for $O is empty with its relay down ($sent_during queued)"
  start rl 1-rl-again
  t_back=$EPOCHREALTIME
  echo "1: RL started again after $(since "$t_kill") s down; A's outbox for $O held $owed of the $sent_during queued meanwhile"
  TOTAL=$((PRE + sent_during))
  wait_drained 90 a:$O rl:$O,$A o:$A; check $? "1: outboxes not empty 90 s after the relay came back: A $(outbox a $O), RL $(outbox rl $O)"
  took=$(since "$t_back")
  until_true 30 at_least $TOTAL receipted a "${from[a]}" delivered $O
  stop a; stop o; stop rl
  ids a "${from[a]}" send "to $O@$NET\$" >sent.ids
  equals "1: A's send entries" "$(wc -l <sent.ids)" $TOTAL
  ids o "${from[o]}" receive >received-all.ids
  once "1: O" received-all.ids
  ids o "${from[o]}" receive "from $A@$NET via $RL@$NET\$" >received.ids
  same_ids "1: stored by O (through RL) vs sent by A" received.ids sent.ids
  ids a "${from[a]}" delivered "to $O@$NET via $RL@$NET\$" >delivered.ids
  same_ids "1: custody recorded by A vs sent" delivered.ids sent.ids
  # A forward RL had passed on before its crash, whose custody answer was lost, may be taken
  # again: carried twice, stored once. Each one taken is passed on once.
  ids rl "${from[rl]}" relay "from $A@$NET for $O@$NET\$" >relayed.ids
  sort -u relayed.ids >relayed-once.ids
  same_ids "1: taken by RL (at least once each) vs sent" relayed-once.ids sent.ids
  ids rl "${from[rl]}" delivered "to $O@$NET\$" >passed.ids
  same_ids "1: passed on by RL vs taken" passed.ids relayed.ids
  equals "1: message ids A's delivered receipts by $O cover" "$(receipted a "${from[a]}" delivered $O)" $TOTAL
  equals "1: message ids A's relayed receipts by $RL cover" "$(receipted a "${from[a]}" relayed $RL)" "$(wc -l <relayed.ids)"
  for n in a o rl; do verify $n; done
  echo "1: relay down 60 s: A queued $TOTAL to O; outboxes empty $took s after RL came back; scenario took $(since "$T1") s"
fi

# === 2. a member offline for the whole run ======================================================
if want 2; then
  T2=$EPOCHREALTIME
  mark_audits s r m
  start s 2-s
  start m 2-m
  BATCH=500
  send s $R $BATCH "to the member that is offline"
  send s $M $BATCH "to the member that is online"
  t_sent=$EPOCHREALTIME
  wait_drained 30 s:$M; check $? "2: S's outbox for $M not empty 30 s after the batch: $(outbox s $M)"
  echo "2: M had its $BATCH after $(since "$t_sent") s"
  equals "2: S's outbox for the offline $R" "$(outbox s $R)" $BATCH
  equals "2: messages stored by M" "$(ids m "${from[m]}" receive "from $S@$NET via $S@$NET\$" | wc -l)" $BATCH
  sleep_until "$(awk -v a="$t_sent" 'BEGIN { printf "%.3f", a + 15 }')"  # S's retries meet a closed port a while
  start r 2-r
  t_back=$EPOCHREALTIME
  wait_drained 90 s:$R,$M r:$S m:$S; check $? "2: outboxes not empty 90 s after R started: S $(outbox s $R)"
  took=$(since "$t_back")
  stop s; stop m; stop r
  ids s "${from[s]}" send "to $R@$NET\$" >sent-r.ids
  ids s "${from[s]}" send "to $M@$NET\$" >sent-m.ids
  equals "2: S's send entries to $R" "$(wc -l <sent-r.ids)" $BATCH
  ids r "${from[r]}" receive >received-all.ids
  once "2: R" received-all.ids
  ids r "${from[r]}" receive "from $S@$NET via $S@$NET\$" >received.ids
  same_ids "2: stored by R vs sent" received.ids sent-r.ids
  ids m "${from[m]}" receive "from $S@$NET via $S@$NET\$" >received-m.ids
  same_ids "2: stored by M vs sent" received-m.ids sent-m.ids
  ids s "${from[s]}" delivered "to $R@$NET\$" >delivered.ids
  same_ids "2: custody recorded by S for $R vs sent" delivered.ids sent-r.ids
  equals "2: message ids S's delivered receipts by $R cover" "$(receipted s "${from[s]}" delivered $R)" $BATCH
  equals "2: message ids S's delivered receipts by $M cover" "$(receipted s "${from[s]}" delivered $M)" $BATCH
  for n in s r m; do verify $n; done
  echo "2: offline member: S queued $BATCH to R and $BATCH to M; outboxes empty $took s after R started; scenario took $(since "$T2") s"
fi

# === 3. a partition and its healing =============================================================
if want 3; then
  T3=$EPOCHREALTIME
  mark_audits s p
  if [ "$PARTITION" == netns ]; then
    start s 3-s --config "$WORK/s3.conf"
    start p 3-p --config "$WORK/p3.conf"
  else
    start s 3-s
    start p 3-p --config "$WORK/debug.conf"
  fi
  start_stream s $P 30 10 1 "across the partition"; s_loop=$stream_pid
  start_stream p $S 30 5 1 "back across the partition"; p_loop=$stream_pid
  if [ -n "$NETEM" ]; then
    tc qdisc add dev "$VETH_MAIN" root netem loss 10% delay 20ms 10ms reorder 25%
    check $? "3: netem could not be set on $VETH_MAIN"
  fi
  sleep_until "$(awk -v a="$T3" 'BEGIN { printf "%.3f", a + 8 }')"
  [ -n "$NETEM" ] && tc qdisc del dev "$VETH_MAIN" root
  if [ "$PARTITION" == netns ]; then ip link set "$VETH_MAIN" down; else kill -STOP "${pids[p]}"; fi
  check $? "3: the partition could not be made ($PARTITION)"
  t_cut=$EPOCHREALTIME
  echo "3: link cut ($([ $PARTITION == netns ] && echo "ip link set $VETH_MAIN down" || echo "SIGSTOP to P")) after $(since "$T3") s"
  sleep 3
  ids p "${from[p]}" receive >cut-early.ids
  ids s "${from[s]}" receive "from $P@$NET" >cut-early-s.ids
  sleep_until "$(awk -v a="$t_cut" 'BEGIN { printf "%.3f", a + 20 }')"
  ids p "${from[p]}" receive >cut-late.ids
  ids s "${from[s]}" receive "from $P@$NET" >cut-late-s.ids
  if [ "$PARTITION" == netns ]; then ip link set "$VETH_MAIN" up; else kill -CONT "${pids[p]}"; fi
  check $? "3: the partition could not be healed"
  t_back=$EPOCHREALTIME
  echo "3: link back after $(since "$t_cut") s"
  equals "3: messages P stored between 3 s and 20 s into the cut" "$(wc -l <cut-late.ids)" "$(wc -l <cut-early.ids)"
  equals "3: messages S stored from P between 3 s and 20 s into the cut" "$(wc -l <cut-late-s.ids)" "$(wc -l <cut-early-s.ids)"
  stream_done s "$s_loop"; s_sent=$(queued s 10)
  stream_done p "$p_loop"; p_sent=$(queued p 5)
  loops=()
  equals "3: failed sends of S's stream" "$(failed_sends s)" 0
  equals "3: failed sends of P's stream" "$(failed_sends p)" 0
  wait_drained 90 s:$P p:$S; check $? "3: outboxes not empty 90 s after the link came back: S $(outbox s $P), P $(outbox p $S)"
  took=$(since "$t_back")
  stop s; stop p
  # Both send and receive here: each one's `send` entries to the other are its messages and its
  # receipts for the other's messages (receipts are not receipted, nor audited as `receive`).
  ids s "${from[s]}" send "to $P@$NET\$" >sent-all.ids
  ids p "${from[p]}" send "to $S@$NET\$" >sent-all-p.ids
  ids p "${from[p]}" receive >received-all.ids
  once "3: P" received-all.ids
  equals "3: messages P stored" "$(wc -l <received-all.ids)" "$s_sent"
  ids p "${from[p]}" receive "from $S@$NET via $S@$NET\$" | grep -Fxf sent-all.ids >received.ids
  equals "3: messages P stored that S sent (its audit)" "$(wc -l <received.ids)" "$s_sent"
  ids s "${from[s]}" receive >received-all-s.ids
  once "3: S" received-all-s.ids
  equals "3: messages S stored" "$(wc -l <received-all-s.ids)" "$p_sent"
  ids s "${from[s]}" receive "from $P@$NET via $P@$NET\$" | grep -Fxf sent-all-p.ids >received-s.ids
  equals "3: messages S stored that P sent (its audit)" "$(wc -l <received-s.ids)" "$p_sent"
  ids s "${from[s]}" delivered "to $P@$NET\$" >delivered.ids
  same_ids "3: custody recorded by S vs its messages and receipts to P" delivered.ids sent-all.ids
  ids p "${from[p]}" delivered "to $S@$NET\$" >delivered-p.ids
  same_ids "3: custody recorded by P vs its messages and receipts to S" delivered-p.ids sent-all-p.ids
  equals "3: message ids S's delivered receipts by $P cover" "$(receipted s "${from[s]}" delivered $P)" "$s_sent"
  equals "3: message ids P's delivered receipts by $S cover" "$(receipted p "${from[p]}" delivered $S)" "$p_sent"
  for n in s p; do verify $n; done
  echo "3: partition ($PARTITION$([ -n "$NETEM" ] && echo ", netem")) of 20 s: S queued $s_sent to P, P $p_sent to S; outboxes empty $took s after it healed; scenario took $(since "$T3") s"
fi

# === 4. a revocation while the revoked member sends =============================================
if want 4; then
  T4=$EPOCHREALTIME
  mark_audits coord r x s
  start coord 4-coord
  start r 4-r --config "$WORK/debug.conf"
  start x 4-x
  start s 4-s
  send x $R 100 "before the revocation"
  wait_drained 30 x:$R; check $? "4: X's first 100 not delivered within 30 s"
  start_stream x $R 16 5 0.5 "while being revoked"; x_loop=$stream_pid
  sleep 3
  t_revoke=$(date +%s)
  setup network revoke $(P coord) --member $X --reason "left the network"
  publish revoke
  echo "4: $X revoked, roster v$VERSION published after $(since "$T4") s"
  until_true 20 is "$VERSION" roster_version r
  check $? "4: R did not take roster v$VERSION within 20 s (it holds v$(roster_version r))"
  t_learnt=$(date +%s)
  echo "4: R holds v$VERSION $((t_learnt - t_revoke)) s after the revocation"
  stream_done x "$x_loop"; x_sent=$(queued x 5)
  loops=()
  send s $R 50 "after the revocation"
  wait_drained 30 s:$R; check $? "4: S's 50 sent after the revocation not delivered within 30 s: $(outbox s $R)"
  sleep 3  # X's retries of what it queued after the revocation
  x_owed=$(outbox x $R)
  refused=$(counter r links_refused) untrusted=$(counter r dropped_untrusted) rejected=$(counter r rejected)
  for n in coord r x s; do stop $n; done
  roster_at=$(seq_of r " roster +$NET version $VERSION from ")
  [ "$roster_at" -gt 0 ]; check $? "4: R's audit log has no roster entry for v$VERSION"
  ids r "${from[r]}" receive >received-all.ids
  once "4: R" received-all.ids
  after=$(awk -v a="$roster_at" -v x="from $X@$NET" '$1 > a && $4 == "receive" && $0 ~ x' r.audit | wc -l)
  equals "4: messages from $X stored by R after it took roster v$VERSION" "$after" 0
  # What X queued up to 2 s before the revocation was published is at R, once.
  thr=$(date -u -d "@$((t_revoke - 2))" +%Y-%m-%dT%H:%M:%SZ)
  audit x
  awk -v a="${from[x]}" -v thr="$thr" -v to="to $R@$NET" '$1 > a && $4 == "send" && $2 < thr && $0 ~ to { print $5 }' x.audit | sort >early.ids
  ids r "${from[r]}" receive "from $X@$NET via $X@$NET\$" >received-x.ids
  grep -Fxf early.ids received-x.ids >early-stored.ids
  same_ids "4: X's messages queued before the revocation vs stored by R" early-stored.ids early.ids
  late=$(awk -v a="${from[x]}" -v t="$(date -u -d "@$((t_learnt + 1))" +%Y-%m-%dT%H:%M:%SZ)" -v to="to $R@$NET" \
    '$1 > a && $4 == "send" && $2 > t && $0 ~ to { print $5 }' x.audit | sort | tee late.ids | wc -l)
  [ "$late" -gt 0 ]; check $? "4: X queued nothing after R took the revocation (its stream: $(cat x-stream.log | tr '\n' ' '))"
  equals "4: X's messages queued after R took the revocation stored by R" "$(grep -Fxf late.ids received-x.ids | wc -l)" 0
  [ "$x_owed" -gt 0 ]; check $? "4: X's outbox for $R is empty, though R refuses it"
  [ "$refused" -gt 0 ]; check $? "4: R counted no refused link (links_refused $refused)"
  grep -q "warn: link from .* refused: its CURVE key is no current member's" 4-r.log
  check $? "4: R's log has no refused-link warning: $(grep -c refused 4-r.log) lines with 'refused'"
  ids s "${from[s]}" send "to $R@$NET\$" >sent-s.ids
  ids r "${from[r]}" receive "from $S@$NET via $S@$NET\$" >received-s.ids
  equals "4: S's sends after the revocation" "$(wc -l <sent-s.ids)" 50
  same_ids "4: stored by R from S vs sent" received-s.ids sent-s.ids
  for n in r x s; do verify $n; done
  echo "4: revocation: R took v$VERSION $((t_learnt - t_revoke)) s after it was published; X queued 100 then $x_sent in its stream; R stored $(wc -l <received-x.ids) from $X, among them all $(wc -l <early.ids) queued 2+ s before the revocation and none of the $late queued after; X still owes $x_owed; R: links_refused $refused, dropped_untrusted $untrusted, rejected $rejected; scenario took $(since "$T4") s"
fi

# === 5. clock skew ==============================================================================
if want 5; then
  if [ -n "${SKEW_SKIP:-}" ]; then
    echo "network_faults_test: scenario 5 skipped: $SKEW_SKIP"
  else
    T5=$EPOCHREALTIME
    # skew_phase N SECONDS: K runs with its clock SECONDS off ("": the real clock); S and K
    # send 50 to each other; the coordinator publishes a roster. Sets got_s (S stored from K), got_k,
    # receipts_s (ids S's delivered receipts by K cover), receipts_k, k_version, s_version.
    skew_phase() {
      local n=$1
      clock[k]=$2
      mark_audits s k
      start k 5$n-k --config "$WORK/debug.conf"
      send s $K 50 "to the skewed node, phase $n"
      send k $S 50 "from the skewed node, marked skewphase$n"
      wait_drained 30 s:$K k:$S; check $? "5$n (K's clock ${2:-0} s off): outboxes not empty after 30 s: S $(outbox s $K), K $(outbox k $S)"
      publish "skew-$n"
      # Two rounds of roster announcements (every 5 s) at least.
      until_true 12 is "$VERSION" roster_version s
      check $? "5$n: S (real clock) did not take roster v$VERSION"
      if [ "${2:-0}" -lt -300 ]; then sleep 8; else
        until_true 12 is "$VERSION" roster_version k
      fi
      k_version=$(roster_version k) s_version=$(roster_version s)
      sleep 2  # receipts, and the refusals of receipts
      ids s "${from[s]}" receive "from $K@$NET" >got-s.ids; got_s=$(wc -l <got-s.ids)
      ids k "${from[k]}" receive "from $S@$NET" >got-k.ids; got_k=$(wc -l <got-k.ids)
      receipts_s=$(receipted s "${from[s]}" delivered $K) receipts_k=$(receipted k "${from[k]}" delivered $S)
      refused_s=$(ids s "${from[s]}" refused "to $K@$NET: the receipt is dated outside" | wc -l)
      refused_k=$(ids k "${from[k]}" refused "to $S@$NET: the receipt is dated outside" | wc -l)
      # What S stored as the messages' creation time, by K's clock, against S's own.
      created=$("$(dirname "$COMITYD")/comity" search "skewphase$n" --json --limit 1 --home "$WORK/s" 2>/dev/null |
                python3 -c 'import json, sys, time; h = json.load(sys.stdin)["hits"]; print(int(h[0]["created_at"]) - int(time.time()) if h else "none")' 2>/dev/null)
      stop k
      echo "5$n: K's clock ${2:-0} s off: S stored $got_s from K (created ${created:-?} s from S's now), K stored $got_k from S; delivered receipts: S got $receipts_s (refused $refused_k from K), K got $receipts_k (refused $refused_s from S); roster v$VERSION: S holds v$s_version, K v$k_version"
    }
    start coord 5-coord
    start s 5-s
    skew_phase a 3600
    equals "5a (K an hour ahead): messages S stored from K" "$got_s" 50
    equals "5a: messages K stored from S" "$got_k" 50
    equals "5a: K's delivered receipts S took (dated 1 h in its future)" "$receipts_s" 0
    [ "$refused_k" -gt 0 ]; check $? "5a: K recorded no refusal of its receipts by S"
    equals "5a: S's delivered receipts K took" "$receipts_k" 50
    equals "5a: the roster version K (ahead) took" "$k_version" "$VERSION"
    skew_phase b -3600
    equals "5b (K an hour behind): messages S stored from K" "$got_s" 50
    equals "5b: messages K stored from S" "$got_k" 50
    equals "5b: K's delivered receipts S took" "$receipts_s" 50
    equals "5b: S's delivered receipts K took (dated 1 h in its future)" "$receipts_k" 0
    [ "$refused_s" -gt 0 ]; check $? "5b: S recorded no refusal of its receipts by K"
    [ "$k_version" -lt "$VERSION" ]; check $? "5b: K (behind) took roster v$VERSION, issued an hour in its future"
    grep -q "roster from .* not taken: .*future" 5b-k.log; check $? "5b: K's log does not say why it did not take the roster: $(grep -m1 'not taken' 5b-k.log)"
    skew_phase c ""
    equals "5c (K on the real clock again): messages S stored from K" "$got_s" 50
    equals "5c: messages K stored from S" "$got_k" 50
    equals "5c: K's delivered receipts S took" "$receipts_s" 50
    equals "5c: S's delivered receipts K took" "$receipts_k" 50
    equals "5c: the roster version K took" "$k_version" "$VERSION"
    stop s; stop coord
    for n in s k; do verify $n; done
    echo "5: clock skew: scenario took $(since "$T5") s"
  fi
fi

echo "network_faults_test: ran $(since "$T_ALL") s"
echo "network_faults_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
