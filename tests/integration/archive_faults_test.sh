#!/usr/bin/env bash
# Drives a node's encrypted archive through real processes and real faults: comityd's archive
# commands (verify, backup, restore, rekey, purge) with wrong passphrases, damaged files and
# bad input; a writer process (comity-archive-writer) killed with SIGKILL in the middle of its
# batches; a file-size limit and a full disk (a small tmpfs in a mount namespace) under it.
# After every fault the archive must open, `comityd archive verify` must call it intact, and it
# must hold every committed batch exactly once and no part of any other. Every refusal is one
# line on stderr with its exit code and leaves archive.db byte-identical.
# Usage: archive_faults_test.sh PATH_TO_COMITYD PATH_TO_COMITY_ARCHIVE_WRITER
# Exit: 0 all passed; 1 a check failed; 77 (ctest SKIP_RETURN_CODE) everything ran and passed
# except the disk-full part, which needs a mount namespace (the reason is printed).
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# What the writer counts in HOME's archive with M messages a batch, as "messages N audit A
# attachments T batches B partial P"; the passphrase comes from COMITY_PASSPHRASE.
count_of() { "$WRITER" --home "$1" --messages "$2" --count 2>&1; }
# expect_count HOME M BATCHES AUDIT ATTACHMENTS WHAT: the archive holds batches 0..BATCHES-1
# whole, nothing partial, no other message, AUDIT audit entries, ATTACHMENTS attachments.
expect_count() {
  local want="messages $(($2 * $3)) audit $4 attachments $5 batches $3 partial 0" have
  have=$(count_of "$1" "$2")
  if [ "$have" == "$want" ]; then ok; else bad "$6: archive holds '$have', wanted '$want'"; fi
}
committed_in() { local n; n=$(grep -c '^committed [0-9]*$' "$1" 2>/dev/null); echo "${n:-0}"; }
last_line() { tail -n 1 "$1" 2>/dev/null; }
init_node() {  # init_node HOME ID PASSFILE
  "$COMITYD" init --home "$1" --passphrase-file "$3" --id "$2" --name "Authority $2" --country ES \
    --listen tcp://127.0.0.1:1 >/dev/null 2>init.err </dev/null || bad "init $1: $(cat init.err)"
}

