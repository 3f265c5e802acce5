// The daemon's log: one line per event on stderr (or a test's sink), "comityd[WHO]: LEVEL:
// text", never message content or secrets. systemd's journal adds the time. Lines that could
// flood (refused connections, dropped frames) go through Allow(), which lets one through per
// key and period and reports how many it held back. One thread (the node's io_context).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "node/daemon/config.h"

namespace comity::node {

class Logger {
 public:
  using Sink = std::function<void(const std::string& line)>;
  // `sink` defaults to stderr.
  Logger(std::string who, LogLevel level, Sink sink = nullptr);

  void set_level(LogLevel level) { level_ = level; }
  bool Enabled(LogLevel level) const { return level <= level_; }
  void Log(LogLevel level, std::string_view text);
  void Error(std::string_view text) { Log(LogLevel::kError, text); }
  void Warn(std::string_view text) { Log(LogLevel::kWarn, text); }
  void Info(std::string_view text) { Log(LogLevel::kInfo, text); }
  void Debug(std::string_view text) { Log(LogLevel::kDebug, text); }

  // Whether a line about `key` may be written now: at most one per `every`. When it may, and
  // earlier ones were held back, `held` says how many.
  bool Allow(const std::string& key, std::chrono::seconds every, std::int64_t* held);

 private:
  struct Gate {
    std::chrono::steady_clock::time_point last{};
    std::int64_t held = 0;
  };
  std::string who_;
  LogLevel level_;
  Sink sink_;
  std::map<std::string, Gate> gates_;
};

}  // namespace comity::node
