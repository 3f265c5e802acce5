#!/usr/bin/env bash
# Reliable delivery across crashes, with real `comityd run` processes: a batch of 2000
# messages queued with `comityd send` arrives exactly once although, mid-batch, the receiver
# (scenario 1), the sender (2) or the relay of an outbound-only receiver (3) is killed with
# SIGKILL and started again 2 s later. Each scenario waits (120 s at most) until every outbox
# on the way is empty, stops the daemons with SIGTERM, and counts the batch in the audit logs:
# the receiver stored it once (exactly one `receive` per message), the sender recorded one
# `delivered` per message (a relay: each message it took passed on once), and every archive
# verifies as intact. It prints when each victim died and how long each delivery took.
# Then the same for a 100 MiB attachment (scenarios 4 to 6: receiver, sender, relay killed in
# the middle of its transfer, paced at 20 MB/s by the receiving side so that there is a
# middle): it arrives once, checked, and the transfer resumes from what had arrived instead of
# starting over (docs/PROTOCOL.md §10.6).
# Usage: daemon_faults_test.sh PATH_TO_COMITYD   (KEEP_WORK=1 keeps the homes and logs)
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: daemon_faults_test.sh PATH_TO_COMITYD}")
[ -x "$COMITYD" ] || { echo "daemon_faults_test: no comityd at $COMITYD" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-faults-test.XXXXXX)
declare -A pids     # node -> pid of its `comityd run` while it runs: none outlives the script
declare -A waiters  # node -> the subshell that waits for it (see start)
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE

BATCH=2000          # messages per scenario
DELIVERY_LIMIT=120  # seconds a batch may take, crash and restart included
NET=FaultNet
S=ES-SENDER R=PT-RECEIVER RL=RELAY-ONE O=FR-OUTBOUND

passphrases coord s r rl o
read -r port_coord port_s port_r port_rl < <(free_ports 4)
[ -n "${port_rl:-}" ] || { echo "daemon_faults_test: python3 found no free ports" >&2; exit 1; }

# --- one network: sender s, receiver r, relay rl, and o, outbound only, reached through rl ---
setup init $(P coord) --id FAULT-COORD --name "Fault Secretariat" --country ES --listen tcp://127.0.0.1:$port_coord
setup network create $(P coord) --network $NET
setup init $(P s) --id $S --name "Sending Authority" --country ES --listen tcp://127.0.0.1:$port_s
setup init $(P r) --id $R --name "Receiving Authority" --country PT --listen tcp://127.0.0.1:$port_r
setup init $(P rl) --id $RL --name "Relay One" --country BE --listen tcp://127.0.0.1:$port_rl
setup init $(P o) --id $O --name "Outbound Authority" --country FR --via $RL
for n in s r rl o; do setup enroll $(P $n) --out $n.request; done
setup network admit $(P coord) --request s.request --role central-authority
setup network admit $(P coord) --request r.request --role central-authority
setup network admit $(P coord) --request rl.request --role relay
setup network admit $(P coord) --request o.request --role central-authority
setup network publish $(P coord) --out net.roster
setup network root $(P coord) --out net.root
for n in s r rl o; do setup join $(P $n) --roster net.roster --root net.root; done
[ "$failed" -eq 0 ] || { echo "daemon_faults_test: setup failed, nothing checked" >&2; exit 1; }

# The receivers log each message they store (debug level, after its commit): the first such
# line is the moment to kill the victim.
printf 'log_level: "debug"\n' >r.conf
printf 'log_level: "debug"\nrelays: "%s@%s"\n' "$RL" "$NET" >o.conf

# wait_line LOG PATTERN SECONDS: until LOG has a line matching PATTERN (log_to may lag behind
# its daemon).
wait_line() {
  local end; end=$(deadline "$3")
  while before "$end"; do
    grep -qs -- "$2" "$1" && return 0
    sleep 0.02
  done
  return 1
}

