#!/usr/bin/env bash
# Runs the real daemon (`comityd run`) of two members of one network and checks its life
# cycle: the line it logs when it runs, a clean exit on SIGTERM and SIGINT, a reload on SIGHUP,
# and its refusals: a bad configuration (before any passphrase is asked for), a port already
# taken, a node in no roster, a wrong passphrase. Every refusal is one line on stderr with its
# exit code; after a stop the node's archive verifies as intact. With the client `comity`
# beside it, its local API too: status (text and JSON), ping along the real path, refusals,
# the socket's mode, and "not running" (exit 3).
# Usage: daemon_run_test.sh PATH_TO_COMITYD [PATH_TO_COMITY]
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: daemon_run_test.sh PATH_TO_COMITYD}")
[ -x "$COMITYD" ] || { echo "daemon_run_test: no comityd at $COMITYD" >&2; exit 1; }
COMITY=$(realpath "${2:-$(dirname "$COMITYD")/comity}")
[ -x "$COMITY" ] || { echo "daemon_run_test: no comity at $COMITY" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-run-test.XXXXXX)
daemons=()  # every comityd run started in the background: none outlives the script
trap 'for p in "${daemons[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE

passphrases coord a b lone
read -r port_coord port_a port_b port_lone < <(free_ports 4)
[ -n "${port_lone:-}" ] || { echo "daemon_run_test: python3 found no free ports" >&2; exit 1; }

# comityd for the runs that must be refused: in a new session, so there is no terminal to
# prompt on and a passphrase asked for is refused; stopped after 20 s should it run instead.
cat >refused-run <<EOF
#!/bin/sh
exec timeout -k 2 20 setsid -w "$COMITYD" "\$@"
EOF
chmod +x refused-run

# start NAME LOG [ARGS...]: `comityd run` of node NAME in the background, stderr to LOG,
# stdout to LOG.out; sets pid.
start() {
  local name=$1 log=$2; shift 2
  "$COMITYD" run $(P "$name") "$@" >"$log.out" 2>"$log" </dev/null &
  pid=$!
  daemons+=("$pid")
}
# stop_with SIGNAL PID LOG WHAT: SIGNAL must make PID exit 0 within 5 s, logging "stopped".
stop_with() {
  kill -s "$1" "$2"
  if ! wait_exit "$2" 5; then bad "$4: still running 5 s after SIG$1: $(tail -n 3 "$3")"; kill -9 "$2"; wait "$2"; return; fi
  if [ "$rc" -ne 0 ]; then bad "$4: exit $rc after SIG$1, wanted 0: $(tail -n 3 "$3")"; return; fi
  if ! grep -Eq "^comityd\[[A-Z0-9-]+\]: info: stopped$" "$3"; then bad "$4: no 'stopped' line after SIG$1: $(cat "$3")"; return; fi
  ok
}
running_line() { echo "^comityd\[$1\]: info: running as $1@IberRed.*listening on tcp://127\.0\.0\.1:$2( |$)"; }

# --- one network: a coordinator and two members, A and B, listening on loopback ports -------
setup init $(P coord) --id IBR-COORD --name "IberRed Secretariat" --country ES --listen tcp://127.0.0.1:$port_coord
setup network create $(P coord) --network IberRed
setup init $(P a) --id A-ONE-CENTRAL-AUTHORITY --name "Authority A" --country ES --listen tcp://127.0.0.1:$port_a
setup init $(P b) --id B-TWO --name "Authority B" --country PT --listen tcp://127.0.0.1:$port_b
setup enroll $(P a) --out a.request
setup enroll $(P b) --out b.request
setup network admit $(P coord) --request a.request --role central-authority
setup network admit $(P coord) --request b.request --role central-authority
setup network publish $(P coord) --out ibr.roster
setup network root $(P coord) --out ibr.root
setup join $(P a) --roster ibr.roster --root ibr.root
setup join $(P b) --roster ibr.roster --root ibr.root
[ "$failed" -eq 0 ] || { echo "daemon_run_test: setup failed, nothing checked" >&2; exit 1; }

