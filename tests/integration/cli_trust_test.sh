#!/usr/bin/env bash
# Drives the real comityd binary through the trust life cycle and its refusals: two networks,
# enrollment, admission, bridges, revocation, rollback, tampering, bad input. Every refusal
# must be one line on stderr with a non-zero exit and must leave the node's files unchanged.
# Usage: cli_trust_test.sh PATH_TO_COMITYD
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
COMITYD=$(realpath "${1:?usage: cli_trust_test.sh PATH_TO_COMITYD}")
[ -x "$COMITYD" ] || { echo "cli_trust_test: no comityd at $COMITYD" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-cli-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE


passphrases coord a b c other wcoord w1

# --- creation and bad input to init ---
expect 0 'Fingerprint: ([0-9a-f]{4} ){7}[0-9a-f]{4}$' -- init $(P coord) --id IBR-COORD --name "IberRed Secretariat" --country ES --listen tcp://127.0.0.1:47001
expect 0 'Created network IberRed' -- network create $(P coord) --network IberRed
expect 1 'already holds a network root' -- network create $(P coord) --network Other
expect 0 'Created node A-ONE' -- init $(P a) --id A-ONE --name "Authority A" --country ES --listen tcp://127.0.0.1:47002
expect 0 'Created node B-TWO' -- init $(P b) --id B-TWO --name "Authority B" --country PT --via IBR-COORD
snapshot a > a.snap
expect 1 'refusing to overwrite' -- init $(P a) --id A-ONE --name "Again" --country ES --listen tcp://127.0.0.1:47002
unchanged a a.snap "a second init"
expect 1 'ISO 3166-1' -- init $(P c) --id C-THREE --name "C" --country spain --listen tcp://127.0.0.1:1
expect 1 'member id|--id' -- init $(P c) --id "bad id" --name "C" --country ES --listen tcp://127.0.0.1:1
expect 1 'not tcp://HOST:PORT' -- init $(P c) --id C-THREE --name "C" --country ES --listen udp://x
expect 1 '--listen .* or --via' -- init $(P c) --id C-THREE --name "C" --country ES
if [ -e c/keys ] || [ -e c/node.conf ]; then bad "refused init left files in c/"; else ok; fi
expect 2 'unknown option --colour' -- init $(P c) --id C-THREE --colour red
expect 2 'missing --name' -- init $(P c) --id C-THREE --country ES
expect 2 'unknown command' -- frobnicate
# Without a terminal (setsid detaches it) and no other source, there is no passphrase.
if out=$(setsid -w "$COMITYD" enroll --home "$WORK/a" --out "$WORK/x.request" 2>&1 </dev/null); then
  bad "enroll without any passphrase source succeeded"
elif ! grep -q 'no passphrase' <<<"$out"; then bad "enroll without a passphrase: $out"; else ok; fi
mkfifo fifo.pass
expect 1 'not a regular file' -- enroll --home "$WORK/a" --passphrase-file "$WORK/fifo.pass" --out x.request

# --- secrets at rest ---
if [ "$(stat -c %a a/keys)" == 600 ] && [ "$(stat -c %a coord/root.key)" == 600 ]; then ok; else bad "key files are not mode 0600"; fi
for n in coord a b; do
  if grep -rqF "$(cat $n.pass)" a/ b/ coord/; then bad "the passphrase of $n reached the disk"; else ok; fi
done

# --- passphrase sources: file wins over the environment, the environment works alone ---
expect 1 'wrong passphrase' -- enroll --home "$WORK/a" --passphrase-file "$WORK/b.pass" --out x.request
COMITY_PASSPHRASE=$(cat a.pass) expect 0 'Enrollment request of A-ONE' -- enroll --home "$WORK/a" --out a.request
COMITY_PASSPHRASE=wrong expect 0 'Enrollment request of A-ONE' -- enroll $(P a) --out a.request
expect 0 'Enrollment request of B-TWO' -- enroll $(P b) --out b.request

# --- admission ---
snapshot coord > coord.snap
expect 1 'wrong passphrase' -- network admit --home "$WORK/coord" --passphrase-file "$WORK/a.pass" --request a.request --role central-authority
unchanged coord coord.snap "a refused admit"
expect 2 'missing --role' -- network admit $(P coord) --request a.request
expect 1 '--role must be one of' -- network admit $(P coord) --request a.request --role judge
expect 1 'ISO 639-1' -- network admit $(P coord) --request a.request --role central-authority --languages spanish
cp a.request forged.request; flip_byte forged.request 20
expect 1 'enrollment request refused' -- network admit $(P coord) --request forged.request --role central-authority
expect 1 'cannot read' -- network admit $(P coord) --request missing.request --role central-authority
unchanged coord coord.snap "refused admits"
fp_a=$(grep -o 'Fingerprint: .*' <<<"$("$COMITYD" network inspect --request a.request 2>&1)" | cut -d' ' -f2-9)
expect 0 "Fingerprint: $fp_a" -- network inspect --request a.request
expect 1 'enrollment request refused' -- network inspect --request forged.request
expect 1 'not the expected' -- network admit $(P coord) --request a.request --role central-authority --expect-fingerprint "0000 0000 0000 0000 0000 0000 0000 0000"
unchanged coord coord.snap "an admit refused for its fingerprint"
expect 0 'Admitted A-ONE .* as central-authority' -- network admit --expect-fingerprint "$fp_a" $(P coord) --request a.request --role central-authority --languages es,en --contact-24-7
expect 1 'already in IberRed' -- network admit $(P coord) --request a.request --role central-authority
expect 0 'Admitted B-TWO' -- network admit $(P coord) --request b.request --role relay
snapshot coord > coord.snap
expect 1 'inside the node' -- network root $(P coord) --out "$WORK/coord/root.key"
expect 1 'inside the node' -- network publish $(P coord) --out "$WORK/coord/../coord/x.roster"
expect 1 'cannot create' -- network publish $(P coord) --out "$WORK/no/such/dir/x.roster"
unchanged coord coord.snap "refused publishes (no version used up)"
expect 0 'Published roster version 2 of IberRed: 3 members' -- network publish $(P coord) --out ibr-2.roster
expect 0 'Root fingerprint' -- network root $(P coord) --out ibr.root

# --- joining ---
expect 1 'unknown root.*--root' -- join $(P a) --roster ibr-2.roster
expect 0 'This node is member A-ONE \(central-authority\) of IberRed' -- join $(P a) --roster ibr-2.roster --root ibr.root
expect 0 'This node is member B-TWO \(relay\) of IberRed' -- join $(P b) --roster ibr-2.roster --root ibr.root
expect 0 'B-TWO@IberRed verifies' -- verify $(P a) --network IberRed --member B-TWO
expect 1 'unknown member' -- verify $(P a) --network IberRed --member NOBODY
expect 1 'unknown root' -- verify $(P a) --network WACAP --member W-ONE

# --- tampering: any damaged roster is refused and trust.pb stays as it was ---
snapshot a > a.snap
size=$(stat -c %s ibr-2.roster)
for mask in 1 128; do  # 128 also breaks UTF-8 and protobuf varints
  for pos in 0 1 7 30 $((size / 2)) $((size - 70)) $((size - 1)); do
    cp ibr-2.roster t.roster
    flip_byte t.roster "$pos" "$mask"
    if cmp -s ibr-2.roster t.roster; then bad "flip_byte did not change byte $pos"; fi
    expect 1 'roster (refused|.* is damaged)' -- join $(P a) --roster t.roster
  done
done
head -c $((size - 10)) ibr-2.roster > t.roster
expect 1 'roster' -- join $(P a) --roster t.roster
unchanged a a.snap "refused rosters"

# --- revocation and rollback ---
expect 1 'no member NOBODY' -- network revoke $(P coord) --member NOBODY
expect 1 'cannot revoke its own node' -- network revoke $(P coord) --member IBR-COORD
expect 0 'Revoked B-TWO' -- network revoke $(P coord) --member B-TWO --reason "left the network"
expect 1 'reuses a key that was revoked' -- network admit $(P coord) --request b.request --role relay
expect 0 'Published roster version 3 of IberRed: 2 members, 1 revoked' -- network publish $(P coord) --out ibr-3.roster
expect 0 'roster version 3' -- join $(P a) --roster ibr-3.roster
expect 1 'revoked' -- verify $(P a) --network IberRed --member B-TWO
expect 1 'rollback' -- join $(P a) --roster ibr-2.roster
expect 0 'not a current member of IberRed \(revoked' -- join $(P b) --roster ibr-3.roster
expect 0 'A-ONE@IberRed verifies' -- verify $(P coord) --network IberRed --member A-ONE
# B-TWO comes back under its id with new keys; a request reusing another member's keys is refused.
expect 0 'Created node B-TWO' -- init --home "$WORK/b2" --passphrase-file "$WORK/b.pass" --id B-TWO --name "Authority B" --country PT --via IBR-COORD
expect 0 'Enrollment request of B-TWO' -- enroll --home "$WORK/b2" --passphrase-file "$WORK/b.pass" --out b2.request
expect 0 'Admitted B-TWO' -- network admit $(P coord) --request b2.request --role relay
cp -r a a-copy; sed -i 's/member_id: "A-ONE"/member_id: "A-COPY"/' a-copy/node.conf
expect 0 'Enrollment request of A-COPY' -- enroll --home "$WORK/a-copy" --passphrase-file "$WORK/a.pass" --out a-copy.request
expect 1 'reuses a public key of member A-ONE' -- network admit $(P coord) --request a-copy.request --role relay
expect 0 'Published roster version 4 of IberRed: 3 members, 1 revoked' -- network publish $(P coord) --out ibr-3b.roster
expect 0 'roster version 4' -- join $(P a) --roster ibr-3b.roster
expect 0 'B-TWO@IberRed verifies' -- verify $(P a) --network IberRed --member B-TWO

# --- a second network, bridges ---
expect 0 'Created node W-COORD' -- init $(P wcoord) --id W-COORD --name "WACAP Secretariat" --country SN --listen tcp://127.0.0.1:47101
expect 0 'Created network WACAP' -- network create $(P wcoord) --network WACAP
expect 0 'Created node W-ONE' -- init $(P w1) --id W-ONE --name "Ministere de la Justice" --country SN --listen tcp://127.0.0.1:47102
expect 0 'Enrollment' -- enroll $(P w1) --out w1.request
expect 0 'Admitted W-ONE' -- network admit $(P wcoord) --request w1.request --role central-authority --languages fr
expect 0 'Published roster version 2 of WACAP' -- network publish $(P wcoord) --out w-2.roster
expect 0 'Root of WACAP' -- network root $(P wcoord) --out wacap.root
expect 0 'New trusted root for WACAP, fingerprint' -- join $(P w1) --roster w-2.roster --root wacap.root
expect 1 'unknown root' -- join $(P a) --roster w-2.roster
snapshot a > a.snap
expect 1 'not a valid roster of WACAP signed by the root' -- join $(P a) --roster ibr-3b.roster --root wacap.root
expect 1 'not a valid roster of IberRed signed by the root' -- join $(P a) --roster w-2.roster --root ibr.root
unchanged a a.snap "a root file offered with a roster it did not sign"
expect 1 'cannot bridge itself' -- network bridge $(P coord) --root ibr.root
expect 0 'IberRed now bridges WACAP' -- network bridge $(P coord) --root wacap.root
expect 1 'already bridges WACAP' -- network bridge $(P coord) --root wacap.root
expect 0 '1 bridges' -- network publish $(P coord) --out ibr-5.roster
expect 0 'roster version 5' -- join $(P a) --roster ibr-5.roster
expect 0 'reached through a bridge' -- join $(P a) --roster w-2.roster
expect 0 'W-ONE@WACAP verifies' -- verify $(P a) --network WACAP --member W-ONE
# WACAP has not bridged IberRed: its member still refuses IberRed's roster without the root.
expect 1 'unknown root' -- join $(P w1) --roster ibr-5.roster
expect 0 'Trusts WACAP \(bridged' -- show $(P a)
expect 0 'W-ONE +SN +central-authority' -- members $(P a) --network WACAP
expect 1 'not trusted' -- members $(P a) --network EJN

expect 1 'does not bridge EJN' -- network unbridge $(P coord) --network EJN
expect 0 'no longer bridges WACAP' -- network unbridge $(P coord) --network WACAP
expect 0 '0 bridges' -- network publish $(P coord) --out ibr-6.roster
expect 0 'roster version 6' -- join $(P a) --roster ibr-6.roster
expect 1 'unknown root' -- verify $(P a) --network WACAP --member W-ONE

# Each act is in the coordinator's audit log, in order, and the chain verifies.
expect 0 'admit +A-ONE as central-authority' -- archive log $(P coord) --last 50
if "$COMITYD" archive log $(P coord) --last 50 2>/dev/null | awk '{print $6}' | grep -qx 'unbridge'; then ok
else bad "archive log lacks the unbridge entry"; fi
expect 0 'is intact' -- archive verify $(P coord)
expect 1 '--last must be' -- archive log $(P coord) --last 0

# Keys sealed at the test cost are announced whenever comityd runs outside a test.
if COMITY_TEST_KDF= "$COMITYD" show --home "$WORK/a" 2>&1 >/dev/null | grep -q 'test-only passphrase hardness'; then ok
else bad "no warning for keys sealed at the test-only cost"; fi

# --- damaged home files are reported, not crashed on ---
cp -r a a2; printf 'garbage' > a2/trust.pb
expect 1 'trust.pb is damaged' -- verify --home "$WORK/a2" --network IberRed --member A-ONE
printf 'garbage' > a2/keys
expect 1 'keystore is malformed' -- enroll --home "$WORK/a2" --passphrase-file "$WORK/a.pass" --out x.request
expect 1 'no node in' -- show --home "$WORK/nowhere"

echo "cli_trust_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
