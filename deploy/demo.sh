#!/usr/bin/env bash
# Comity demo: a real network of comityd processes on loopback, and a short judicial scenario
# played with the real `comity` client.
#
# Three networks (WACAP, IberRed, EJN), each with its coordinator; central authorities of
# Nigeria and Senegal (WACAP), Spain and Portugal (IberRed; Spain also in EJN) and France
# (EJN); WACAP and IberRed bridged; one relay (IberRed's), behind which Portugal is
# outbound-only. Nigeria opens a mutual-legal-assistance draft thread with Spain, two draft
# versions go back and forth, a diff, both agree; IberRed's coordinator broadcasts a notice with
# a use restriction that Portugal accepts; the directory, a search, an evidence bundle exported
# and verified offline; a summary; every node stopped cleanly.
#
# Usage: deploy/demo.sh [--keep] [--nodes N]
#   --keep      leave the network running at the end and print how to use it
#   --nodes N   number of authorities (5 to 29, default 5); the extra ones join the three
#               networks in turn and receive the broadcasts of theirs
# Environment: COMITY_DEMO_DIR (the demo's folder, default a new one under /tmp),
#   COMITY_DEMO_PORT (first loopback port tried, default 47400), COMITY_DEMO_BIN (a folder
#   holding comityd and comity already built: nothing is installed or built).
# Exits 0 after the summary; non-zero, with the reason and where the logs are, on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

