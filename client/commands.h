// The command groups of `comity` beyond the node's own (status, ping, search, directory, in
// main.cpp): each takes the parsed command line, prints what it did and returns the exit code
// (cli.h). Single-threaded, one command per process.
#pragma once

#include "client/cli.h"

namespace comity::client {

// comity thread open|draft|diff|comment|status|show|list (client/threads.cpp).
int ThreadCommand(const Options& o);
// comity notice send|list|show|accept (client/notices.cpp).
int NoticeCommand(const Options& o);
// comity export THREAD --out FILE, and comity verify FILE --root ROOT_FILE, which needs no
// daemon (client/evidence.cpp).
int Export(const Options& o);
int Verify(const Options& o);
// comity stats [--csv] (client/stats.cpp).
int Stats(const Options& o);

}  // namespace comity::client
