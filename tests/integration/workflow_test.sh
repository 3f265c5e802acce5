#!/usr/bin/env bash
# The judicial workflow with real processes (issue 5's "done when"): two networks, WACAP and
# IberRed, bridged both ways; NG-FMJ (WACAP) opens a mutual-legal-assistance draft thread with
# ES-MJ (IberRed), which is outbound only behind IberRed's relay; two draft versions go back
# and forth, a diff, a comment, the status goes from consultation to executed; every step is
# receipted, searchable, exported and verified offline with nothing but a root key, and one
# flipped byte makes the verification fail. The IberRed coordinator broadcasts a notice with a
# use restriction that ES-MJ reads only after accepting it. Bad input is refused in one line
# with nothing sent. Every comityd and every comity is a real process.
# Usage: workflow_test.sh PATH_TO_COMITYD PATH_TO_COMITY
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: workflow_test.sh PATH_TO_COMITYD PATH_TO_COMITY}")
COMITY=$(realpath "${2:?usage: workflow_test.sh PATH_TO_COMITYD PATH_TO_COMITY}")
[ -x "$COMITYD" ] && [ -x "$COMITY" ] || { echo "workflow_test: no comityd or comity" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-workflow-test.XXXXXX)
daemons=()
trap 'for p in "${daemons[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost
unset COMITY_PASSPHRASE

H() { echo "--home $WORK/$1"; }
nodes=(ibr-sec ibr-relay es-mj pt-pgr wacap-sec ng-fmj)
passphrases "${nodes[@]}"
read -r port_sec port_relay port_pt port_wsec port_ng < <(free_ports 5)
[ -n "${port_ng:-}" ] || { echo "workflow_test: python3 found no free ports" >&2; exit 1; }

setup init $(P ibr-sec) --id IBR-SEC --name "Secretaria General de IberRed" --country ES --listen tcp://127.0.0.1:$port_sec
setup network create $(P ibr-sec) --network IberRed
setup network root $(P ibr-sec) --out iberred.root
setup init $(P ibr-relay) --id IBR-RELAY --name "IberRed relay" --country ES --listen tcp://127.0.0.1:$port_relay
setup init $(P es-mj) --id ES-MJ --name "Ministerio de Justicia" --country ES --via IBR-RELAY
setup init $(P pt-pgr) --id PT-PGR --name "Procuradoria-Geral da Republica" --country PT --listen tcp://127.0.0.1:$port_pt
setup init $(P wacap-sec) --id WACAP-SEC --name "WACAP Secretariat" --country SN --listen tcp://127.0.0.1:$port_wsec
setup network create $(P wacap-sec) --network WACAP
setup network root $(P wacap-sec) --out wacap.root
setup init $(P ng-fmj) --id NG-FMJ --name "Federal Ministry of Justice" --country NG --listen tcp://127.0.0.1:$port_ng
for n in ibr-relay es-mj pt-pgr ng-fmj; do setup enroll $(P $n) --out $n.request; done
setup network admit $(P ibr-sec) --request ibr-relay.request --role relay
setup network admit $(P ibr-sec) --request es-mj.request --role central-authority --languages es,en --contact-24-7
setup network admit $(P ibr-sec) --request pt-pgr.request --role central-authority --languages pt,es
setup network admit $(P wacap-sec) --request ng-fmj.request --role central-authority --languages en
setup network bridge $(P ibr-sec) --root wacap.root
setup network bridge $(P wacap-sec) --root iberred.root
setup network publish $(P ibr-sec) --out iberred.roster
setup network publish $(P wacap-sec) --out wacap.roster
for n in ibr-relay es-mj pt-pgr; do setup join $(P $n) --roster iberred.roster --root iberred.root; done
setup join $(P ng-fmj) --roster wacap.roster --root wacap.root
for n in ibr-sec ibr-relay es-mj pt-pgr; do setup join $(P $n) --roster wacap.roster; done
setup join $(P ng-fmj) --roster iberred.roster
setup join $(P wacap-sec) --roster iberred.roster
[ "$failed" -eq 0 ] || { echo "workflow_test: setup failed, nothing checked" >&2; exit 1; }