usage() { echo "usage: deploy/demo.sh [--keep] [--nodes N]   (N from 5 to 29 authorities, default 5)"; }
KEEP=0
NODES=5
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --nodes)
      [ $# -ge 2 ] || { echo "demo: --nodes needs a number; $(usage)" >&2; exit 2; }
      NODES=$2; shift ;;
    --nodes=*) NODES=${1#--nodes=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown option '$1'; $(usage)" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ "$NODES" =~ ^[0-9]+$ ]] || [ "$NODES" -lt 5 ] || [ "$NODES" -gt 29 ]; then
  echo "demo: --nodes must be a number from 5 to 29, not '$NODES'" >&2
  exit 2
fi

if [ -n "${COMITY_DEMO_BIN:-}" ]; then
  BIN=$(cd "$COMITY_DEMO_BIN" && pwd)
else
  deploy/install-deps.sh
  echo "demo: building comityd and comity (cmake --build build)"
  cmake -S . -B build -DCOMITY_WERROR=ON >/dev/null
  cmake --build build -j2 --target comityd comity >/dev/null
  BIN=$ROOT_DIR/build/bin
fi
COMITYD=$BIN/comityd
COMITY=$BIN/comity
for b in "$COMITYD" "$COMITY"; do
  [ -x "$b" ] || { echo "demo: $b is missing or not executable" >&2; exit 1; }
done
# Keys are sealed at the real Argon2id cost; the test-only one is never used here.
unset COMITY_TEST_KDF COMITY_PASSPHRASE

WORK=${COMITY_DEMO_DIR:-$(mktemp -d /tmp/comity-demo.XXXXXX)}
mkdir -p "$WORK" && chmod 700 "$WORK"
if [ -n "$(ls -A "$WORK")" ]; then
  echo "demo: $WORK is not empty; give COMITY_DEMO_DIR a new or empty folder" >&2
  exit 1
fi
cd "$WORK"
mkdir .lanes

# --- the nodes ------------------------------------------------------------------------------
# name|member id|authority|country|network|role|languages|extra admit options
declare -a AUTHORITIES=(
  "ng-fmj|NG-FMJ|Federal Ministry of Justice|NG|WACAP|central-authority|en|--contact-24-7"
  "sn-mj|SN-MJ|Ministere de la Justice|SN|WACAP|central-authority|fr,en|"
  "es-mj|ES-MJ|Ministerio de Justicia|ES|IberRed|central-authority|es,en|--contact-24-7 --forms comity,email"
  "pt-pgr|PT-PGR|Procuradoria-Geral da Republica|PT|IberRed|central-authority|pt,es,en|"
  "fr-mj|FR-MJ|Ministere de la Justice, BEPI|FR|EJN|central-authority|fr,en|--contact-24-7"
)
# The authorities that --nodes adds, in this order (WACAP, IberRed, EJN in turn).
declare -a EXTRA=(
  "gh-ag|GH-AG|Office of the Attorney-General|GH|WACAP|central-authority|en|"
  "ar-mpf|AR-MPF|Ministerio Publico Fiscal|AR|IberRed|competent-authority|es|"
  "de-bfj|DE-BFJ|Bundesamt fuer Justiz|DE|EJN|central-authority|de,en|"
  "ci-mj|CI-MJ|Ministere de la Justice|CI|WACAP|central-authority|fr|"
  "co-fgn|CO-FGN|Fiscalia General de la Nacion|CO|IberRed|central-authority|es|"
  "it-mg|IT-MG|Ministero della Giustizia|IT|EJN|central-authority|it,en|"
  "ml-mj|ML-MJ|Ministere de la Justice|ML|WACAP|central-authority|fr|"
  "mx-fgr|MX-FGR|Fiscalia General de la Republica|MX|IberRed|central-authority|es|"
  "nl-om|NL-OM|Openbaar Ministerie|NL|EJN|competent-authority|nl,en|"
  "bf-mj|BF-MJ|Ministere de la Justice|BF|WACAP|central-authority|fr|"
  "cl-mp|CL-MP|Ministerio Publico|CL|IberRed|competent-authority|es|"
  "be-spf|BE-SPF|SPF Justice|BE|EJN|central-authority|fr,nl,en|"
  "gm-moj|GM-MOJ|Ministry of Justice|GM|WACAP|central-authority|en|"
  "pe-mp|PE-MP|Ministerio Publico|PE|IberRed|central-authority|es|"
  "at-bmj|AT-BMJ|Bundesministerium fuer Justiz|AT|EJN|central-authority|de|"
  "lr-moj|LR-MOJ|Ministry of Justice|LR|WACAP|central-authority|en|"
  "br-mjsp|BR-MJSP|Ministerio da Justica e Seguranca Publica|BR|IberRed|central-authority|pt,es|"
  "pl-ms|PL-MS|Ministerstwo Sprawiedliwosci|PL|EJN|central-authority|pl,en|"
  "sl-lod|SL-LOD|Law Officers' Department|SL|WACAP|central-authority|en|"
  "do-pgr|DO-PGR|Procuraduria General de la Republica|DO|IberRed|central-authority|es|"
  "ie-doj|IE-DOJ|Department of Justice|IE|EJN|central-authority|en|"
  "bj-mj|BJ-MJ|Ministere de la Justice|BJ|WACAP|central-authority|fr|"
  "uy-mec|UY-MEC|Ministerio de Educacion y Cultura|UY|IberRed|central-authority|es|"
  "ro-mj|RO-MJ|Ministerul Justitiei|RO|EJN|central-authority|ro,en|"
)
AUTHORITIES+=("${EXTRA[@]:0:$((NODES - 5))}")

declare -A ID NAME COUNTRY NET ROLE LANGS OPTS
members=()   # every node but the coordinators, in order
for row in "${AUTHORITIES[@]}"; do
  IFS='|' read -r n id name cc net role langs opts <<<"$row"
  ID[$n]=$id NAME[$n]=$name COUNTRY[$n]=$cc NET[$n]=$net ROLE[$n]=$role LANGS[$n]=$langs OPTS[$n]=$opts
  members+=("$n")
done
ID[ibr-relay]=IBR-RELAY NAME[ibr-relay]="IberRed relay" COUNTRY[ibr-relay]=ES NET[ibr-relay]=IberRed
ROLE[ibr-relay]=relay LANGS[ibr-relay]="" OPTS[ibr-relay]=""
members+=(ibr-relay)
declare -A COORD=([WACAP]=wacap-sec [IberRed]=ibr-sec [EJN]=ejn-sec)
ID[wacap-sec]=WACAP-SEC NAME[wacap-sec]="WACAP Secretariat" COUNTRY[wacap-sec]=SN NET[wacap-sec]=WACAP
ID[ibr-sec]=IBR-SEC NAME[ibr-sec]="Secretaria General de IberRed" COUNTRY[ibr-sec]=ES NET[ibr-sec]=IberRed
ID[ejn-sec]=EJN-SEC NAME[ejn-sec]="EJN Secretariat" COUNTRY[ejn-sec]=NL NET[ejn-sec]=EJN
coordinators=(wacap-sec ibr-sec ejn-sec)
nodes=("${coordinators[@]}" "${members[@]}")
OUTBOUND=pt-pgr   # reached only through IBR-RELAY
root_file() { case $1 in WACAP) echo wacap.root ;; IberRed) echo iberred.root ;; EJN) echo ejn.root ;; esac; }
roster_file() { case $1 in WACAP) echo wacap.roster ;; IberRed) echo iberred.roster ;; EJN) echo ejn.roster ;; esac; }

