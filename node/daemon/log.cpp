#include "node/daemon/log.h"

#include <cstdio>

#include "crypto/trust.h"

namespace comity::node {

Logger::Logger(std::string who, LogLevel level, Sink sink)
    : who_(std::move(who)), level_(level), sink_(std::move(sink)) {}

void Logger::Log(LogLevel level, std::string_view text) {
  if (!Enabled(level)) return;
  // Whatever reaches a log line from outside (member ids, endpoints, errors) is escaped, so a
  // line stays one line.
  std::string line = "comityd[" + who_ + "]: " + LogLevelName(level) + ": " + crypto::EscapeForDisplay(text);
  if (sink_) {
    sink_(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

bool Logger::Allow(const std::string& key, std::chrono::seconds every, std::int64_t* held) {
  Gate& g = gates_[key];
  const auto now = std::chrono::steady_clock::now();
  if (g.last != std::chrono::steady_clock::time_point{} && now - g.last < every) {
    ++g.held;
    return false;
  }
  if (held != nullptr) *held = g.held;
  g.held = 0;
  g.last = now;
  return true;
}

}  // namespace comity::node
