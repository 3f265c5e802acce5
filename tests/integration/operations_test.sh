#!/usr/bin/env bash
# Runs the procedures of docs/OPERATIONS.md ("Running a network") with real daemons, in the
# order an operator would: the network root kept offline (the coordinator's online node is a
# copy of its home without root.key and network.pb), a member admitted while the others sit
# idle (the new roster reaches them over the links they keep to the coordinator, and only then
# do they let the newcomer in), a certificate about to expire (a warning in the log), a
# revocation, the rotation of a member's keys (its old archive kept and intact), and a backup
# restored onto an empty home. Monitoring: `comityd status` exit codes, `comityd members`.
# Usage: operations_test.sh PATH_TO_COMITYD [PATH_TO_COMITY]
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: operations_test.sh PATH_TO_COMITYD [PATH_TO_COMITY]}")
COMITY=$(realpath "${2:-$(dirname "$COMITYD")/comity}")
[ -x "$COMITYD" ] && [ -x "$COMITY" ] || { echo "operations_test: no comityd or comity beside $COMITYD" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-ops-test.XXXXXX)
declare -A pids  # node -> pid of its `comityd run`
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE

passphrases offline a b c
cp offline.pass online.pass
read -r port_coord port_a port_b port_c < <(free_ports 4)
[ -n "${port_c:-}" ] || { echo "operations_test: python3 found no free ports" >&2; exit 1; }

start() {  # start NODE [ARGS...]: comityd run in the background, until its running line
  local node=$1; shift
  "$COMITYD" run $(P "$node") "$@" >"$node.log" 2>&1 </dev/null &
  pids[$node]=$!
  wait_log "$node.log" 'info: running as' "${pids[$node]}" 10
  check $? "$node did not start: $(cat "$node.log")"
}
stop() {  # stop NODE: SIGTERM, exit 0 within 10 s
  kill -TERM "${pids[$1]}"
  if wait_exit "${pids[$1]}" 10 && [ "$rc" -eq 0 ]; then ok; else bad "$1 did not stop with exit 0 (rc $rc): $(tail -n 3 "$1.log")"; fi
  unset "pids[$1]"
}
# publish VERSION: the offline copy publishes, the online coordinator joins it and is told
# (SIGHUP); the roster file is what is carried from one machine to the other.
publish() {
  setup network publish $(P offline) --out "$WORK/ibr-$1.roster"
  setup join $(P online) --roster "$WORK/ibr-$1.roster"
  kill -HUP "${pids[online]}"
}
# roster_at NODE VERSION SECONDS: the running NODE holds that roster version within SECONDS.
roster_at() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    "$COMITYD" status --home "$WORK/$1" 2>/dev/null | grep -q "^Rosters: *IberRed v$2\$" && return 0
    sleep 0.2
  done
  return 1
}
# found NODE WORDS...: `comity search` at NODE gives exactly one match within 10 s.
found() {
  local node=$1 i; shift
  for ((i = 0; i < 50; i++)); do
    "$COMITY" search "$@" --home "$WORK/$node" 2>/dev/null | grep -q '^1 match' && return 0
    sleep 0.2
  done
  return 1
}
delivered() {  # delivered FROM TO: a comity ping is delivered
  COMITYD=$COMITY expect 0 "^  delivered +by $2@IberRed" -- ping "$2" --timeout 15 --home "$WORK/$1"
}

# --- the key ceremony: root made offline, the online node a copy without it -----------------
setup init $(P offline) --id IBR-SEC --name "IberRed Secretariat" --country ES --listen tcp://127.0.0.1:$port_coord
setup network create $(P offline) --network IberRed
setup network root $(P offline) --out "$WORK/ibr.root"
# as the guide does it: a tar of the home without root.key and network.pb, unpacked online
tar -C offline --exclude=./root.key --exclude=./network.pb -cf online.tar .
mkdir -m 0700 online && tar -C online -xf online.tar
[ ! -e online/root.key ] && [ ! -e online/network.pb ] && [ -e online/keys ]; check $? "the online copy: $(ls online)"
expect 1 'holds no network root' -- network publish $(P online) --out "$WORK/x.roster"
for n in a b; do
  id=$([ $n == a ] && echo ES-MJ || echo PT-PGR); port=$([ $n == a ] && echo "$port_a" || echo "$port_b")
  setup init $(P $n) --id "$id" --name "Authority $n" --country ES --listen tcp://127.0.0.1:$port
  setup enroll $(P $n) --out "$WORK/$n.request"
  setup network admit $(P offline) --request "$WORK/$n.request" --role central-authority --languages es,pt
done
setup network publish $(P offline) --out "$WORK/ibr-2.roster"
for n in online a b; do setup join $(P $n) --roster "$WORK/ibr-2.roster" --root "$WORK/ibr.root"; done
[ "$failed" -eq 0 ] || { echo "operations_test: setup failed, nothing checked" >&2; exit 1; }
for n in online a b; do start $n; done
delivered a IBR-SEC
expect 0 '^  IBR-SEC  ES  coordinator  IberRed Secretariat  \[valid\]  until [0-9]{4}-[0-9]{2}-[0-9]{2}$' -- members --home "$WORK/a"