# Loopback ports: from COMITY_DEMO_PORT up, skipping any that something already listens on.
declare -A PORT
next_port=${COMITY_DEMO_PORT:-47400}
for n in "${nodes[@]}"; do
  [ "$n" == "$OUTBOUND" ] && continue
  while (exec 3<>"/dev/tcp/127.0.0.1/$next_port") 2>/dev/null; do next_port=$((next_port + 1)); done
  PORT[$n]=$next_port
  next_port=$((next_port + 1))
done

# Each operator has their own passphrase, in a file only they can read.
for n in "${nodes[@]}"; do (umask 077; head -c 18 /dev/urandom | base64 >"$n.pass"); done

# --- printing and running -------------------------------------------------------------------
step_no=0
step() { step_no=$((step_no + 1)); printf '\n== %d. %s\n' "$step_no" "$*"; }
say() { printf -- '-- %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

# Administration runs in lanes: `lane FUNCTION ARGS...` starts FUNCTION ARGS in the background
# (at most as many at once as there are cores: each comityd command that opens keys runs
# Argon2id at its real cost), `lanes_done` waits for them and prints each lane's transcript in
# the order the lanes were started. Inside a lane, `x NODE ARGS...` runs comityd ARGS at NODE.
JOBS=$(nproc 2>/dev/null || echo 2)
lane_count=0
lane_pids=()
lane() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  local f="$WORK/.lanes/$lane_count"
  lane_count=$((lane_count + 1))
  { set +e; (set -e; LANE_OUT=$f; "$@"); echo $? >"$f.rc"; } &
  lane_pids+=($!)
}
lanes_done() {
  local i
  wait "${lane_pids[@]}" 2>/dev/null || true
  lane_pids=()
  for ((i = 0; i < lane_count; i++)); do
    [ -f "$WORK/.lanes/$i" ] && cat "$WORK/.lanes/$i"
    [ "$(cat "$WORK/.lanes/$i.rc" 2>/dev/null)" == 0 ] || fail "the command above failed"
    rm -f "$WORK/.lanes/$i" "$WORK/.lanes/$i.rc"
  done
  lane_count=0
}
# shown ARGS...: the arguments as one would type them, quoted where they need it.
shown() {
  local a out=()
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}
x() {
  local n=$1; shift
  printf '[%s] $ comityd %s\n' "${ID[$n]}" "$(shown "$@")" >>"$LANE_OUT"
  "$COMITYD" "$@" --home "$WORK/$n" --passphrase-file "$WORK/$n.pass" >>"$LANE_OUT" 2>&1 </dev/null
}

