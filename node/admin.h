// comityd's administration commands (init, enroll, join, network ...): parse the command
// line, act on a node's home directory, print what was done. Each returns the process exit
// code: 0 done, 1 refused or failed (one line on stderr says why), 2 bad usage.
#pragma once

#include <string>
#include <vector>

namespace comity::node {

int RunAdminCommand(const std::vector<std::string>& args);

}  // namespace comity::node
