#!/usr/bin/env bash
# Runs every Comity test, in stages that each print their time: installs missing
# dependencies, configures and builds into build/ (warnings are errors), runs the whole suite
# through ctest, then builds the fuzz targets with clang into build-fuzz/ and runs each briefly
# from the seed corpus (COMITY_FUZZ_SECONDS each, default 30). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stage() {  # stage NAME COMMAND...: runs it, then prints how long it took
  local name=$1 t=$SECONDS
  shift
  echo "== stage $name"
  "$@"
  echo "== stage $name: $((SECONDS - t)) s (total $((SECONDS - started)) s)"
}

build() {
  cmake -S . -B build -DCOMITY_WERROR=ON
  cmake --build build -j2
}
suite() { (cd build && ctest --output-on-failure -j2); }
fuzz() {
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCOMITY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j2 --target fuzz_targets
  tests/fuzz/run.sh build-fuzz/bin build-fuzz/fuzz-out "${COMITY_FUZZ_SECONDS:-30}"
}

stage dependencies deploy/install-deps.sh
stage build build
stage tests suite
stage fuzz fuzz
echo "deploy/test.sh: every stage passed in $((SECONDS - started)) s"
