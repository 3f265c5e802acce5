// comityd: the Comity node. Today it administers a node's identity and its networks
// (node/admin.h); the daemon itself arrives with the transport.
#include <string>
#include <vector>

#include "node/admin.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return comity::node::RunAdminCommand(args);
}
