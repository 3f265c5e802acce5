// comity-bench soak: members sending at a steady rate through a relay for M minutes, a node
// killed with SIGKILL and started again every minute (see soak_bench.cpp and
// docs/BENCHMARKS.md).
#pragma once

namespace comity::bench {

// Runs the soak with the arguments after "soak"; prints one JSON object on stdout, progress on
// stderr. Returns 0 only when nothing was lost or duplicated, every archive verifies and the
// long-lived sender's resident memory grew by at most 10 %.
int RunSoakBench(int argc, char** argv);

}  // namespace comity::bench