# --- it runs, says who and where, and accepts connections -----------------------------------
start a a1.log
wait_log a1.log "$(running_line A-ONE-CENTRAL-AUTHORITY "$port_a")" "$pid" 10
check $? "comityd run of A-ONE-CENTRAL-AUTHORITY logged no running line within 10 s: $(cat a1.log)"
if gone "$pid"; then bad "comityd run of A-ONE-CENTRAL-AUTHORITY exited after starting: $(cat a1.log)"; else ok; fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port_a") 2>/dev/null; then ok; else bad "nothing accepts connections on A-ONE-CENTRAL-AUTHORITY's port $port_a"; fi
[ ! -s a1.log.out ]; check $? "comityd run wrote to stdout: $(cat a1.log.out)"

# --- SIGTERM and SIGINT stop it cleanly ------------------------------------------------------
stop_with TERM "$pid" a1.log "A-ONE-CENTRAL-AUTHORITY"
start a a2.log
wait_log a2.log "$(running_line A-ONE-CENTRAL-AUTHORITY "$port_a")" "$pid" 10
check $? "the second start of A-ONE-CENTRAL-AUTHORITY logged no running line: $(cat a2.log)"
stop_with INT "$pid" a2.log "A-ONE-CENTRAL-AUTHORITY"

# --- SIGHUP reloads the trust store and the node keeps running -------------------------------
start a a3.log
wait_log a3.log "$(running_line A-ONE-CENTRAL-AUTHORITY "$port_a")" "$pid" 10
check $? "the third start of A-ONE-CENTRAL-AUTHORITY logged no running line: $(cat a3.log)"
a_pid=$pid
kill -HUP "$pid"
wait_log a3.log '^comityd\[A-ONE-CENTRAL-AUTHORITY\]: info: reloaded the trust store$' "$pid" 5
check $? "no 'reloaded the trust store' line after SIGHUP: $(cat a3.log)"
if gone "$pid"; then bad "A-ONE-CENTRAL-AUTHORITY exited after SIGHUP: $(cat a3.log)"; else ok; fi

# --- a listen port already in use (A-ONE-CENTRAL-AUTHORITY still holds its own) --------------------------------
# B-TWO runs beside it on its own port, then a second B-TWO is told to take A-ONE-CENTRAL-AUTHORITY's.
start b b1.log
wait_log b1.log "$(running_line B-TWO "$port_b")" "$pid" 10
check $? "B-TWO did not run beside A-ONE-CENTRAL-AUTHORITY: $(cat b1.log)"
b_pid=$pid

