// comityd: the Comity node. Today it administers a node's identity, its networks and its
// archive (node/cli.h); the daemon itself arrives with the transport.
#include <google/protobuf/stubs/logging.h>
#include <sys/prctl.h>

#include <string>
#include <vector>

#include "node/cli.h"

int main(int argc, char** argv) {
  // No core dumps: they could hold passphrases and keys outside locked memory.
  ::prctl(PR_SET_DUMPABLE, 0);
  // Damaged input is reported by comityd itself in one line; protobuf's own log lines
  // (e.g. "invalid UTF-8") would add a second.
  google::protobuf::SetLogHandler(nullptr);
  std::vector<std::string> args(argv + 1, argv + argc);
  return comity::node::RunAdminCommand(args);
}