# ES-MJ keeps a link open to its relay (the configuration names it, as MEMBER@NETWORK).
printf 'relays: "IBR-RELAY@IberRed"\n' >es-mj.conf
for n in ibr-sec ibr-relay es-mj pt-pgr ng-fmj; do
  config=()
  [ -f $n.conf ] && config=(--config "$WORK/$n.conf")
  "$COMITYD" run $(P $n) "${config[@]}" >$n.log.out 2>$n.log </dev/null &
  pid=$!
  daemons+=("$pid")
  for _ in $(seq 500); do grep -q 'info: running as' $n.log && break; gone "$pid" && break; sleep 0.02; done
  grep -q 'info: running as' $n.log || { echo "workflow_test: $n did not start: $(cat $n.log)" >&2; exit 1; }
done

# c NODE ARGS...: runs comity against NODE's daemon; stdout in out.txt, stderr in err.txt, exit in rc.
c() {
  local n=$1; shift
  "$COMITY" "$@" --home "$WORK/$n" >out.txt 2>err.txt </dev/null
  rc=$?
}
# expect_c CODE PATTERN NODE ARGS...: as lib.sh's expect, for comity against NODE.
expect_c() {
  local code=$1 pattern=$2 n=$3; shift 3
  c "$n" "$@"
  if [ "$rc" -ne "$code" ]; then bad "comity $* at $n -> exit $rc, wanted $code: $(cat out.txt err.txt)"; return; fi
  if ! grep -Eqh -- "$pattern" out.txt err.txt; then bad "comity $* at $n -> output lacks /$pattern/: $(cat out.txt err.txt)"; return; fi
  if [ "$code" -ne 0 ] && [ "$(wc -l <err.txt)" -ne 1 ]; then bad "comity $* at $n -> stderr is not one line: $(cat err.txt)"; return; fi
  ok
}
# json EXPR: evaluates a Python expression over out.txt's JSON (as d) and prints it.
json() { python3 -c "import json,sys; d=json.load(open('out.txt')); print($1)"; }
# until_c SECONDS NODE PYEXPR ARGS...: polls `comity ARGS --json` at NODE until PYEXPR holds.
until_c() {
  local seconds=$1 n=$2 expr=$3 i; shift 3
  for ((i = 0; i < seconds * 10; i++)); do
    c "$n" "$@" --json
    [ "$rc" -eq 0 ] && [ "$(json "$expr" 2>/dev/null)" == True ] && return 0
    sleep 0.1
  done
  return 1
}
messages() { "$COMITYD" archive log $(P "$1") --last 100000 2>/dev/null | grep -c ' send '; }

# --- the thread ----------------------------------------------------------------------------
cat >v1.txt <<'EOF'
Request for mutual legal assistance
Requesting authority: Federal Ministry of Justice, Abuja.
Summary of facts: a fraud ring moved proceeds through Spain.
EOF
cat >v2.txt <<'EOF'
Request for mutual legal assistance
Requesting authority: Federal Ministry of Justice, Abuja.
Summary of facts: a fraud ring moved proceeds through Spain.
Offence: advance-fee fraud (Criminal Code s. 419).
Measures requested: bank records of account ES91 2100 0418 4502 0005 1332.
Link between the offence and the evidence: the proceeds went through that account.
EOF
expect_c 0 '"thread_id":"[0-9a-f]{16}"' ng-fmj thread open --to ES-MJ@IberRed --kind mla --subject "Operation Lagoon: bank records" \
  --legal-basis "UNTOC art. 18" --language en --deadline 2027-03-31 --draft v1.txt --json