# c NODE ARGS...: runs `comity ARGS` against NODE's daemon, printing the command and its output.
c() {
  local n=$1; shift
  printf '[%s] $ comity %s\n' "${ID[$n]}" "$(shown "$@")"
  "$COMITY" "$@" --home "$WORK/$n" </dev/null || fail "comity $* at ${ID[$n]} exited $?"
}
# q NODE ARGS...: the same, quietly, its output in $WORK/out.txt.
q() {
  local n=$1; shift
  "$COMITY" "$@" --home "$WORK/$n" >"$WORK/out.txt" 2>&1 </dev/null
}
# await SECONDS NODE WHAT PATTERN ARGS...: polls `comity ARGS` at NODE until its output matches
# PATTERN (grep -E) on at least MIN lines (default 1), saying what it waits for and how long it took.
await() {
  local seconds=$1 n=$2 what=$3 pattern=$4 start i; shift 4
  start=$(date +%s%N)
  for ((i = 0; i < seconds * 10; i++)); do
    if q "$n" "$@" && [ "$(grep -Ec -- "$pattern" "$WORK/out.txt")" -ge "${MIN:-1}" ]; then
      say "$what ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
      return 0
    fi
    sleep 0.1
  done
  fail "waited ${seconds} s at ${ID[$n]} for: $what; last output: $(head -c 400 "$WORK/out.txt")"
}

# --- stopping -------------------------------------------------------------------------------
declare -A PID
stopped_clean=0
stop_all() {  # SIGTERM to every daemon, then waits for each; counts those that exit 0
  local n i
  for n in "${!PID[@]}"; do kill -TERM "${PID[$n]}" 2>/dev/null || true; done
  stopped_clean=0
  for n in "${nodes[@]}"; do
    [ -n "${PID[$n]:-}" ] || continue
    for ((i = 0; i < 150; i++)); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${PID[$n]}" 2>/dev/null; then
      echo "demo: ${ID[$n]} did not stop within 15 s; killing it" >&2
      kill -KILL "${PID[$n]}" 2>/dev/null || true
    elif wait "${PID[$n]}" 2>/dev/null; then
      stopped_clean=$((stopped_clean + 1))
    else
      echo "demo: ${ID[$n]} exited with an error; see $WORK/$n.log" >&2
    fi
    unset "PID[$n]"
  done
}
finished=0
on_exit() {
  local rc=$?
  if [ "$finished" -ne 1 ] && [ ${#PID[@]} -gt 0 ]; then
    stop_all >/dev/null 2>&1
  fi
  if [ "$rc" -ne 0 ]; then echo "demo: the nodes' logs are in $WORK/*.log" >&2; fi
}
trap on_exit EXIT

echo "Comity demo: ${#nodes[@]} nodes (3 coordinators, 1 relay, $NODES authorities) in $WORK"
echo "Each [NODE] command runs with --home $WORK/NODE-NAME (and, for comityd, that node's passphrase file)."

# --- setting up -----------------------------------------------------------------------------
init_node() {
  local n=$1 where=(--listen "tcp://127.0.0.1:${PORT[$n]:-}")
  [ "$n" == "$OUTBOUND" ] && where=(--via IBR-RELAY)
  x "$n" init --id "${ID[$n]}" --name "${NAME[$n]}" --country "${COUNTRY[$n]}" "${where[@]}"
}
step "Every authority, coordinator and relay creates its node: keys sealed under its passphrase, an encrypted archive"
for n in "${nodes[@]}"; do lane init_node "$n"; done
lanes_done

create_network() {
  local n=$1 net=${NET[$1]}
  x "$n" network create --network "$net"
  x "$n" network root --out "$WORK/$(root_file "$net")"
}
enroll_member() { x "$1" enroll --out "$WORK/$1.request"; }
step "The coordinators create WACAP, IberRed and EJN; the members write their enrollment requests"
for n in "${coordinators[@]}"; do lane create_network "$n"; done
for n in "${members[@]}"; do lane enroll_member "$n"; done
lanes_done

# admit_all COORDINATOR: admits its network's members (ES-MJ into EJN too), bridges, publishes.
admit_all() {
  local co=$1 net=${NET[$1]} n fp langs
  for n in "${members[@]}"; do
    [ "${NET[$n]}" == "$net" ] || continue
    langs=()
    [ -n "${LANGS[$n]}" ] && langs=(--languages "${LANGS[$n]}")
    # The coordinator admits a request only with the fingerprint the applicant read out over
    # the phone (here read back from the request itself).
    fp=$("$COMITYD" network inspect --request "$WORK/$n.request" | sed -n 's/^Fingerprint: //p')
    # shellcheck disable=SC2086  # OPTS holds whole options
    x "$co" network admit --request "$WORK/$n.request" --role "${ROLE[$n]}" "${langs[@]}" ${OPTS[$n]} --expect-fingerprint "$fp"
  done
  case $net in
    EJN) x "$co" network admit --request "$WORK/es-mj.request" --role central-authority --languages es,en --contact-24-7 --forms comity,email ;;
    WACAP) x "$co" network bridge --root "$WORK/iberred.root" ;;
    IberRed) x "$co" network bridge --root "$WORK/wacap.root" ;;
  esac
  x "$co" network publish --out "$WORK/$(roster_file "$net")"
}
step "The coordinators check each request's fingerprint, admit the members, bridge WACAP and IberRed, publish signed rosters"
"$COMITYD" network inspect --request "$WORK/ng-fmj.request" | sed 's/^/  /'
for n in "${coordinators[@]}"; do lane admit_all "$n"; done
lanes_done

