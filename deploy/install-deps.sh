#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Comity needs, and only those.
# Idempotent: installs nothing when everything is present. Works as root or through sudo.
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config           # toolchain
  libsodium-dev                       # crypto
  libzmq3-dev cppzmq-dev              # transport
  libprotobuf-dev protobuf-compiler   # wire and storage schemas
  libsqlcipher-dev                    # encrypted archive
  libboost-dev                        # Asio event loop
  libgtest-dev libgmock-dev           # tests
  dpkg-dev lintian systemd            # the package and the unit: cpack's dpkg-shlibdeps, lintian, systemd-analyze
  libseccomp-dev                      # package_test confines comityd as the unit does
  procps                              # kill and pgrep, used by the unit (ExecReload) and the scripts
  clang libclang-rt-14-dev            # the fuzz targets: libFuzzer and the sanitizer runtimes
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo is available" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
