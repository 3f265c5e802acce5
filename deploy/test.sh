#!/usr/bin/env bash
# Runs every Comity test, in stages that each print their time:
#   dependencies - installs what is missing (deploy/install-deps.sh);
#   build        - configures and builds into build/ (warnings are errors);
#   tests        - the whole suite through ctest;
#   soak         - comity-bench soak for COMITY_SOAK_MINUTES (default 2): nothing lost or
#                  duplicated across a kill -9 every minute, resident memory within +10 %;
#   fuzz         - everything built with clang, AddressSanitizer + UndefinedBehaviorSanitizer
#                  into build-fuzz/, and each fuzz target run briefly from the seed corpus
#                  (COMITY_FUZZ_SECONDS each, default 30);
#   sanitizers   - the whole suite again from build-fuzz/ (but package_test: see below);
#   threads      - the daemon's unit tests, comityd and comity built with ThreadSanitizer into
#                  build-tsan/: the unit tests that run nodes on threads (Daemon*) and the
#                  tests of comityd processes (daemon_run_test, daemon_faults_test,
#                  workflow_test, operations_test).
# Exits non-zero on any failure; any sanitizer report fails its test.
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
soak() {
  local out
  out=$(build/bin/comity-bench soak --minutes "${COMITY_SOAK_MINUTES:-2}") || { echo "$out"; return 1; }
  echo "$out"
}
# Sanitizer reports end the process with an error (halt_on_error, -fno-sanitize-recover), so a
# report fails the test that caused it; leak detection is on (the default of ASan on Linux).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# One clang build serves two stages: everything in it is instrumented with AddressSanitizer +
# UndefinedBehaviorSanitizer (and libFuzzer's coverage counters, which the tests do not use but pay for in speed).
fuzz() {
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCOMITY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j2
  tests/fuzz/run.sh build-fuzz/bin build-fuzz/fuzz-out "${COMITY_FUZZ_SECONDS:-30}"
}

sanitizers() {
  # package_test builds the Debian package from the build tree and runs comityd confined by the
  # unit's seccomp filter: instrumented binaries need the sanitizer runtimes, which the package
  # does not depend on, and mappings that filter refuses. It tests the packaging and runs in
  # stage tests; everything else runs here, from the build of stage fuzz.
  echo "sanitizers: package_test is not run here (it packages the binaries; it ran in stage tests)"
  (cd build-fuzz && ctest --output-on-failure -j2 -E '^package_test$')
}
threads() {
  cmake -S . -B build-tsan -DCOMITY_TSAN=ON -DCOMITY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-tsan -j2 --target daemon_tests comityd comity
  # Debian's libzmq and libsodium are not instrumented: their memory accesses are not tracked
  # (ignore_noninstrumented_modules), so a message handed from a ZeroMQ I/O thread to the
  # node's thread is not mistaken for a race; every access of Comity's own code is. Deadlines of
  # the unit tests are stretched (COMITY_TEST_TIMEOUT_SCALE): TSan runs them several times slower.
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1 suppressions=$PWD/tests/tsan.supp" \
    COMITY_TEST_TIMEOUT_SCALE=10 bash -c 'cd build-tsan &&
      ctest --output-on-failure -j2 -R "^(Daemon|daemon_run_test$|daemon_faults_test$|workflow_test$|operations_test$)"'
}
stage dependencies deploy/install-deps.sh
stage build build
stage tests suite
stage soak soak
stage fuzz fuzz
stage sanitizers sanitizers
stage threads threads
echo "deploy/test.sh: every stage passed in $((SECONDS - started)) s"