# join_all NODE: installs its network's root (handed over out of band) and roster, then the
# rosters reached through the bridge, and for ES-MJ the EJN roster with EJN's root.
join_all() {
  local n=$1 net=${NET[$1]}
  if [ -z "${COORD[$net]:-}" ] || [ "${COORD[$net]}" != "$n" ]; then
    x "$n" join --roster "$WORK/$(roster_file "$net")" --root "$WORK/$(root_file "$net")"
  fi
  case $net in
    WACAP) x "$n" join --roster "$WORK/iberred.roster" ;;
    IberRed) x "$n" join --roster "$WORK/wacap.roster" ;;
  esac
  if [ "$n" == es-mj ]; then x "$n" join --roster "$WORK/ejn.roster" --root "$WORK/ejn.root"; fi
}
step "Members install their network's root and roster, and accept the bridged network's roster without its root"
for n in "${nodes[@]}"; do
  [ "$n" == ejn-sec ] && continue   # its own roster is installed already, and EJN bridges nothing
  lane join_all "$n"
done
lanes_done

step "Every node starts its daemon (comityd run): CURVE links admitted by roster, the local API on HOME/comity.sock"
printf 'relays: "IBR-RELAY@IberRed"\n' >"$OUTBOUND.conf"
for n in "${nodes[@]}"; do
  config=()
  [ -f "$n.conf" ] && config=(--config "$WORK/$n.conf")
  setsid "$COMITYD" run --home "$WORK/$n" --passphrase-file "$WORK/$n.pass" "${config[@]}" >"$n.log" 2>&1 </dev/null &
  PID[$n]=$!
done
for n in "${nodes[@]}"; do
  for ((i = 0; i < 600; i++)); do
    grep -q 'info: running as' "$n.log" && break
    kill -0 "${PID[$n]}" 2>/dev/null || fail "${ID[$n]}'s daemon exited: $(tail -n 3 "$n.log")"
    sleep 0.1
  done
  grep -q 'info: running as' "$n.log" || fail "${ID[$n]}'s daemon did not start within 60 s"
  where=${PORT[$n]:+listening on 127.0.0.1:${PORT[$n]}}
  printf '  %-10s pid %-7s %s\n' "${ID[$n]}" "${PID[$n]}" "${where:-outbound only, through IBR-RELAY}"
done
c ng-fmj ping PT-PGR@IberRed --timeout 30