# start NODE RUN [ARGS...]: `comityd run` of NODE in the background, its stderr copied by
# log_to into RUN.log; waits (10 s at most) for its running line. With KILL_VICTIM=NODE2 set,
# NODE2 gets SIGKILL the moment this run logs its first stored message: the whole batch takes
# about a second, so a poll would often come too late. A subshell waits for the daemon and
# exits with its status, so that this shell does not report the kills as "Killed" jobs.
start() {
  local node=$1 run=$2 end; shift 2
  rm -f "$node.pid"
  ( "$COMITYD" run $(P "$node") "$@" >"$run.out" 2> >(log_to "$run.log" "${KILL_VICTIM:-}") </dev/null &
    echo "$!" >"$node.pid.new" && mv "$node.pid.new" "$node.pid"
    wait "$!" ) 2>/dev/null &
  waiters[$node]=$!
  end=$(deadline 5)
  while [ ! -s "$node.pid" ] && before "$end"; do sleep 0.01; done
  pids[$node]=$(cat "$node.pid" 2>/dev/null)
  if wait_line "$run.log" ': info: running as ' 10; then ok; else bad "$node ($run.log) did not start: $(tail -n 3 "$run.log")"; fi
}
# log_to FILE VICTIM: copies stdin to FILE line by line; on the first "received" line, when
# VICTIM is given, sends SIGKILL to the pid in VICTIM.pid. (mawk would hold lines back.)
log_to() {
  python3 -c '
import os, sys
path, victim = sys.argv[1], sys.argv[2]
with open(path, "ab", buffering=0) as out:
    for line in sys.stdin.buffer:
        out.write(line)
        if victim and b": debug: received " in line:
            with open(victim + ".pid") as f:
                os.kill(int(f.read()), 9)
            victim = ""
' "$@"
}
# killed NODE SECONDS: waits until NODE's run has died of SIGKILL (start's KILL_VICTIM), reaps it.
killed() {
  local pid=${pids[$1]} waiter=${waiters[$1]}
  if ! wait_exit "$waiter" "$2"; then bad "$1 was not killed within $2 s"; kill -9 "$pid"; wait "$waiter"; fi
  unset "pids[$1]"
  [ "$rc" -eq 137 ]; check $? "$1 exited $rc, not by SIGKILL (137)"
}
# stop NODE LOG: SIGTERM must make it exit 0 within 10 s, logging "stopped".
stop() {
  local pid=${pids[$1]} waiter=${waiters[$1]}
  kill -TERM "$pid"
  if ! wait_exit "$waiter" 10; then bad "$1: still running 10 s after SIGTERM: $(tail -n 3 "$2")"; kill -9 "$pid"; wait "$waiter"
  elif [ "$rc" -ne 0 ]; then bad "$1: exit $rc after SIGTERM, wanted 0: $(tail -n 3 "$2")"
  elif ! wait_line "$2" ': info: stopped$' 5; then bad "$1: no 'stopped' line after SIGTERM: $(tail -n 3 "$2")"
  else ok; fi
  unset "pids[$1]"
}

