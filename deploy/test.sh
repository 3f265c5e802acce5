#!/usr/bin/env bash
# Runs every Comity test: installs missing dependencies, configures and builds into build/
# (warnings are errors), then runs the whole suite through ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake -S . -B build -DCOMITY_WERROR=ON
cmake --build build -j2
cd build
ctest --output-on-failure -j2