# --- the scenario ---------------------------------------------------------------------------
cat >lagoon-v1.txt <<'EOF'
Request for mutual legal assistance
Requesting authority: Federal Ministry of Justice, Abuja.
Summary of facts: a fraud ring moved the proceeds of advance-fee fraud through Spain.
EOF
cat >lagoon-v2.txt <<'EOF'
Request for mutual legal assistance
Requesting authority: Federal Ministry of Justice, Abuja.
Summary of facts: a fraud ring moved the proceeds of advance-fee fraud through Spain.
Offence: advance-fee fraud (Criminal Code s. 419).
Measures requested: bank records of account ES91 2100 0418 4502 0005 1332, January 2025 to date.
Link between the offence and the evidence: the proceeds went through that account.
EOF

step "Nigeria opens a mutual-legal-assistance draft thread with Spain (across the WACAP-IberRed bridge)"
c ng-fmj thread open --to ES-MJ@IberRed --kind mla --subject "Operation Lagoon: bank records" \
  --legal-basis "UNTOC art. 18" --language en --deadline 2027-03-31 --draft lagoon-v1.txt | tee out.open
T=$(sed -n 's/^Thread \([0-9a-f]\{16\}\) opened.*/\1/p' out.open)
[ -n "$T" ] || fail "no thread id in the output of thread open"
await 30 es-mj "ES-MJ has the thread and its first draft" "^  Drafts: +1$" thread show "$T"
c es-mj thread show "$T"

step "Spain answers with draft v2; Nigeria compares the versions"
c es-mj thread draft "${T:0:6}" lagoon-v2.txt --note "Our wording: offence, measures and link added"
await 30 ng-fmj "NG-FMJ has draft v2" "v2" thread show "$T"
c ng-fmj thread diff "$T" 1 2

step "Both agree: Spain says so, Nigeria records the agreement"
c es-mj thread comment "$T" "Agreed on our side; the bank is ready to answer."
await 30 ng-fmj "NG-FMJ has the comment" "ready to answer" thread show "$T"
c ng-fmj thread status "$T" agreed --note "Agreed with ES-MJ; formal request to follow"
await 30 es-mj "ES-MJ sees the agreement" "^$T +mla +agreed" thread list
c es-mj thread list

step "IberRed's coordinator broadcasts spontaneous information with a use restriction (UNTOC art. 18(4)-(5))"
c ibr-sec notice send --network IberRed --subject "Vessel Aurora, suspected cocaine shipment" \
  --body "The vessel Aurora (IMO 9300000) left Santos on 2 December carrying undeclared cargo bound for Vigo." \
  --confidential --use-restriction "Intelligence only; not to be used as evidence without IberRed's consent"
await 30 pt-pgr "PT-PGR (behind the relay) has the notice" "Vessel Aurora" notice list
c pt-pgr notice list
N=$(awk '/Vessel Aurora/ {print $1; exit}' out.txt)
[[ "$N" =~ ^[0-9]+$ ]] || N=1
say "before accepting, Portugal sees the conditions but not the body"
c pt-pgr notice show "$N"
c pt-pgr notice accept "$N"
await 30 ibr-sec "IBR-SEC has Portugal's conditions-accepted receipt" "PT-PGR@IberRed .*conditions-accepted" notice show 1
c ibr-sec notice show 1

step "The directory: who is who, as Spain (IberRed and EJN, WACAP through the bridge) sees it"
c es-mj directory
c es-mj directory --contact-24-7

step "Search: Spain finds the thread in its archive"
c es-mj search bank records

step "Nigeria exports the thread as an evidence bundle; anyone verifies it offline with a root key"
MIN=3 await 30 ng-fmj "NG-FMJ has Spain's delivered receipts for its three events" "^ +ES-MJ@IberRed +delivered" thread show "$T"
c ng-fmj export "$T" --out "$WORK/lagoon.bundle"
mkdir -p offline
printf '[offline] $ comity verify lagoon.bundle --root iberred.root\n'
(cd offline && "$COMITY" verify "$WORK/lagoon.bundle" --root "$WORK/iberred.root") | tee out.verify \
  || fail "the bundle did not verify"