# outbox NODE MEMBER: the depth of NODE's outbox for MEMBER@NET in its status (no row: 0).
outbox() {
  "$COMITYD" status --home "$WORK/$1" 2>/dev/null | awk -v m="$2@$NET" '
    $1 == m { for (i = 1; i < NF; i++) if ($i == "outbox") { print $(i + 1); found = 1 } }
    END { if (!found) print 0 }'
}
# drained MARK NODE MEMBER: NODE runs (status exit 0), and a status it wrote after MARK was
# touched (it writes one every 2 s) shows no outbox entry for MEMBER.
drained() {
  [ "$WORK/$2/status.pb" -nt "$1" ] && "$COMITYD" status --home "$WORK/$2" >status.txt 2>/dev/null &&
    awk -v m="$3@$NET" '$1 == m { for (i = 1; i < NF; i++) if ($i == "outbox" && $(i + 1) != 0) bad = 1 }
                        END { exit bad }' status.txt
}
# wait_drained MARK SECONDS NODE MEMBER [NODE MEMBER...]: until every NODE's outbox for its
# MEMBER is empty.
wait_drained() {
  local mark=$1 end j all; end=$(deadline "$2"); shift 2
  local pairs=("$@")
  while before "$end"; do
    all=0
    for ((j = 0; j < ${#pairs[@]}; j += 2)); do drained "$mark" "${pairs[j]}" "${pairs[j + 1]}" || all=1; done
    [ "$all" -eq 0 ] && return 0
    sleep 0.2
  done
  return 1
}

# audit NODE: NODE's whole audit log into NODE.audit (also while it runs, or after a crash).
audit() {
  "$COMITYD" archive log $(P "$1") --last 999999 >"$1.audit" 2>"$1.audit.err" </dev/null ||
    bad "archive log of $1 failed: $(cat "$1.audit.err")"
}
last_seq() { audit "$1"; awk 'END { print $1 + 0 }' "$1.audit"; }
# entries NODE AFTER ACTION [PATTERN]: NODE's ACTION entries numbered above AFTER whose line
# matches PATTERN (awk), as "SECONDS ID", sorted by id. The audit log shows a message id by its
# first 8 bytes, which are its created_at (docs/PROTOCOL.md §6.3): it tells batches apart, not
# the messages of one batch, so exactly-once rests on the counts.
entries() {
  audit "$1"
  awk -v after="$2" -v action="$3" -v pat="${4:-}" '$1 > after && $4 == action && $0 ~ pat { print $2, $5 }' "$1.audit" |
    sort -k2
}
ids() { cut -d' ' -f2 "$1"; }
of_batch() { awk 'NR == FNR { batch[$2] = 1; next } $2 in batch' sent.ids -; }  # entries of sent.ids' batch
# same_ids WHAT A_FILE B_FILE: the two lists of entries name the same ids, as many times each.
same_ids() {
  if [ "$(ids "$2")" == "$(ids "$3")" ]; then ok; else
    bad "$1: the ids differ ($(wc -l <"$2") vs $(wc -l <"$3")): $(diff <(ids "$2") <(ids "$3") | head -4 | tr '\n' ' ')"; fi
}
# span FIRST LAST...: seconds from the earliest entry in file FIRST to the latest in files LAST.
span() {
  local a b first=$1; shift
  a=$(date -d "$(cut -d' ' -f1 "$first" | sort | head -1)" +%s) b=$(date -d "$(cut -d' ' -f1 "$@" | sort | tail -1)" +%s)
  echo $((b - a))
}
verify() { expect 0 'is intact' -- archive verify $(P "$1"); }

# scenario N VICTIM TO WHAT: runs the sender s and the receiver TO (r, or o with its relay
# rl), queues a batch from s to TO, kills VICTIM with SIGKILL as soon as TO has stored part of
# it, starts VICTIM again 2 s later, waits until every outbox on the way is empty, stops all
# with SIGTERM and counts what the audit logs hold of the batch. Once o has linked to s (to
# send its receipts), s may deliver to o over that link instead of through rl (PROTOCOL.md
# §10.3 step 2): both hops count.
scenario() {
  local n=$1 victim=$2 to=$3 what=$4 member hops nodes node
  # The sender reaches o through rl, or directly over the link o opens to it for receipts.
  if [ "$to" == o ]; then member=$O hops="($S|$RL)" nodes="rl o s"; else member=$R hops=$S nodes="s r"; fi
  declare -A from
  for node in $nodes; do from[$node]=$(last_seq $node); done
  for node in $nodes; do
    if [ "$node" == "$to" ]; then KILL_VICTIM=$victim start $node $n-$node --config "$WORK/$to.conf"
    else start $node $n-$node; fi
  done
  local t0=$EPOCHREALTIME
  "$COMITYD" send $(P s) --to "$member@$NET" --text "$what" --count $BATCH >send.out 2>&1 </dev/null
  check $? "$n: send of $BATCH messages to $member failed: $(cat send.out)"
  killed $victim 30
  local at_kill=$(since "$t0") stored delivered relayed passed_on
  # The batch, as the audit logs name it: the entries below count only its messages (not
  # those of an earlier batch, should one be late).
  entries s "${from[s]}" send "to $member@$NET\$" >sent.ids
  [ "$(wc -l <sent.ids)" -eq $BATCH ]; check $? "$n: $S audited $(wc -l <sent.ids) sends, wanted $BATCH"
  # Mid-batch: the receiver holds part of the batch, and the victim had work left.
  stored=$(entries $to "${from[$to]}" receive | of_batch | grep -c .)
  delivered=$(entries s "${from[s]}" delivered "to $member@$NET" | of_batch | grep -c .)
  [ "$stored" -gt 0 ] && [ "$stored" -lt $BATCH ] || [ "$victim" != r ]
  check $? "$n: $member was not killed mid-batch: it had stored $stored of $BATCH"
  [ "$delivered" -lt $BATCH ] || [ "$victim" != s ]
  check $? "$n: $S was not killed mid-batch: it had recorded custody of all $BATCH"
  local state="$member had stored $stored, $S had custody recorded for $delivered"
  if [ "$victim" == rl ]; then
    relayed=$(entries rl "${from[rl]}" relay | of_batch | grep -c .)
    passed_on=$(entries rl "${from[rl]}" delivered | of_batch | grep -c .)
    [ "$passed_on" -lt "$relayed" ]  # it held messages it had taken custody of
    check $? "$n: $RL was not killed mid-batch: $state, it had taken $relayed and passed on $passed_on"
    state+=", $RL had taken $relayed and recorded $passed_on passed on"
  fi
  echo "$n: $what: SIGKILL after $at_kill s: $state (of $BATCH)"
  sleep 2  # the victim stays down a while: retries meet a closed port, or no link at all
  touch restarted.mark
  if [ "$victim" == "$to" ]; then start $victim $n-$victim-again --config "$WORK/$to.conf"
  else start $victim $n-$victim-again; fi
  local -a owed=(s "$member")
  [ "$to" == o ] && owed+=(rl "$member")
  local outboxes="outboxes seen empty"
  wait_drained restarted.mark $DELIVERY_LIMIT "${owed[@]}" || outboxes="outboxes NOT empty"
  [ "$outboxes" == "outboxes seen empty" ]
  check $? "$n: outboxes for $member still not empty $DELIVERY_LIMIT s after the restart: $S $(outbox s "$member")$(
    [ "$to" == o ] && echo ", $RL $(outbox rl "$member")")"
  outboxes+=" after $(since "$t0") s"
  for node in $nodes; do
    if [ "$node" == "$victim" ]; then stop $node $n-$node-again.log; else stop $node $n-$node.log; fi
  done

  entries $to "${from[$to]}" receive | of_batch >received-all.ids
  [ "$(wc -l <received-all.ids)" -eq $BATCH ]
  check $? "$n: $member audited $(wc -l <received-all.ids) receives of the batch, wanted exactly $BATCH (one per message)"
  entries $to "${from[$to]}" receive "from $S@$NET via $hops@$NET\$" | of_batch >received.ids
  same_ids "$n: received by $member vs sent" received.ids sent.ids
  entries s "${from[s]}" delivered "to $member@$NET( via $RL@$NET)?\$" | of_batch >delivered.ids
  same_ids "$n: custody recorded by $S vs sent" delivered.ids sent.ids
  local -a last=(delivered.ids received.ids)
  local through=""
  if [ "$to" == o ]; then
    # A forward the relay had passed on before the crash, whose custody answer was lost, may
    # be taken again: carried twice, stored once. Each one taken is passed on once.
    entries rl "${from[rl]}" relay "from $S@$NET for $member@$NET\$" | of_batch >relayed.ids
    entries rl "${from[rl]}" delivered "to $member@$NET\$" | of_batch >passed.ids
    [ -s relayed.ids ]; check $? "$n: $RL took none of the batch"
    same_ids "$n: passed on by $RL vs taken" passed.ids relayed.ids
    last+=(passed.ids)
    entries $to "${from[$to]}" receive "via $RL@$NET\$" | of_batch >via-relay.ids
    through="; $(wc -l <via-relay.ids) came through $RL, which took $(wc -l <relayed.ids) forwards"
  fi
  for node in $nodes; do verify $node; done
  echo "$n: $what: delivery took $(span sent.ids "${last[@]}") s by the audit logs ($outboxes)$through"
}

if [ -z "${ONLY_FILES:-}" ]; then  # ONLY_FILES=1: the attachment scenarios alone (to debug them)
  scenario 1 r r "receiver killed"
  scenario 2 s r "sender killed"
  scenario 3 rl o "relay killed"
fi

# --- attachments -----------------------------------------------------------------------------
FILE_BYTES=$((100 * 1024 * 1024))
STREAM_BYTES=$((32 + 21 * ((FILE_BYTES + 65535) / 65536) + FILE_BYTES + 61))  # StreamSizeFor, §7
head -c $FILE_BYTES /dev/urandom >big.bin
# The receiving side of each transfer paces it, so that a kill lands in its middle.
printf 'limits { file_bytes_per_second: 20000000 }\n' >paced.conf
printf 'limits { file_bytes_per_second: 20000000 }\nrelays: "%s@%s"\n' "$RL" "$NET" >o-paced.conf
# counter NODE NAME: the counter in NODE's last status (0 when absent).
counter() {
  "$COMITYD" status --home "$WORK/$1" 2>/dev/null | tr ',' '\n' | awk -v k="$2" '$1 == k || $2 == k { print $NF; f = 1 } END { if (!f) print 0 }'
}
# wait_counter NODE NAME MIN SECONDS: until NODE's status shows NAME above MIN.
wait_counter() {
  local end; end=$(deadline "$4")
  while before "$end"; do
    [ "$(counter "$1" "$2")" -gt "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

# file_scenario N VICTIM TO WHAT: s sends big.bin to TO (r, or o through rl); VICTIM gets
# SIGKILL once the node fetching from it, or VICTIM itself, has 20 MB of the stream; 2 s later
# it runs again. Checks: the message stored once with its attachment, the transfer resumed
# (a fetcher killed: its next run logs "resuming" and fetches less than the whole stream; a
# server killed: the fetcher fetched every byte once), every archive intact.
file_scenario() {
  local n=$1 victim=$2 to=$3 what=$4 member nodes node fetcher conf
  if [ "$to" == o ]; then member=$O nodes="rl o s" conf=o-paced.conf; else member=$R nodes="s r" conf=paced.conf; fi
  # Who fetches from whom: r from s; rl from s, then o from rl (the kill hits the first hop).
  if [ "$to" == o ]; then fetcher=rl; else fetcher=r; fi
  declare -A from
  for node in $nodes; do from[$node]=$(last_seq $node); done
  for node in $nodes; do
    case $node in
      "$to") start $node $n-$node --config "$WORK/$conf" ;;
      rl) start $node $n-$node --config "$WORK/paced.conf" ;;
      *) start $node $n-$node ;;
    esac
  done
  local t0=$EPOCHREALTIME
  "$COMITYD" send $(P s) --to "$member@$NET" --text "$what" --attach big.bin >send.out 2>&1 </dev/null
  check $? "$n: send of big.bin to $member failed: $(cat send.out)"
  if wait_counter $fetcher file_bytes_in 20000000 60; then ok; else bad "$n: $fetcher never had 20 MB of big.bin"; fi
  kill -9 "${pids[$victim]}"
  killed $victim 10
  local at=$(counter $fetcher file_bytes_in)
  echo "$n: $what: SIGKILL after $(since "$t0") s, with $at of $STREAM_BYTES stream bytes at $fetcher"
  sleep 2
  touch restarted.mark
  case $victim in
    "$to") start $victim $n-$victim-again --config "$WORK/$conf" ;;
    rl) start $victim $n-$victim-again --config "$WORK/paced.conf" ;;
    *) start $victim $n-$victim-again ;;
  esac
  # First the file at its recipient (a relay's outbox is empty until it holds the whole file),
  # then every outbox on the way empty.
  wait_counter $to files_in 0 $DELIVERY_LIMIT
  check $? "$n: $member did not receive the attachment within $DELIVERY_LIMIT s of the restart"
  local -a owed=(s "$member")
  [ "$to" == o ] && owed+=(rl "$member")
  wait_drained restarted.mark $DELIVERY_LIMIT "${owed[@]}"
  check $? "$n: outboxes for $member still not empty $DELIVERY_LIMIT s after the restart"
  local took=$(since "$t0")
  for node in $nodes; do
    if [ "$node" == "$victim" ]; then stop $node $n-$node-again.log; else stop $node $n-$node.log; fi
  done
  local stored
  stored=$(entries $to "${from[$to]}" receive "from $S@$NET via .* with 1 attachments\$" | grep -c .)
  [ "$stored" -eq 1 ]; check $? "$n: $member audited $stored receives of the message with its attachment, wanted 1"
  local fetched=$(counter $fetcher file_bytes_in)
  if [ "$victim" == "$fetcher" ]; then
    grep -q ': info: resuming ' $n-$victim-again.log
    check $? "$n: $fetcher's second run did not resume: $(grep -c resuming $n-$victim-again.log) resuming lines"
    [ "$fetched" -lt "$STREAM_BYTES" ] && [ "$fetched" -gt 0 ]
    check $? "$n: $fetcher's second run fetched $fetched bytes, wanted the rest only (less than $STREAM_BYTES)"
  else
    [ "$fetched" -eq "$STREAM_BYTES" ]
    check $? "$n: $fetcher fetched $fetched bytes in all, wanted each of the $STREAM_BYTES once"
  fi
  for node in $nodes; do verify $node; done
  echo "$n: $what: delivered after $took s; $fetcher fetched $fetched bytes in its last run"
}

file_scenario 4 r r "attachment, receiver killed"
file_scenario 5 s r "attachment, sender killed"
file_scenario 6 rl o "attachment, relay killed"

echo "daemon_faults_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