T=$(json 'd["thread_id"]')
expect_c 0 "^$T +mla +consultation " ng-fmj thread list
until_c 20 es-mj 'd["drafts"] == 1' thread show "$T"
check $? "ES-MJ (outbound only, behind the relay) never got the thread: $(cat out.txt err.txt)"
[ "$(json 'd["opened_by"]')" == NG-FMJ@WACAP ] && [ "$(json 'd["waiting_on_me"]')" == True ]
check $? "ES-MJ's view of the thread is wrong: $(head -c 600 out.txt)"
json '"the measures requested" in d["missing"]' | grep -q True; check $? "the first draft should miss the measures requested"
expect_c 0 "^Draft v2 of thread $T" es-mj thread draft "${T:0:6}" v2.txt --note "our wording"
until_c 20 ng-fmj 'd["drafts"] == 2' thread show "$T"
check $? "NG-FMJ never got draft v2: $(cat out.txt err.txt)"
expect_c 0 '^\+Measures requested: bank records' ng-fmj thread diff "$T" 1 2
grep -q '^--- v1 ' out.txt && grep -q '^+++ v2 ' out.txt && grep -q '^@@ -' out.txt
check $? "thread diff is not a unified diff: $(cat out.txt)"
expect_c 0 '' es-mj thread comment "$T" "Agreed on our side; the bank is ready."
expect_c 0 '' ng-fmj thread status "$T" agreed
until_c 20 es-mj 'd["status"] == "agreed"' thread show "$T"; check $? "ES-MJ did not see the agreement"
expect_c 0 '' ng-fmj thread status "$T" formally-submitted
[ ! -s err.txt ]; check $? "a complete request got completeness warnings: $(cat err.txt)"
until_c 20 es-mj 'd["status"] == "formally-submitted"' thread show "$T"; check $? "ES-MJ did not see the submission"
expect_c 0 '' es-mj thread status "$T" in-execution
expect_c 0 '' es-mj thread status "$T" executed --note "records sent by courier"
until_c 20 ng-fmj 'd["status"] == "executed"' thread show "$T"; check $? "NG-FMJ did not see the execution"
expect_c 1 "^comity: error: thread status: thread $T is executed: it is closed, not consultation$" ng-fmj thread status "$T" consultation
# Every step NG-FMJ sent is receipted by ES-MJ (delivered, and read once ES-MJ showed the
# thread), the first through the relay.
c es-mj thread show "$T"
until_c 30 ng-fmj 'all({"delivered ES-MJ@IberRed", "read ES-MJ@IberRed"} <= {r["kind"] + " " + r["party"] for r in e["receipts"]} for e in d["events"] if e["by"] == "NG-FMJ@WACAP") and any(r["kind"] == "relayed" for r in d["events"][0]["receipts"])' thread show "$T"
check $? "NG-FMJ's events are not all receipted: $(head -c 1500 out.txt)"
expect_c 0 'executed' ng-fmj thread show "$T"
grep -q 'relayed' out.txt && grep -q 'delivered' out.txt && grep -q 'read' out.txt && grep -Eq 'v2' out.txt
check $? "thread show lacks receipts or versions: $(cat out.txt)"
expect_c 0 "$T" ng-fmj thread list --status executed
expect_c 0 '^1 match' ng-fmj search courier
expect_c 0 '^1 match' es-mj search proceeds account
expect_c 0 'threads,,1' ng-fmj stats --csv
grep -q '^kind,mla,1$' out.txt && grep -q '^legal_basis,UNTOC art. 18,1$' out.txt && grep -q '^status,executed,1$' out.txt
check $? "stats --csv lacks the thread's counts: $(cat out.txt)"

# --- exported, verified offline with nothing but a root key ------------------------------------
expect_c 0 "^Exported thread $T to $WORK/lagoon.bundle" ng-fmj export "$T" --out "$WORK/lagoon.bundle"
expect_c 1 'exists' ng-fmj export "$T" --out "$WORK/lagoon.bundle"
(cd / && "$COMITY" verify "$WORK/lagoon.bundle" --root "$WORK/iberred.root" >"$WORK/verify.out" 2>&1); rc=$?
[ "$rc" -eq 0 ] && grep -q '^Verified: 8 envelopes' verify.out && grep -q 'executed' verify.out
check $? "the bundle does not verify under IberRed's root: rc $rc $(cat verify.out)"
"$COMITY" verify lagoon.bundle --root wacap.root >verify2.out 2>&1; check $? "the bundle does not verify under WACAP's root: $(cat verify2.out)"
size=$(stat -c %s lagoon.bundle)
for pos in 10 $((size / 3)) $((size / 2)) $((size - 5)); do
  cp lagoon.bundle flipped.bundle
  flip_byte flipped.bundle "$pos"
  "$COMITY" verify flipped.bundle --root iberred.root >flip.out 2>flip.err; rc=$?
  [ "$rc" -eq 1 ] && [ "$(wc -l <flip.err)" -eq 1 ] && grep -Eq '^comity: error: flipped.bundle: .*(byte|bytes) [0-9]' flip.err
  check $? "a byte flipped at $pos: exit $rc, $(cat flip.err)"