# --- the client, through A's local API -------------------------------------------------------
[ "$(stat -c %a "$WORK/a/comity.sock")" == 600 ]; check $? "comity.sock has mode $(stat -c %a "$WORK/a/comity.sock"), wanted 600"
COMITYD=$COMITY expect 0 '^Memberships: A-ONE-CENTRAL-AUTHORITY@IberRed$' -- status --home "$WORK/a"
grep -Eq '^Identity: +Authority A, fingerprint [0-9a-f]{4}( [0-9a-f]{4}){7}$' out.txt && grep -Eq '^Counters: +links_admitted [0-9]+, links_refused [0-9]+' out.txt
check $? "comity status shows no identity or counters: $(cat out.txt)"
COMITYD=$COMITY expect 0 '"memberships":' -- status --home "$WORK/a" --json
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["memberships"] == ["A-ONE-CENTRAL-AUTHORITY@IberRed"], d' out.txt
check $? "comity status --json is not one JSON document with the memberships: $(head -c 300 out.txt)"
COMITYD=$COMITY expect 0 '^  delivered +by B-TWO@IberRed +[0-9.]+ ms$' -- ping B-TWO --home "$WORK/a"
grep -Eq '^  accepted +by A-ONE-CENTRAL-AUTHORITY@IberRed' out.txt && grep -Eq '^  custody +by B-TWO@IberRed' out.txt
check $? "comity ping did not list accepted and custody: $(cat out.txt)"
COMITYD=$COMITY expect 0 '"delivered":true' -- ping B-TWO@IberRed --home "$WORK/a" --json
COMITYD=$COMITY expect 1 "^comity: error: ping: 'NOBODY' is no member of this node's networks$" -- ping NOBODY --home "$WORK/a"
COMITYD=$COMITY expect 0 '^B-TWO +PT +central-authority ' -- directory --home "$WORK/a"
grep -Eq '^IBR-COORD +ES +coordinator ' out.txt && grep -Eq '^A-ONE-CENTRAL-AUTHORITY +ES ' out.txt
check $? "comity directory does not list every member: $(cat out.txt)"
COMITYD=$COMITY expect 0 '^IBR-COORD ' -- directory --role coordinator --home "$WORK/a"
[ "$(grep -c '^[A-Z]' out.txt)" -eq 2 ]; check $? "directory --role coordinator lists more than IBR-COORD: $(cat out.txt)"
COMITYD=$COMITY expect 0 '"member_id":"B-TWO"' -- directory --country PT --json --home "$WORK/a"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert [m["member_id"] for m in d["members"]] == ["B-TWO"], d' out.txt
check $? "directory --country PT --json is not one JSON document with B-TWO alone: $(head -c 300 out.txt)"
COMITYD=$COMITY expect 2 '^comity: error: --country must be an ISO 3166-1 code' -- directory --country pt --home "$WORK/a"
# Search at B for what A sends it (words are words, never query syntax).
expect 0 '^Queued ' -- send $(P a) --to B-TWO --text "request for extradition of a fugitive, art. 16 UNTOC"
for _ in $(seq 100); do "$COMITY" search extradition --home "$WORK/b" 2>/dev/null | grep -q '^1 match' && break; sleep 0.1; done
COMITYD=$COMITY expect 0 '^1 match, newest first$' -- search extradition --home "$WORK/b"
grep -Eq '^[0-9-]{10} [0-9:]{5}  message +A-ONE-CENTRAL-AUTHORITY@IberRed ' out.txt
check $? "comity search does not show the message from A: $(cat out.txt)"
COMITYD=$COMITY expect 0 '"total":"1"' -- search fugitive UNTOC --json --home "$WORK/b"
COMITYD=$COMITY expect 0 '^0 matches' -- search 'extradition" OR (' --home "$WORK/b"
COMITYD=$COMITY expect 2 "^comity: error: 'search' needs words" -- search --home "$WORK/b"
COMITYD=$COMITY expect 1 "^comity: error: directory: unknown role 'judge'$" -- directory --role judge --home "$WORK/a"
COMITYD=$COMITY expect 2 '^comity: error: unknown command .frobnicate. \(see comity --help\)$' -- frobnicate --home "$WORK/a"
COMITYD=$COMITY expect 2 '^comity: error: give --home or --socket, not both' -- status --home "$WORK/a" --socket x
# A request that is not one: an error answer, and the daemon goes on.
python3 - "$WORK/a/comity.sock" >junk.out <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff")
n = struct.unpack(">I", s.recv(4))[0]; body = b""
while len(body) < n: body += s.recv(n - len(body))
print(body)
s2 = socket.socket(socket.AF_UNIX); s2.connect(sys.argv[1])
s2.sendall(struct.pack(">I", 1 << 30))
n = struct.unpack(">I", s2.recv(4))[0]; body = b""
while len(body) < n: body += s2.recv(n - len(body))
print(body)
PY
grep -q 'malformed request' junk.out && grep -q 'the limit is' junk.out
check $? "junk on the local API got no error answer: $(cat junk.out)"
if gone "$a_pid"; then bad "A-ONE-CENTRAL-AUTHORITY died of junk on its local API: $(tail -n 3 a3.log)"; else ok; fi
# A second daemon for the same home is refused: the socket answers.
COMITYD="$WORK/refused-run" expect 1 "^comityd: error: another comityd runs on $WORK/a \(it holds $WORK/a/comityd\.lock\)$" -- run $(P a)
stop_with TERM "$b_pid" b1.log "B-TWO"
[ ! -e "$WORK/b/comity.sock" ]; check $? "B-TWO left its comity.sock behind after SIGTERM"
COMITYD=$COMITY expect 3 "^comity: comityd is not running for $WORK/b \(start it with: comityd run --home $WORK/b\)$" -- status --home "$WORK/b"
COMITYD=$COMITY expect 3 '^comity: comityd is not running at /nonexistent/comity.sock$' -- status --socket /nonexistent/comity.sock
printf 'listen: "tcp://127.0.0.1:%s"\n' "$port_a" >taken.conf
COMITYD="$WORK/refused-run" expect 1 "^comityd: error: cannot listen on tcp://127\.0\.0\.1:$port_a: " -- run $(P b) --config "$WORK/taken.conf"
if gone "$a_pid"; then bad "A-ONE-CENTRAL-AUTHORITY exited when another node tried its port: $(cat a3.log)"; else ok; fi
stop_with TERM "$a_pid" a3.log "A-ONE-CENTRAL-AUTHORITY after SIGHUP"

