// comity-bench bundle: the evidence bundle of one long thread between two bridged networks,
// signed, verified offline and folded, against the raw libsodium work its verification cannot
// avoid (see bundle_bench.cpp and docs/BENCHMARKS.md). Single-threaded; no node, no disk.
#pragma once

namespace comity::bench {

// Runs the bundle benchmark with the arguments after "bundle"; prints one JSON object on
// stdout, progress on stderr. Returns the process exit code.
int RunBundleBench(int argc, char** argv);

}  // namespace comity::bench
