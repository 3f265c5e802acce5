// comity-bench attach: one file attachment between two real nodes on loopback, each node in a
// process of its own (see attach_bench.cpp and docs/BENCHMARKS.md).
#pragma once

namespace comity::bench {

// Runs the attachment benchmark with the arguments after "attach"; prints one JSON object on
// stdout, progress on stderr. Returns the process exit code.
int RunAttachBench(int argc, char** argv);

}  // namespace comity::bench
