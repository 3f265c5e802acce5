#include "node/daemon/log.h"

#include <cstdio>

#include "node/daemon/send.h"

namespace comity::node {
namespace {

// Control characters (and every byte of text that is not UTF-8) as \xNN, so that whatever
// reaches a line from outside (member ids, endpoints, errors) keeps it one line. Not cut:
// a log line is read in full.
std::string Escaped(std::string_view text) {
  const bool utf8 = IsUtf8(text);
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8) || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

Logger::Logger(std::string who, LogLevel level, Sink sink)
    : who_(std::move(who)), level_(level), sink_(std::move(sink)) {}

void Logger::Log(LogLevel level, std::string_view text) {
  if (!Enabled(level)) return;
  // Whatever reaches a log line from outside (member ids, endpoints, errors) is escaped, so a
  // line stays one line.
  std::string line = "comityd[" + who_ + "]: " + LogLevelName(level) + ": " + Escaped(text);
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
