#!/usr/bin/env bash
# The Debian package and the systemd unit (issue 6): cpack builds the .deb; dpkg-deb shows the
# files, modes and dependencies it must have; lintian reports no error; cmake --install installs
# the same files; systemd-analyze verifies the unit and scores its exposure; and comityd runs
# (two nodes, a ping between them) under the seccomp filters that the unit's SystemCallFilter=,
# RestrictAddressFamilies= and MemoryDenyWriteExecute= install, read from the unit itself; with
# each of the two exceptions the unit documents taken away, comityd is shown to abort.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR PATH_TO_COMITY_SANDBOX_RUN
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
BUILD=$(realpath "${1:?usage: package_test.sh BUILD_DIR SOURCE_DIR SANDBOX_RUN}")
SRC=$(realpath "${2:?usage: package_test.sh BUILD_DIR SOURCE_DIR SANDBOX_RUN}")
SANDBOX=$(realpath "${3:?usage: package_test.sh BUILD_DIR SOURCE_DIR SANDBOX_RUN}")
UNIT=$SRC/deploy/systemd/comityd@.service
for tool in cpack dpkg-deb lintian systemd-analyze readelf; do
  command -v "$tool" >/dev/null || { echo "package_test: $tool is missing (deploy/install-deps.sh installs it)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/comity-package-test.XXXXXX)
daemons=()
trap 'for p in "${daemons[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
cd "$WORK"

# --- the package ----------------------------------------------------------------------------
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >cpack.out 2>&1
check $? "cpack failed: $(tail -n 20 cpack.out)"
DEB=$(ls "$WORK"/out/comity_*.deb 2>/dev/null | head -n 1)
[ -f "$DEB" ] || { echo "package_test: cpack wrote no .deb: $(tail -n 20 cpack.out)" >&2; exit 1; }
echo "package_test: built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

dpkg-deb --info "$DEB" >info.txt; check $? "dpkg-deb --info failed"
grep -q '^ Package: comity$' info.txt && grep -q '^ Section: net$' info.txt && grep -q '^ Version: 0\.1\.0$' info.txt
check $? "the control fields are wrong: $(cat info.txt)"
depends=$(sed -n 's/^ Depends: //p' info.txt)
for lib in adduser libsodium23 libzmq5 libsqlcipher0 libprotobuf32 libstdc++6 libc6; do
  [[ ", $depends," == *", $lib"[\ ,]* ]]; check $? "Depends lacks $lib: $depends"
done
echo "package_test: Depends: $depends"

dpkg-deb --contents "$DEB" >contents.txt; check $? "dpkg-deb --contents failed"
for f in ./usr/bin/comityd ./usr/bin/comity ./usr/lib/systemd/system/comityd@.service \
         ./usr/share/doc/comity/copyright ./usr/share/doc/comity/changelog.gz \
         ./usr/share/doc/comity/OPERATIONS.md ./usr/share/doc/comity/examples/member.conf \
         ./usr/share/doc/comity/examples/outbound.conf ./usr/share/doc/comity/examples/relay.conf; do
  grep -q " $f\$" contents.txt; check $? "the package lacks $f"
done
grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/comityd$' contents.txt; check $? "comityd is not 0755 root:root"
grep -Eq '^-rw-r--r-- root/root .* \./usr/lib/systemd/system/comityd@\.service$' contents.txt; check $? "the unit is not 0644 root:root"
! grep -Eq 'comity-bench|_tests|sandbox|archive-writer' contents.txt; check $? "test or benchmark binaries are packaged"
dpkg-deb -x "$DEB" root; check $? "dpkg-deb -x failed"
for b in comityd comity; do
  ! readelf -S "root/usr/bin/$b" | grep -q '\.symtab'; check $? "usr/bin/$b is not stripped"
done
dpkg-deb -e "$DEB" control; grep -q 'adduser --system' control/postinst; check $? "postinst does not create the comity user"

lintian --tag-display-limit 0 "$DEB" >lintian.txt 2>&1
echo "package_test: lintian says:"; sed 's/^/  /' lintian.txt
! grep -q '^E:' lintian.txt; check $? "lintian reports errors"

# --- cmake --install ------------------------------------------------------------------------
cmake --install "$BUILD" --prefix "$WORK/inst" >install.out 2>&1; check $? "cmake --install failed: $(tail -n 5 install.out)"
for f in bin/comityd bin/comity lib/systemd/system/comityd@.service share/doc/comity/examples/member.conf share/doc/comity/copyright; do
  [ -f "inst/$f" ]; check $? "cmake --install did not install $f"
done

# --- the unit -------------------------------------------------------------------------------
# Verified as an instance, in the unpacked package's tree with this machine's own units and
# kill(1) beside it (what the unit refers to), so that nothing is installed on the machine.
mkdir -p root/usr/bin && cp -n /usr/lib/systemd/system/* root/usr/lib/systemd/system/ 2>/dev/null
cp "$(type -P kill)" root/usr/bin/kill && ln -s usr/bin root/bin
cp root/usr/lib/systemd/system/comityd@.service "root/usr/lib/systemd/system/comityd@es-mj.service"
systemd-analyze verify --root="$WORK/root" /usr/lib/systemd/system/comityd@es-mj.service >verify.txt 2>&1; rc=$?
[ "$rc" -eq 0 ] && [ ! -s verify.txt ]; check $? "systemd-analyze verify: exit $rc: $(cat verify.txt)"
systemd-analyze security --offline=true --root="$WORK/root" comityd@es-mj.service >security.txt 2>&1
score=$(grep -o 'Overall exposure level for comityd@es-mj.service: [0-9.]* [A-Z]*' security.txt)
[ -n "$score" ]; check $? "systemd-analyze security gave no score: $(tail -n 5 security.txt)"
echo "package_test: $score"

# --- comityd as the unit confines it -----------------------------------------------------------
# The filters, from the unit's own lines: SystemCallFilter= sets (those with ~ are taken away),
# RestrictAddressFamilies=, MemoryDenyWriteExecute=.
expand() {  # the system calls of a set, its nested sets expanded
  systemd-analyze syscall-filter "$1" | sed -n '2,$p' | sed 's/#.*//; s/^ *//' | grep -v '^$' |
    while read -r s; do case $s in @*) expand "$s" ;; *) echo "$s" ;; esac; done
}
: >allow.txt; : >deny.txt
while read -r value; do
  for set in $value; do
    if [[ "$set" == "~"* ]]; then expand "${set#\~}" >>deny.txt; else expand "$set" >>allow.txt; fi
  done
