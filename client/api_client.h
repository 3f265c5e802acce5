// One request to comityd's local API and its answer (proto/api.proto, docs/PROTOCOL.md §12),
// over a fresh connection to the Unix socket. Blocking; single-threaded.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "client/cli.h"
#include "crypto/result.h"
#include "proto/api.pb.h"

namespace comity::client {

struct CallLimits {
  int timeout_ms = 30000;                          // for each read and write to make progress
  std::size_t max_answer = std::size_t{64} << 20;  // larger answers are refused unread
};

// Sends `request` (its version set here) to the daemon `o` names and returns the answer. A
// daemon that is not running is exit code 3 (NotRunning's line); one that cannot be reached
// or read, or whose answer is an error, exit code 1 with that line.
// With `on_progress`, the request asks for progress, and it is told each progress response.
Result<v1::ApiResponse, Failure> Call(const Options& o, v1::ApiRequest request, const CallLimits& limits = {},
                                      const std::function<void(const v1::Progress&)>& on_progress = nullptr);

}  // namespace comity::client