# --- admitting a member while the others are idle -------------------------------------------
# B has sent nothing and received nothing; it keeps a link to the coordinator, and that is
# how version 3 reaches it. Without it B would refuse C's link, holding version 2.
setup init $(P c) --id FR-MJ --name "Authority c" --country FR --listen tcp://127.0.0.1:$port_c
setup enroll $(P c) --out "$WORK/c.request"
setup network admit $(P offline) --request "$WORK/c.request" --role central-authority --languages fr --valid-days 10
publish 3
roster_at b 3 15; check $? "the idle member B did not learn roster version 3: $("$COMITYD" status --home "$WORK/b" 2>&1 | grep Rosters)"
roster_at a 3 15; check $? "the idle member A did not learn roster version 3"
setup join $(P c) --roster "$WORK/ibr-3.roster" --root "$WORK/ibr.root"
start c
delivered c PT-PGR
grep -Eq '^comityd\[FR-MJ\]: warn: the certificate of FR-MJ@IberRed expires in 9 days: .*rotate its keys' c.log
check $? "no expiry warning for a certificate valid 10 days: $(cat c.log)"
if grep -q 'certificate of' a.log; then bad "a certificate valid 730 days was warned about: $(cat a.log)"; else ok; fi

# The online coordinator node does what a coordinator's node does, without the root.
COMITYD=$COMITY expect 0 'Notice 1 sent to ES-MJ@IberRed, FR-MJ@IberRed, PT-PGR@IberRed' -- notice send --network IberRed --subject "24/7 rota" --body "numbers" --home "$WORK/online"

# --- revocation ------------------------------------------------------------------------------
setup network revoke $(P offline) --member FR-MJ --reason "left the network"
publish 4
roster_at a 4 15 && roster_at b 4 15; check $? "a revocation did not reach the members"
expect 1 'FR-MJ@IberRed does not verify: revoked' -- verify $(P a) --network IberRed --member FR-MJ
if "$COMITY" ping ES-MJ --timeout 3 --home "$WORK/c" >out.txt 2>&1; then bad "the revoked member's ping was delivered"
else grep -q 'no delivered receipt within 3 s' out.txt; check $? "the revoked member's ping: $(cat out.txt)"; fi
stop c

# --- rotating B's keys: a new home under the same id, the old one kept -----------------------
# The old node still runs, linked in to A, while the rotation is published: A must cut off the
# old key (its holder could be anyone now), not keep taking frames from it as PT-PGR.
expect 0 '^Queued ' -- send $(P a) --to PT-PGR --text "before the rotation"
found b rotation; check $? "B did not receive the message sent before its rotation"
stop b
echo 'relays: "ES-MJ@IberRed"' >b-dials-a.conf   # a link from B into A's listener, kept open
start b --config "$WORK/b-dials-a.conf"
expect 0 '^Queued ' -- send $(P b) --to ES-MJ --text "from the old keys"
found a old keys; check $? "A did not receive the message from B's old keys"
cp b.pass b-new.pass
setup init $(P b-new) --id PT-PGR --name "Authority b" --country ES --listen tcp://127.0.0.1:$port_b
setup enroll $(P b-new) --out "$WORK/b2.request"
setup network revoke $(P offline) --member PT-PGR --reason "key rotation"
setup network admit $(P offline) --request "$WORK/b2.request" --role central-authority --languages es,pt
publish 5
roster_at a 5 15; check $? "A did not learn the rotated keys"
wait_log a.log 'info: reopened the listener' "${pids[a]}" 10
check $? "A kept the link of B's old key open after the rotation: $(tail -n 3 a.log)"
stop b
mv b b-old && mv b-new b && cp b.pass b-old.pass
setup join $(P b) --roster "$WORK/ibr-5.roster" --root "$WORK/ibr.root"
start b
delivered a PT-PGR
expect 0 'is intact' -- archive verify $(P b-old)
expect 0 ' receive ' -- archive log $(P b-old) --last 100

# --- backup while running, restore onto an empty home ----------------------------------------
printf 'attachment kept in blobs\n' >exhibit.txt
expect 0 '^Queued ' -- send $(P a) --to PT-PGR --text "kept in the backup" --attach "$WORK/exhibit.txt"
found b kept backup; check $? "B did not receive the message with an attachment"
expect 0 'written to' -- archive backup $(P b) --out "$WORK/b-archive.backup"
(umask 077; tar -C b -cf b-files.tar node.conf keys trust.pb blobs)
expect 0 '^Queued ' -- send $(P a) --to PT-PGR --text "after the backup"
found b after; check $? "B did not receive the message sent after the backup"
stop b
mv b b-lost
mkdir -m 0700 b
tar -C b -xf b-files.tar
expect 0 'restored from' -- archive restore $(P b) --from "$WORK/b-archive.backup"
expect 0 'is intact' -- archive verify $(P b)
expect 0 '1 blobs decrypt' -- archive verify $(P b)
start b
delivered a PT-PGR
found b kept backup; check $? "the restored archive lacks the message of the backup"
# What came after the backup is not in it (the sender's archive holds it, with its receipt).
COMITYD=$COMITY expect 0 '^0 matches' -- search after --home "$WORK/b"
found a after; check $? "the sender's archive lacks the message sent after the backup"

# --- monitoring: status exit codes -----------------------------------------------------------
expect 0 '^Running, pid' -- status --home "$WORK/b"
for n in a b online; do stop $n; done
"$COMITYD" status --home "$WORK/b" >out.txt 2>&1; rc=$?
[ "$rc" -eq 3 ] && grep -q '^Not running; last status' out.txt; check $? "comityd status of a stopped node: exit $rc, $(head -2 out.txt)"
for n in a b online offline; do expect 0 'is intact' -- archive verify $(P $n); done

echo "operations_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
