// comity-bench e2e: two nodes on loopback, messages sealed, archived at both ends and
// acknowledged (see e2e_bench.cpp and docs/BENCHMARKS.md).
#pragma once

namespace comity::bench {

// Runs the end-to-end benchmark with the arguments after "e2e"; prints one JSON object on
// stdout, progress on stderr. Returns the process exit code.
int RunE2eBench(int argc, char** argv);
// comity-bench broadcast: one notice from a coordinator to M members, time to all receipts.
int RunBroadcastBench(int argc, char** argv);

}  // namespace comity::bench