# --- a configuration that does not parse: exit 2, one line naming FILE:LINE, and
# no passphrase asked for (the first check shows that one would have been refused) -----------
printf 'log_level: "info"\n' >good.conf
COMITYD="$WORK/refused-run" expect 1 '^comityd: error: no passphrase' -- run --home "$WORK/a" --config "$WORK/good.conf"
printf 'log_level: "info"\nlisten_on: "tcp://127.0.0.1:1"\n' >unknown.conf
COMITYD="$WORK/refused-run" expect 2 "^comityd: error: $WORK/unknown\.conf:2:[0-9]+: .*listen_on" -- \
  run --home "$WORK/a" --config "$WORK/unknown.conf"
printf 'log_level: "info"\nlisten: "udp://x:1"\n' >udp.conf
COMITYD="$WORK/refused-run" expect 2 "^comityd: error: $WORK/udp\.conf:2:[0-9]+: listen 'udp://x:1' is not tcp://HOST:PORT$" -- \
  run --home "$WORK/a" --config "$WORK/udp.conf"
# With the passphrase given the answer is the same.
COMITYD="$WORK/refused-run" expect 2 "^comityd: error: $WORK/udp\.conf:2:[0-9]+: " -- run $(P a) --config "$WORK/udp.conf"

# --- a node in no roster --------------------------------------------------------------------
setup init $(P lone) --id LONE --name "Lone Authority" --country FR --listen tcp://127.0.0.1:$port_lone
COMITYD="$WORK/refused-run" expect 1 '^comityd: error: this node is in no roster it trusts yet' -- run $(P lone)

# --- a wrong passphrase: refused as the other commands refuse it -----------------------------
"$COMITYD" enroll --home "$WORK/a" --passphrase-file "$WORK/b.pass" --out x.request >/dev/null 2>enroll.err </dev/null
enroll_rc=$?
grep -q 'wrong passphrase' enroll.err || bad "enroll with a wrong passphrase said: $(cat enroll.err)"
COMITYD="$WORK/refused-run" expect "$enroll_rc" '^comityd: error: .*wrong passphrase' -- run --home "$WORK/a" --passphrase-file "$WORK/b.pass"
[ "$(grep -v '^comityd: warning' err.txt)" == "$(grep -v '^comityd: warning' enroll.err)" ]
check $? "run and enroll refuse a wrong passphrase differently: '$(cat err.txt)' vs '$(cat enroll.err)'"
COMITY_PASSPHRASE=$(cat b.pass) COMITYD="$WORK/refused-run" expect "$enroll_rc" '^comityd: error: .*wrong passphrase' -- run --home "$WORK/a"

# --- a broadcast to a whole network: the coordinator only ----------------------------------------
expect 0 '^Queued [0-9a-f]+ for (A-ONE-CENTRAL-AUTHORITY@IberRed, B-TWO@IberRed|B-TWO@IberRed, A-ONE-CENTRAL-AUTHORITY@IberRed)$' -- \
  send $(P coord) --network IberRed --text "notice to every member"
expect 1 '^comityd: error: --network: broadcasting to all of IberRed needs the coordinator role there' -- \
  send $(P a) --network IberRed --text "not mine to send"
expect 2 '^comityd: error: give exactly one of --to' -- send $(P a) --to B-TWO --network IberRed --text x

# --- after the daemon's runs and stops, the archive is intact --------------------------------
expect 0 'is intact' -- archive verify $(P a)
expect 0 'is intact' -- archive verify $(P b)

echo "daemon_run_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
