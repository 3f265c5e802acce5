// The status of a node (proto/link.proto NodeStatus) as people read it: what `comityd status`
// prints from HOME/status.pb and `comity status` from the local API.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "proto/link.pb.h"

namespace comity::node {

// "never", "12 s ago", "3 min ago", "2 h ago".
std::string Ago(std::int64_t then, std::int64_t now);

// Memberships, endpoints, roster versions, peers (link, last seen, outbox) and counters, one
// block of lines; member names are escaped for display.
void PrintStatus(const v1::NodeStatus& status, std::int64_t now, std::ostream& out);

}  // namespace comity::node