verified=$(grep '^Verified:' out.verify || true)
[ -n "$verified" ] || fail "comity verify printed no Verified line"
cp lagoon.bundle tampered.bundle
# One byte in the middle, changed for sure (xor 1: writing a fixed byte may write the same one).
mid=$(( $(stat -c %s tampered.bundle) / 2 ))
byte=$(od -An -tu1 -j "$mid" -N 1 tampered.bundle | tr -d ' ')
printf "\\$(printf %03o $(( byte ^ 1 )))" | dd of=tampered.bundle bs=1 seek="$mid" conv=notrunc status=none
cmp -s lagoon.bundle tampered.bundle && fail "the tampered copy is the same as the bundle"
printf '[offline] $ comity verify tampered.bundle --root iberred.root   (one byte changed: must fail)\n'
if "$COMITY" verify tampered.bundle --root iberred.root; then fail "a tampered bundle verified"; fi

# --- the summary ----------------------------------------------------------------------------
counter() { grep -o "\"name\":\"$1\",\"value\":\"[0-9]*\"" "$WORK/out.txt" | grep -o '[0-9]*"$' | tr -d '"'; }
received=0 receipts=0 running=0
for n in "${nodes[@]}"; do
  if q "$n" status --json; then
    running=$((running + 1))
    received=$((received + $(counter received)))
    receipts=$((receipts + $(counter receipts_in)))
  fi
done

if [ "$KEEP" -eq 1 ]; then
  {
    echo "#!/usr/bin/env bash"
    echo "# Stops the demo network's daemons (SIGTERM; each exits once its archive is committed)."
    echo "# Only processes that are still this demo's daemons are signalled (a pid may be reused)."
    echo "live=()"
    echo "for p in ${PID[*]}; do"
    echo "  tr '\\0' ' ' </proc/\$p/cmdline 2>/dev/null | grep -qF 'run --home $WORK/' && kill -TERM \$p && live+=(\$p)"
    echo "done"
    echo 'for p in "${live[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done'
    echo "echo 'demo network stopped'"
  } >stop.sh
  chmod 700 stop.sh
fi

step "Summary"
printf '  nodes:        %d comityd processes running (3 coordinators, 1 relay, %d authorities) in 3 networks\n' "$running" "$NODES"
printf '  messages:     %d envelopes received by their recipients (thread events, the notice, the ping)\n' "$received"
printf '  receipts:     %d signed receipts received by the nodes (relayed, delivered, read, conditions-accepted)\n' "$receipts"
printf '  verification: %s\n' "${verified#Verified: }"
[ "$running" -eq "${#nodes[@]}" ] || fail "only $running of ${#nodes[@]} daemons answered"

if [ "$KEEP" -eq 1 ]; then
  finished=1
  trap - EXIT
  cat <<EOF

The network keeps running. Use comity against any node with its home, for instance:
  $COMITY --home $WORK/es-mj status
  $COMITY --home $WORK/es-mj thread list
  $COMITY --home $WORK/ng-fmj thread show ${T:0:6}
  $COMITY --home $WORK/pt-pgr notice list
  $COMITY --home $WORK/sn-mj directory --network IberRed
Homes: $(printf '%s ' "${nodes[@]}")(each under $WORK; passphrases in NAME.pass, logs in NAME.log)
Stop every node with: $WORK/stop.sh
EOF
  exit 0
fi

step "Every node stops cleanly (SIGTERM) and its archive verifies"
stop_all
printf '  %d of %d daemons stopped with exit code 0\n' "$stopped_clean" "${#nodes[@]}"
[ "$stopped_clean" -eq "${#nodes[@]}" ] || fail "not every daemon stopped cleanly"
verify_archive() { x "$1" archive verify; }
for n in "${nodes[@]}"; do lane verify_archive "$n"; done
lanes_done >archives.txt
printf '  %d of %d archives intact (comityd archive verify; details in %s/archives.txt)\n' \
  "$(grep -c 'is intact' archives.txt)" "${#nodes[@]}" "$WORK"
finished=1
printf '\nDemo complete. Its folder, with every home, log and the bundle, stays in %s\n' "$WORK"