# ---------------------------------------------------------------------------------------------
# The disk-full part runs in this same script, re-entered inside `unshare -m`: the tmpfs and
# every check on it live and die with that mount namespace.
# ---------------------------------------------------------------------------------------------
disk_full_inside() {
  mount --make-rprivate / 2>mnt.err || { echo "SKIP: mount --make-rprivate / failed: $(cat mnt.err)"; exit 77; }
  local full="$WORK/full" tight="$WORK/tight" M=10
  mkdir -p "$full" "$tight"
  trap 'umount "$full" "$tight" 2>/dev/null' EXIT
  mount -t tmpfs -o size=4m tmpfs "$full" 2>mnt.err || { echo "SKIP: cannot mount a tmpfs: $(cat mnt.err)"; exit 77; }
  mount -t tmpfs -o size=3m tmpfs "$tight" 2>mnt.err || { echo "SKIP: cannot mount a tmpfs: $(cat mnt.err)"; exit 77; }
  export COMITY_PASSPHRASE=$(cat "$WORK/full.pass")

  # 1. Batches until the disk is full: the failing batch rolls back and is reported as such.
  init_node "$full/h" F-ONE "$WORK/full.pass"
  "$WRITER" --home "$full/h" --messages $M --payload 2000 --attachment 3000 --batches 100000 >full.out 2>full.err
  local rc=$? n
  n=$(committed_in full.out)
  check $(( rc == 1 ? 0 : 1 )) "writer on a full disk -> exit $rc, wanted 1: $(cat full.err)"
  check $(( n >= 5 ? 0 : 1 )) "only $n batches fitted on the 4 MiB tmpfs before it was full"
  grep -Eq "^comity-archive-writer: batch $n failed: .*(full|No space left).*\[disk-full\]$" full.err
  check $? "a full disk is not reported as such for batch $n: $(cat full.err)"
  check $(( $(wc -l <full.err) == 1 ? 0 : 1 )) "the writer's disk-full report is not one line: $(cat full.err)"
  expect 0 'is intact' -- archive verify --home "$full/h"
  expect_count "$full/h" $M "$n" $((1 + n)) "$n" "after the disk filled"

  # 2. Commands that must write on the full disk fail cleanly and leave no debris.
  local before
  expect 1 "backup .*$full/bk.*(full|No space left)" -- archive backup --home "$full/h" --out "$full/bk"
  if ls "$full"/bk* >/dev/null 2>&1; then bad "a failed backup left $(ls "$full"/bk*)"; else ok; fi
  before=$(count_of "$full/h" $M)
  "$COMITYD" archive purge --home "$full/h" --before 2000-01-01 >purge.out 2>purge.err
  rc=$?
  if [ $rc -eq 0 ]; then
    # It found room in the WAL: then it must have recorded itself.
    expect_count "$full/h" $M "$n" $((2 + n)) "$n" "after a purge on the full disk"
  else
    grep -Eq '(full|No space left)' purge.err
    check $? "purge on a full disk: exit $rc without saying the disk is full: $(cat purge.err)"
    [ "$(count_of "$full/h" $M)" == "$before" ]
    check $? "a failed purge on the full disk changed the archive"
  fi
  expect 0 'is intact' -- archive verify --home "$full/h"

  # 3. With room again the same archive takes new batches after the rolled-back one.
  mount -t tmpfs -o remount,size=8m tmpfs "$full" 2>mnt.err || bad "cannot grow the tmpfs: $(cat mnt.err)"
  local audit
  audit=$(count_of "$full/h" $M | awk '{print $4}')
  "$WRITER" --home "$full/h" --messages $M --payload 2000 --attachment 3000 --batches 3 --start "$n" >more.out 2>more.err
  check $? "writing after the disk was freed failed: $(cat more.err)"
  expect_count "$full/h" $M $((n + 3)) $((audit + 3)) $((n + 3)) "after writing on the freed disk"
  expect 0 'is intact' -- archive verify --home "$full/h"

  # 4. Rekey rewrites every page: with less room than the database it must fail and leave the
  # old passphrase working (SQLCipher's sqlite3_rekey reports success when it rolled back).
  init_node "$tight/h" T-ONE "$WORK/full.pass"
  local i
  for ((i = 0; i < 40 && $(stat -c %s "$tight/h/archive.db") < 1900000; i++)); do
    # Small runs: each ends with a checkpoint, so the database grows without a big WAL.
    "$WRITER" --home "$tight/h" --messages $M --payload 4000 --batches 4 --start $((4 * i)) >>tight.out 2>tight.err ||
      { bad "filling the 3 MiB tmpfs failed: $(cat tight.err)"; break; }
  done
  local kdf_sha batches audit_before have
  kdf_sha=$(sha256sum <"$tight/h/archive.kdf")
  batches=$((4 * i))
  audit_before=$(count_of "$tight/h" $M | awk '{print $4}')
  expect 1 '(full|No space left|did not take effect)' -- archive rekey --home "$tight/h" \
    --new-passphrase-file "$WORK/other.pass"
  if [ -e "$tight/h/archive.kdf.new" ]; then bad "a failed rekey left archive.kdf.new"; else ok; fi
  [ "$(sha256sum <"$tight/h/archive.kdf")" == "$kdf_sha" ]; check $? "a failed rekey replaced archive.kdf"
  expect 0 'is intact' -- archive verify --home "$tight/h"
  expect 2 'wrong passphrase or not a Comity archive' -- archive verify --home "$tight/h" \
    --passphrase-file "$WORK/other.pass"
  # The node keys stay with the archive: no staged keystore left for the new passphrase.
  if [ -e "$tight/h/keys.new" ]; then bad "a failed rekey left keys.new"; else ok; fi
  expect 1 'wrong passphrase' -- enroll --home "$tight/h" --passphrase-file "$WORK/other.pass" --out "$WORK/t.request"
  expect 0 'Enrollment request of T-ONE' -- enroll --home "$tight/h" --out "$WORK/t.request"
  # Its "passphrase change begun" entry may or may not have been written before the rewrite
  # failed; "completed" never is.
  have=$(count_of "$tight/h" $M)
  if [ "$have" == "messages $((M * batches)) audit $audit_before attachments 0 batches $batches partial 0" ] ||
     [ "$have" == "messages $((M * batches)) audit $((audit_before + 1)) attachments 0 batches $batches partial 0" ]; then
    ok
  else
    bad "after a rekey without room the archive holds '$have' ($batches batches, $audit_before audit entries before)"
  fi

  echo "disk-full: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "${1:-}" == "--disk-full-inside" ]; then
  COMITYD=$2 WRITER=$3 WORK=$4
  cd "$WORK/inside" || exit 1
  disk_full_inside
fi

COMITYD=$(realpath "${1:?usage: archive_faults_test.sh PATH_TO_COMITYD PATH_TO_COMITY_ARCHIVE_WRITER}")
WRITER=$(realpath "${2:?usage: archive_faults_test.sh PATH_TO_COMITYD PATH_TO_COMITY_ARCHIVE_WRITER}")
SELF=$(realpath "$0")
[ -x "$COMITYD" ] || { echo "archive_faults_test: no comityd at $COMITYD" >&2; exit 1; }
[ -x "$WRITER" ] || { echo "archive_faults_test: no comity-archive-writer at $WRITER" >&2; exit 1; }
WORK=$(mktemp -d /tmp/comity-archive-faults.XXXXXX)
bg=""  # the writer running in the background, if any
trap '[ -n "$bg" ] && kill -9 "$bg" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
export COMITY_TEST_KDF=minimum   # test-only Argon2id cost; the product default is MODERATE
unset COMITY_PASSPHRASE COMITY_NEW_PASSPHRASE
started=$SECONDS
passphrases a r full other wrong
P() { echo "--home $WORK/$1 --passphrase-file $WORK/$2.pass"; }

# --- a node with an archive that holds something: 5 batches of 4 messages --------------------
init_node a A-ONE a.pass
COMITY_PASSPHRASE=$(cat a.pass) "$WRITER" --home a --messages 4 --batches 5 >/dev/null 2>w.err ||
  bad "writing the first batches failed: $(cat w.err)"
expect 0 'is intact' -- archive verify $(P a a)
expect 0 'audit chain: 6 entries' -- archive verify $(P a a)
expect 0 'written to' -- archive backup $(P a a) --out good.backup

# --- wrong passphrase: one line, exit 2, archive.db byte-identical, no other file touched -----
sha256sum a/archive.db >db.sha
snapshot a >a.snap
for cmd in "verify" "backup --out wrong.backup" "purge --before 2000-01-01" \
           "rekey --new-passphrase-file $WORK/other.pass" "restore --from $WORK/good.backup --force"; do
  expect 2 '^comityd: error: wrong passphrase or not a Comity archive$' -- archive $cmd $(P a wrong)
  sha256sum -c --quiet db.sha >/dev/null 2>&1; check $? "archive $cmd with a wrong passphrase changed archive.db"
  unchanged a a.snap "archive $cmd with a wrong passphrase"
done
COMITY_PASSPHRASE=$(cat wrong.pass) expect 2 'wrong passphrase or not a Comity archive' -- archive verify --home "$WORK/a"
if [ -e wrong.backup ]; then bad "a backup with a wrong passphrase wrote wrong.backup"; else ok; fi
# The backup carries its own key parameters: a wrong passphrase for it is refused the same way.
init_node r R-ONE r.pass
snapshot r >r.snap
expect 2 'wrong passphrase or not a Comity archive' -- archive restore $(P r r) --from good.backup --force
unchanged r r.snap "archive restore of a backup with another passphrase"

# --- backup and restore into another home --------------------------------------------------
expect 1 'refusing to overwrite' -- archive backup $(P a a) --out good.backup
init_node r2 R-TWO a.pass
snapshot r2 >r2.snap
expect 1 'refusing to replace the archive in .* \(use --force\)' -- archive restore $(P r2 a) --from good.backup
unchanged r2 r2.snap "archive restore without --force"
expect 0 'restored from' -- archive restore $(P r2 a) --from good.backup --force
ls r2/archive.db.before-restore-* r2/archive.kdf.before-restore-* >/dev/null 2>&1
check $? "restore --force did not keep the replaced archive aside"
expect 0 'is intact' -- archive verify $(P r2 a)
# The backup was taken before its own audit entry; the restore appends one.
COMITY_PASSPHRASE=$(cat a.pass) expect_count r2 4 5 7 0 "the restored archive"
expect 1 'not a Comity archive backup' -- archive restore $(P r2 a) --from a.pass --force
expect 1 'cannot read' -- archive restore $(P r2 a) --from missing.backup --force

# --- purge ---------------------------------------------------------------------------------
snapshot a >a.snap
for date in 2000-13-01 2026-02-30 yesterday 2000-01-01T00:00:00 1969-12-31 ''; do
  expect 1 '^comityd: error: --before must be a date: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ \(UTC\)$' -- \
    archive purge $(P a a) --before "$date"
done
expect 2 'unknown option --colour' -- archive purge $(P a a) --before 2000-01-01 --colour red
expect 2 'missing --before' -- archive purge $(P a a)
expect 2 'unknown command .archive frobnicate' -- archive frobnicate $(P a a)
expect 2 'unexpected argument' -- archive verify $(P a a) extra
unchanged a a.snap "refused purges"
expect 0 'Purged content from before 2000-01-01: 0 messages' -- archive purge $(P a a) --before 2000-01-01
COMITY_PASSPHRASE=$(cat a.pass) expect_count a 4 5 8 0 "after purging nothing (backup and purge recorded)"
# The writer's messages are dated 2023-11-14: a later date purges all 20, one audit entry each.
expect 0 'Purged content from before 2024-01-01: 20 messages' -- archive purge $(P a a) --before 2024-01-01
[ "$(COMITY_PASSPHRASE=$(cat a.pass) count_of a 4)" == "messages 0 audit 29 attachments 0 batches 0 partial 0" ]
check $? "purge left: $(COMITY_PASSPHRASE=$(cat a.pass) count_of a 4)"
expect 0 'is intact' -- archive verify $(P a a)

# --- rekey: the old passphrase stops working for the archive and the keys alike ---------------
expect 1 'the new passphrase is the old one' -- archive rekey $(P a a) --new-passphrase-file "$WORK/a.pass"
expect 1 'passphrase file' -- archive rekey $(P a a) --new-passphrase-file "$WORK/missing.pass"
expect 0 'Passphrase changed' -- archive rekey $(P a a) --new-passphrase-file "$WORK/other.pass"
sha256sum a/archive.db >db.sha
snapshot a >a.snap
for cmd in "verify" "backup --out old.backup" "purge --before 2000-01-01" "rekey --new-passphrase-file $WORK/r.pass"; do
  expect 2 '^comityd: error: wrong passphrase or not a Comity archive$' -- archive $cmd $(P a a)
  sha256sum -c --quiet db.sha >/dev/null 2>&1; check $? "archive $cmd with the old passphrase changed archive.db"
done
unchanged a a.snap "archive commands with the old passphrase"
expect 0 'is intact' -- archive verify $(P a other)
expect 0 'Enrollment request of A-ONE' -- enroll $(P a other) --out a.request
expect 1 'wrong passphrase' -- enroll $(P a a) --out a.request
expect 0 'written to' -- archive backup $(P a other) --out rekeyed.backup

# --- damaged files: a clear error naming the file; nothing recreated or overwritten ------------
init_node d D-ONE a.pass
COMITY_PASSPHRASE=$(cat a.pass) "$WRITER" --home d --messages 20 --payload 2000 --batches 12 >/dev/null 2>w.err ||
  bad "writing the batches to damage failed: $(cat w.err)"
size=$(stat -c %s d/archive.db)
pages=$((size / 4096))
# damage NAME FILE-PATTERN ACTION...: applies ACTION to a fresh copy of d in dmg/, then every
# archive command must refuse with one line naming the file and change nothing.
damage() {
  local name=$1 pattern=$2; shift 2
  rm -rf dmg dmg.backup && cp -a d dmg && "$@"
  snapshot dmg >dmg.snap
  local cmd
  for cmd in "verify" "backup --out $WORK/dmg.backup" "purge --before 2000-01-01" \
             "rekey --new-passphrase-file $WORK/other.pass"; do
    expect 1 "$pattern" -- archive $cmd $(P dmg a)
    unchanged dmg dmg.snap "archive $cmd on a damaged archive ($name)"
  done
  if [ -e dmg.backup ]; then bad "a backup of a damaged archive ($name) was written"; else ok; fi
}
db_named='dmg/archive\.db is (damaged|missing)'
damage "truncated to half" "$db_named" truncate -s $((size / 2)) dmg/archive.db
damage "truncated inside page 1" "$db_named" truncate -s 1000 dmg/archive.db
damage "truncated to nothing" "$db_named" truncate -s 0 dmg/archive.db
damage "page 1 flipped" "$db_named" flip_byte dmg/archive.db 100
damage "garbage" "$db_named" sh -c "head -c $size /dev/urandom >dmg/archive.db"
damage "archive.db missing" "$db_named" rm dmg/archive.db
damage "archive.kdf garbage" 'archive\.kdf is damaged' sh -c 'echo garbage >dmg/archive.kdf'
damage "archive.kdf missing" 'dmg/archive\.kdf is missing beside' rm dmg/archive.kdf

# One flipped bit deep inside: nothing reads that page on open, so verify must find it, backup
# must not copy it, and rekey (which rewrites every page) must refuse rather than lose the key.
rm -rf dmg && cp -a d dmg && flip_byte dmg/archive.db $(( (pages / 2) * 4096 + 1500 ))
snapshot dmg >dmg.snap
expect 1 '^comityd: error: archive .*dmg/archive\.db: database integrity: ' -- archive verify $(P dmg a)
expect 1 'dmg/archive\.db' -- archive backup $(P dmg a) --out "$WORK/dmg.backup"
if [ -e dmg.backup ]; then bad "a backup of a damaged page was written"; else ok; fi
expect 1 'dmg/archive\.db is damaged' -- archive rekey $(P dmg a) --new-passphrase-file "$WORK/other.pass"
unchanged dmg dmg.snap "verify, backup and rekey of an archive with a damaged page"
expect 1 'database integrity' -- archive verify $(P dmg a)

# A damaged backup never replaces a good archive.
expect 0 'written to' -- archive backup $(P d a) --out d.backup
bsize=$(stat -c %s d.backup)
head -c $((bsize / 2)) d.backup >half.backup
cp d.backup flipped.backup && flip_byte flipped.backup $((bsize / 2))
snapshot r2 >r2.snap
expect 1 'half\.backup is damaged' -- archive restore $(P r2 a) --from half.backup --force
expect 1 'flipped\.backup is damaged' -- archive restore $(P r2 a) --from flipped.backup --force
unchanged r2 r2.snap "restores of damaged backups"

# --- kill -9 in the middle of write batches --------------------------------------------------
# wait_for OUT PID TEST: polls every 10 ms (for at most 20 s) until TEST (a shell condition on
# the writer's output) holds; false when the writer exited first.
wait_for() {
  local out=$1 pid=$2 test=$3 i
  for ((i = 0; i < 2000; i++)); do
    eval "$test" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
M=20
export COMITY_PASSPHRASE
COMITY_PASSPHRASE=$(cat a.pass)
init_node c C-ONE a.pass
done_batches=0   # batches the archive holds, as counted after each crash
mid_batch=0      # crashes that found a batch begun and not reported committed
# crash ROUND WRITER_OPTIONS TEST: starts the writer at the next batch, waits for TEST, kills it,
# then checks that the archive opens, verifies, and holds each committed batch whole.
crash() {
  local round=$1 opts=$2 test=$3 start=$done_batches
  rm -f crash.out crash.err
  "$WRITER" --home c --messages $M --start "$start" --batches 5000 $opts >crash.out 2>crash.err &
  bg=$!
  if ! wait_for crash.out "$bg" "$test"; then
    bad "crash $round: the writer never reached '$test': $(tail -n 2 crash.out) $(cat crash.err)"
  fi
  kill -9 "$bg" 2>/dev/null
  wait "$bg" 2>/dev/null
  local rc=$? last
  bg=""
  last=$(last_line crash.out)
  check $(( rc == 137 ? 0 : 1 )) "crash $round: the writer was not killed by SIGKILL (exit $rc): $(cat crash.err)"
  [ -e c/archive.db-wal ]; check $? "crash $round: no WAL left behind: the kill did not find the writer at work"
  local committed=$(( start + $(committed_in crash.out) )) have batches
  have=$(count_of c $M)
  batches=$(echo "$have" | awk '{print $8}')
  if [[ "$last" == holding* ]]; then
    mid_batch=$((mid_batch + 1))
    [ "$batches" == "$committed" ]
    check $? "crash $round: killed inside batch $committed with its transaction open, archive holds '$have'"
    batches=$committed
  elif [[ "$last" == begin* ]]; then
    mid_batch=$((mid_batch + 1))
    # Killed inside a batch, or between its commit and the line saying so.
    if [ "$batches" != "$committed" ] && [ "$batches" != $((committed + 1)) ]; then
      bad "crash $round: $committed batches reported committed, archive holds '$have'"
      batches=$committed
    fi
  elif [ "$batches" != "$committed" ]; then
    bad "crash $round: $committed batches reported committed (last line '$last'), archive holds '$have'"
    batches=$committed
  fi
  expect 0 'is intact' -- archive verify --home "$WORK/c"
  expect_count c $M "$batches" $((1 + batches)) "$batches" "crash $round"
  done_batches=$batches
}
# Early, after a few small batches, wherever the writer happens to be.
crash 1 "--payload 256 --attachment 512" '[ "$(committed_in "$out")" -ge 3 ]'
# Later, seen inside a large batch whose uncommitted pages spill into the WAL (tiny page cache).
crash 2 "--payload 10000 --attachment 4096 --cache-pages 8" \
  '[ "$(committed_in "$out")" -ge 4 ] && [[ "$(last_line "$out")" == begin* ]]'
# Surely inside a batch: the writer holds its transaction open, half written and spilled.
crash 3 "--payload 10000 --attachment 4096 --cache-pages 8 --hold-in $((done_batches + 2))" \
  '[[ "$(last_line "$out")" == holding* ]]'
# At once after the restart, seen inside its first batch.
crash 4 "--payload 20000 --attachment 65536 --cache-pages 8" '[[ "$(last_line "$out")" == begin* ]]'
check $(( mid_batch >= 1 ? 0 : 1 )) "no crash landed inside a batch"
echo "crashes: $mid_batch of 4 kills found a batch begun and not reported committed; $done_batches batches survived"
# The recovered archive goes on from where it stood.
"$WRITER" --home c --messages $M --start "$done_batches" --batches 3 --attachment 256 >more.out 2>more.err
check $? "writing after the crashes failed: $(cat more.err)"
expect_count c $M $((done_batches + 3)) $((done_batches + 4)) $((done_batches + 3)) "after the crashes and 3 more batches"
expect 0 'is intact' -- archive verify --home "$WORK/c"
# A batch already committed is recognised, not stored twice.
"$WRITER" --home c --messages $M --start 0 --batches 1 >dup.out 2>dup.err
grep -q 'message 0/0 is already in the archive' dup.err; check $? "a replayed batch was not refused: $(cat dup.err)"
expect_count c $M $((done_batches + 3)) $((done_batches + 4)) $((done_batches + 3)) "after replaying batch 0"

# --- a write error mid-batch: the file-size limit (EFBIG) instead of a full disk ----------------
init_node e E-ONE a.pass
# SIGXFSZ ignored: the write fails with EFBIG instead of killing the writer.
( trap '' XFSZ; ulimit -f 1024
  exec "$WRITER" --home e --messages 10 --payload 2000 --attachment 3000 --batches 100000 ) >limit.out 2>limit.err
rc=$?
n=$(committed_in limit.out)
check $(( rc == 1 ? 0 : 1 )) "writer past the file-size limit -> exit $rc, wanted 1: $(cat limit.err)"
check $(( n >= 3 ? 0 : 1 )) "only $n batches before the 1 MiB file-size limit"
grep -Eq "^comity-archive-writer: batch $n failed: .*\[(io|disk-full)\]$" limit.err
check $? "the write error is not reported for batch $n: $(cat limit.err)"
expect 0 'is intact' -- archive verify --home "$WORK/e"
expect_count e 10 "$n" $((1 + n)) "$n" "after the file-size limit"
unset COMITY_PASSPHRASE

# --- a full disk: a small tmpfs in a private mount namespace ----------------------------------
skipped=""
mkdir -p inside
if ! command -v unshare >/dev/null || ! command -v mount >/dev/null; then
  skipped="unshare or mount is not installed"
else
  ns=""
  for try in "unshare -m" "unshare -r -m"; do
    if $try true 2>/dev/null; then ns=$try; break; fi
  done
  if [ -z "$ns" ]; then
    skipped="no mount namespace: 'unshare -m' and 'unshare -r -m' are not permitted here"
  else
    $ns bash "$SELF" --disk-full-inside "$COMITYD" "$WRITER" "$WORK" >inside.out 2>&1
    rc=$?
    sed 's/^/  [disk-full] /' inside.out | grep -v '^  \[disk-full\] comityd: warning' >&2
    if [ $rc -eq 77 ]; then
      skipped=$(grep -m1 '^SKIP: ' inside.out | sed 's/^SKIP: //')
      skipped=${skipped:-"the mount namespace refused a mount"}
    else
      line=$(grep -E '^disk-full: [0-9]+ passed, [0-9]+ failed$' inside.out)
      if [ -z "$line" ]; then
        bad "the disk-full part ended without its summary (exit $rc)"
      else
        passed=$((passed + $(echo "$line" | awk '{print $2}')))
        failed=$((failed + $(echo "$line" | awk '{print $4}')))
      fi
    fi
  fi
fi
grep -qsF " $WORK/" /proc/self/mounts && bad "a tmpfs outlived its mount namespace"

summary="archive_faults_test: $passed passed, $failed failed"
[ -n "$skipped" ] && summary+=", disk-full part SKIPPED: $skipped"
echo "$summary ($((SECONDS - started)) s)"
[ "$failed" -eq 0 ] || exit 1
[ -z "$skipped" ] || exit 77
exit 0
