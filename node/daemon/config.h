// How `comityd run` runs: the DaemonConfig of proto/config.proto, read in protobuf text format
// (--config FILE), checked, and resolved against node.conf and the defaults. Errors name the
// file, line and column. Plain values; no threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "proto/node.pb.h"

namespace comity::node {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };
const char* LogLevelName(LogLevel level);

// tcp://HOST:PORT with a port from 1 to 65535 (HOST may be * to bind every interface).
bool IsValidTcpEndpoint(std::string_view endpoint);

struct DaemonSettings {
  std::vector<std::string> listen;                                  // bind endpoints; none: outbound only
  std::map<std::string, std::vector<std::string>> peer_endpoints;   // MEMBER@NETWORK -> dial endpoints
  std::vector<std::string> relays;                                  // MEMBER@NETWORK
  std::uint64_t max_envelope_bytes = std::uint64_t{16} << 20;
  std::uint64_t max_attachment_bytes = std::uint64_t{4} << 30;
  std::uint32_t peer_frames_per_second = 2000;
  std::uint32_t peer_burst = 4000;
  std::uint64_t file_bytes_per_second = 0;                          // per attachment fetched; 0: no limit
  std::chrono::seconds file_sweep_every{60};                        // relay copies removed (not configurable)
  std::chrono::seconds not_delivered_after{86400};                  // no delivered receipt by then: evidence
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{300000};
  double retry_multiplier = 2.0;
  double retry_jitter = 0.2;
  LogLevel log_level = LogLevel::kInfo;
};

// Parses `text` (named `name` in errors) and resolves it against `node` (node.conf: its
// listen endpoints and relays). An empty text gives the defaults.
Result<DaemonSettings> ParseDaemonConfig(std::string_view text, const std::string& name, const v1::NodeConfig& node);
// Reads FILE (at most 1 MiB) and parses it.
Result<DaemonSettings> LoadDaemonConfig(const std::string& path, const v1::NodeConfig& node);

}  // namespace comity::node