done < <(sed -n 's/^SystemCallFilter=//p' "$UNIT")
comm -23 <(sort -u allow.txt) <(sort -u deny.txt) >syscalls.txt
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT" | tr ' ' ',')
wx=()
grep -q '^MemoryDenyWriteExecute=yes$' "$UNIT" && wx=(--deny-wx)
[ -s syscalls.txt ] && [ -n "$families" ] && [ ${#wx[@]} -eq 1 ]
check $? "the unit lacks its SystemCallFilter, RestrictAddressFamilies or MemoryDenyWriteExecute lines"
echo "package_test: confining comityd to $(wc -l <syscalls.txt) system calls and $families"

export COMITY_TEST_KDF=minimum
read -r port_a port_b < <(free_ports 2)
passphrases coord member
COMITYD=root/usr/bin/comityd
COMITY=root/usr/bin/comity
setup init $(P coord) --id T-COORD --name "Test coordinator" --country ES --listen tcp://127.0.0.1:$port_a
setup network create $(P coord) --network T
setup network root $(P coord) --out t.root
setup init $(P member) --id T-ONE --name "Test member" --country PT --listen tcp://127.0.0.1:$port_b
setup enroll $(P member) --out member.request
setup network admit $(P coord) --request member.request --role central-authority --languages pt
setup network publish $(P coord) --out t.roster
setup join $(P member) --roster t.roster --root t.root
sed "s|tcp://0.0.0.0:7400|tcp://127.0.0.1:$port_b|" "$SRC/deploy/examples/member.conf" >member.conf

# confined NAME LOG [CONFIG] [FAMILIES] [SYSCALLS]: starts NAME's daemon under the filters.
confined() {
  local n=$1 log=$2 config=() fam=${4:-$families} calls=${5:-syscalls.txt}
  [ -n "${3:-}" ] && config=(--config "$3")
  "$SANDBOX" --syscalls "$calls" --families "$fam" "${wx[@]}" -- \
    "$COMITYD" run $(P "$n") "${config[@]}" >"$log.out" 2>"$log" </dev/null &
  daemons+=($!)
}
started() {  # started LOG PID: the daemon logged its running line (true) or exited (false)
  local i
  for ((i = 0; i < 500; i++)); do
    grep -q 'info: running as' "$1" && return 0
    gone "$2" && return 1
    sleep 0.02
  done
  return 1
}
confined coord coord.log; pid_coord=${daemons[-1]}
confined member member.log "$WORK/member.conf"; pid_member=${daemons[-1]}
started coord.log "$pid_coord"; check $? "the confined coordinator did not start: $(cat coord.log)"
started member.log "$pid_member"; check $? "the confined member (example member.conf) did not start: $(cat member.log)"
"$COMITY" ping T-COORD@T --timeout 20 --home "$WORK/member" >ping.out 2>&1
check $? "a ping between two confined nodes failed: $(cat ping.out) $(cat member.log coord.log)"
grep -q 'delivered  by T-COORD@T' ping.out; check $? "the ping was not delivered: $(cat ping.out)"
for p in "$pid_coord" "$pid_member"; do kill -TERM "$p"; done
for p in "$pid_coord" "$pid_member"; do
  wait_exit "$p" 15; check $? "a confined daemon did not stop"
  [ "$rc" -eq 0 ]; check $? "a confined daemon exited $rc: $(cat coord.log member.log)"
done
daemons=()

# The unit's two exceptions, each taken away: comityd aborts in libzmq.
echo "package_test: the unit's two exceptions taken away, one at a time: two aborts follow"
confined coord no-netlink.log "" "${families/,AF_NETLINK/}"
wait_exit "${daemons[-1]}" 20; check $? "comityd without AF_NETLINK did not exit"
[ "$rc" -ne 0 ] && grep -q 'ip_resolver' no-netlink.log
check $? "without AF_NETLINK comityd should abort in libzmq's ip_resolver (exit $rc): $(cat no-netlink.log)"
grep -vx sched_setscheduler syscalls.txt >no-sched.txt
confined coord no-sched.log "" "" no-sched.txt
wait_exit "${daemons[-1]}" 20; check $? "comityd without sched_setscheduler did not exit"
[ "$rc" -ne 0 ] && grep -q 'thread.cpp' no-sched.log
check $? "without sched_setscheduler comityd should abort in libzmq's thread.cpp (exit $rc): $(cat no-sched.log)"
daemons=()

echo "package_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
