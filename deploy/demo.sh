#!/usr/bin/env bash
# Comity demo: two regional networks (IberRed and WACAP) are created, members enroll and are
# admitted, the networks bridge each other, a member is revoked, and every node's verification
# follows the signed rosters. Installs what is missing, builds comityd, runs in a fresh folder
# (COMITY_DEMO_DIR, default a new temporary one). Exits non-zero on any unexpected result.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

deploy/install-deps.sh
cmake -S . -B build -DCOMITY_WERROR=ON >/dev/null
cmake --build build -j2 --target comityd >/dev/null
COMITYD="$ROOT_DIR/build/bin/comityd"

WORK=${COMITY_DEMO_DIR:-$(mktemp -d /tmp/comity-demo.XXXXXX)}
mkdir -p "$WORK" && chmod 700 "$WORK" && cd "$WORK"
echo "Demo folder: $WORK"

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ comityd %s\n' "$*"; "$COMITYD" "$@"; }
# A command that must be refused: shows the one-line reason, fails the demo if it succeeds.
refused() {
  printf '$ comityd %s   (must be refused)\n' "$*"
  if "$COMITYD" "$@"; then echo "demo: ERROR: that should have been refused" >&2; exit 1; fi
}

# Each operator has their own passphrase, kept in a file only they can read.
node() {  # node NAME: prints the options that select a node's home and passphrase
  echo "--home $WORK/$1 --passphrase-file $WORK/$1.pass"
}
for n in ibr-sec es-mj ar-mpf pt-pgr wacap-sec sn-mj ng-fmj; do
  (umask 077; head -c 18 /dev/urandom | base64 > "$n.pass")
done

step "IberRed: the secretariat creates the network"
run init $(node ibr-sec) --id IBR-SEC --name "Secretaria General de IberRed" --country ES --listen tcp://127.0.0.1:47001
run network create $(node ibr-sec) --network IberRed
run network root $(node ibr-sec) --out iberred.root

step "IberRed: three central authorities enroll; the secretariat admits them"
run init $(node es-mj) --id ES-MJ --name "Ministerio de Justicia" --country ES --listen tcp://127.0.0.1:47011
run init $(node ar-mpf) --id AR-MPF --name "Ministerio Publico Fiscal" --country AR --listen tcp://127.0.0.1:47012
run init $(node pt-pgr) --id PT-PGR --name "Procuradoria-Geral da Republica" --country PT --via IBR-SEC
for n in es-mj ar-mpf pt-pgr; do run enroll $(node $n) --out $n.request; done
# The coordinator inspects the request and admits it only with the fingerprint the applicant
# read over the phone (the demo reads it back from the request itself; in practice it comes
# from the applicant, who saw it printed by enroll).
run network inspect --request es-mj.request
fp=$("$COMITYD" network inspect --request es-mj.request | sed -n 's/^Fingerprint: //p')
run network admit $(node ibr-sec) --request es-mj.request --role central-authority --languages es,en --forms comity,email --contact-24-7 --expect-fingerprint "$fp"
run network admit $(node ibr-sec) --request ar-mpf.request --role competent-authority --languages es
run network admit $(node ibr-sec) --request pt-pgr.request --role central-authority --languages pt,es,en
run network publish $(node ibr-sec) --out iberred-v2.roster

step "WACAP: the secretariat creates the network; two central authorities join"
run init $(node wacap-sec) --id WACAP-SEC --name "WACAP Secretariat" --country SN --listen tcp://127.0.0.1:47101
run network create $(node wacap-sec) --network WACAP
run network root $(node wacap-sec) --out wacap.root
run init $(node sn-mj) --id SN-MJ --name "Ministere de la Justice" --country SN --listen tcp://127.0.0.1:47111
run init $(node ng-fmj) --id NG-FMJ --name "Federal Ministry of Justice" --country NG --listen tcp://127.0.0.1:47112
for n in sn-mj ng-fmj; do run enroll $(node $n) --out $n.request; done
run network admit $(node wacap-sec) --request sn-mj.request --role central-authority --languages fr,en --contact-24-7
run network admit $(node wacap-sec) --request ng-fmj.request --role central-authority --languages en
run network publish $(node wacap-sec) --out wacap-v2.roster

step "Members install their network's root (handed over out of band, fingerprint read aloud) and roster"
for n in es-mj ar-mpf pt-pgr; do run join $(node $n) --roster iberred-v2.roster --root iberred.root; done
for n in sn-mj ng-fmj; do run join $(node $n) --roster wacap-v2.roster --root wacap.root; done
run members $(node es-mj)

step "Before any bridge, an IberRed member refuses WACAP's roster unless told to trust its root"
refused join $(node es-mj) --roster wacap-v2.roster

step "The coordinators bridge their networks and publish new rosters"
run network bridge $(node ibr-sec) --root wacap.root
run network publish $(node ibr-sec) --out iberred-v3.roster
run network bridge $(node wacap-sec) --root iberred.root
run network publish $(node wacap-sec) --out wacap-v3.roster
for n in es-mj ar-mpf pt-pgr; do run join $(node $n) --roster iberred-v3.roster; done
for n in sn-mj ng-fmj; do run join $(node $n) --roster wacap-v3.roster; done

step "Through the bridge, members accept the other network's roster without its root"
run join $(node es-mj) --roster wacap-v3.roster
run join $(node sn-mj) --roster iberred-v3.roster
run verify $(node es-mj) --network WACAP --member SN-MJ
run verify $(node sn-mj) --network IberRed --member AR-MPF

step "IberRed revokes AR-MPF; verification follows the new roster everywhere"
run network revoke $(node ibr-sec) --member AR-MPF --reason "key compromise reported"
run network publish $(node ibr-sec) --out iberred-v4.roster
run join $(node es-mj) --roster iberred-v4.roster
run join $(node sn-mj) --roster iberred-v4.roster
refused verify $(node es-mj) --network IberRed --member AR-MPF
refused verify $(node sn-mj) --network IberRed --member AR-MPF
run verify $(node sn-mj) --network IberRed --member ES-MJ

step "Old and forged rosters are refused"
refused join $(node es-mj) --roster iberred-v3.roster
cp iberred-v4.roster forged.roster
printf 'X' | dd of=forged.roster bs=1 seek=40 conv=notrunc status=none
refused join $(node ng-fmj) --roster forged.roster
refused enroll --home "$WORK/es-mj" --passphrase-file "$WORK/sn-mj.pass" --out wrong.request

step "What ES-MJ now knows"
run show $(node es-mj)
run members $(node es-mj)

step "Every node keeps an encrypted archive, its legal record, with a hash-chained audit log"
run archive log $(node ibr-sec) --last 8
run archive verify $(node es-mj)
run archive backup $(node es-mj) --out "$WORK/es-mj-archive.backup"
refused archive verify --home "$WORK/es-mj" --passphrase-file "$WORK/sn-mj.pass"

printf '\nDemo complete: two networks, bridged; AR-MPF revoked and refused by every node that holds the new roster;\n'
printf 'every step recorded in each node'"'"'s encrypted, verifiable archive.\n'
