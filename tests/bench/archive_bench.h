// comity-bench archive: the SQLCipher archive against a plain SQLite database with the same
// schema, filled side by side in the same run (see archive_bench.cpp and docs/BENCHMARKS.md).
#pragma once

namespace comity::bench {

// Runs the archive benchmark with the arguments after "archive"; prints one JSON object on
// stdout, progress on stderr. Returns the process exit code.
int RunArchiveBench(int argc, char** argv);

}  // namespace comity::bench