done
"$COMITY" verify lagoon.bundle --root "$WORK/ibr-sec/node.conf" >/dev/null 2>flip.err; [ $? -eq 1 ]
check $? "a file that is not a root key was accepted as one"

# --- a notice with a use restriction: read only after acceptance ----------------------------
head -c 200000 /dev/urandom >annex.bin
expect_c 0 '^Notice [0-9]+ sent to' ibr-sec notice send --network IberRed --subject "Vessel Aurora" \
  --body "The vessel Aurora carries undeclared cargo." --confidential \
  --use-restriction "Intelligence only; not as evidence without consent" --attach annex.bin
until_c 20 es-mj 'len(d["notices"]) == 1' notice list; check $? "ES-MJ never got the notice"
N=$(json 'd["notices"][0]["number"]')
expect_c 0 'accept with: comity notice accept' es-mj notice show "$N"
grep -q 'Intelligence only' out.txt && ! grep -q 'undeclared' out.txt
check $? "before acceptance the notice shows its body or lacks its conditions: $(cat out.txt)"
expect_c 0 '^0 matches' es-mj search undeclared
mkdir -p saved
expect_c 1 "conditions are not accepted: nothing opens yet" es-mj notice show "$N" --save "$WORK/saved"
expect_c 0 'undeclared cargo' es-mj notice accept "$N" --save saved
grep -q 'annex.bin' out.txt; check $? "the accepted notice does not list its attachment: $(cat out.txt)"
cmp -s annex.bin saved/annex.bin; check $? "the saved attachment is not the file sent"
expect_c 0 '^1 match' es-mj search undeclared
until_c 20 ibr-sec 'any(r["kind"] == "conditions-accepted" and r["party"] == "ES-MJ@IberRed" for r in d["receipts"])' notice show 1
check $? "the coordinator never got ES-MJ's acceptance: $(cat out.txt)"

# --- bad input: one line, non-zero, nothing sent ---------------------------------------------
before=$(messages ng-fmj)
expect_c 1 "^comity: error: thread open: the draft is in 'fr', which ES-MJ@IberRed does not accept \(it accepts es, en\); send anyway with --force$" \
  ng-fmj thread open --to ES-MJ@IberRed --kind mla --subject "Other" --legal-basis reciprocity --language fr --draft v1.txt
expect_c 1 '^comity: error: thread open: .*XX-NOBODY' ng-fmj thread open --to XX-NOBODY@IberRed --kind mla --subject "Other" --legal-basis reciprocity
expect_c 2 '^comity: error: ' ng-fmj thread open --to ES-MJ@IberRed --kind mla --subject "Other"
expect_c 1 '^comity: error: ' ng-fmj thread open --to ES-MJ@IberRed --kind mla --subject "Other" --legal-basis reciprocity --draft /nonexistent.txt
expect_c 1 '^comity: error: thread show: no thread ffff$' ng-fmj thread show ffff
expect_c 1 "^comity: error: notice send: broadcasting to all of IberRed needs the coordinator role there" es-mj notice send --network IberRed --subject X --body Y
expect_c 1 '^comity: error: ' ng-fmj notice send --to ES-MJ@IberRed --subject X --body Y --attach /nonexistent.bin
expect_c 1 '^comity: error: notice accept: no notice 99 ' es-mj notice accept 99
[ "$(messages ng-fmj)" == "$before" ]; check $? "a refused command sent something: $before -> $(messages ng-fmj)"
expect_c 3 '^comity: comityd is not running for' wacap-sec thread list

# --- the nodes stop cleanly and every archive is intact ----------------------------------------
for p in "${daemons[@]}"; do kill -TERM "$p"; done
for p in "${daemons[@]}"; do wait_exit "$p" 10 || bad "a daemon did not stop within 10 s"; done
daemons=()
for n in ng-fmj es-mj ibr-relay ibr-sec; do
  "$COMITYD" archive verify $(P $n) >verify.out 2>&1; check $? "$n's archive does not verify: $(cat verify.out)"
done

echo "workflow_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
