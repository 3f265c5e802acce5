#include "node/daemon/config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <set>

#include "crypto/trust.h"
#include "node/files.h"
#include "proto/config.pb.h"

namespace comity::node {
namespace {

constexpr std::size_t kMaxConfigSize = 1u << 20;
constexpr std::uint64_t kMaxEnvelopeLimit = std::uint64_t{64} << 20;

// The parser's first complaint, with its position (1-based, as editors count).
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!message_.empty()) return;
    line_ = line + 1;
    column_ = column + 1;
    message_ = message;
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  std::string Describe(const std::string& name) const {
    return name + ":" + std::to_string(line_) + ":" + std::to_string(column_) + ": " + message_;
  }

 private:
  int line_ = 0, column_ = 0;
  std::string message_;
};

// Where a field (or one of its elements) was written, for errors about its value.
std::string At(const std::string& name, const google::protobuf::TextFormat::ParseInfoTree& tree,
               const google::protobuf::Message& msg, const char* field, int index = -1) {
  const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
  auto loc = tree.GetLocation(fd, index);
  if (loc.line < 0) return name + ": ";
  return name + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1) + ": ";
}

bool IsMemberAddress(const std::string& s) {
  auto at = s.find('@');
  return at != std::string::npos && crypto::IsValidMemberId(s.substr(0, at)) &&
         crypto::IsValidNetworkId(s.substr(at + 1));
}

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

bool IsValidTcpEndpoint(std::string_view e) {
  if (e.substr(0, 6) != "tcp://") return false;
  const auto colon = e.rfind(':');
  if (colon <= 6 || colon + 1 >= e.size()) return false;
  const std::string_view host = e.substr(6, colon - 6), port = e.substr(colon + 1);
  if (host.find_first_of(" /\t") != std::string_view::npos) return false;
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const int p = std::stoi(std::string(port));
  return p >= 1 && p <= 65535;
}

Result<DaemonSettings> ParseDaemonConfig(std::string_view text, const std::string& name, const v1::NodeConfig& node) {
  v1::DaemonConfig cfg;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  google::protobuf::TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &cfg)) return MakeError(errors.Describe(name));

  DaemonSettings s;
  for (int i = 0; i < cfg.listen_size(); ++i) {
    if (!IsValidTcpEndpoint(cfg.listen(i))) {
      return MakeError(At(name, tree, cfg, "listen", i) + "listen '" + crypto::EscapeForDisplay(cfg.listen(i)) +
                       "' is not tcp://HOST:PORT");
    }
    s.listen.push_back(cfg.listen(i));
  }
  if (cfg.listen_size() == 0) s.listen.assign(node.listen().begin(), node.listen().end());
  for (int i = 0; i < cfg.peers_size(); ++i) {
    const v1::PeerEndpoint& p = cfg.peers(i);
    const std::string where = At(name, tree, cfg, "peers", i);
    if (!IsMemberAddress(p.member())) {
      return MakeError(where + "peer member '" + crypto::EscapeForDisplay(p.member()) + "' is not MEMBER@NETWORK");
    }
    if (p.endpoints_size() == 0) return MakeError(where + "peer " + p.member() + " has no endpoints");
    for (const std::string& e : p.endpoints()) {
      if (!IsValidTcpEndpoint(e)) {
        return MakeError(where + "endpoint '" + crypto::EscapeForDisplay(e) + "' of peer " + p.member() +
                         " is not tcp://HOST:PORT");
      }
    }
    if (!s.peer_endpoints.emplace(p.member(), std::vector<std::string>(p.endpoints().begin(), p.endpoints().end()))
             .second) {
      return MakeError(where + "peer " + p.member() + " is listed twice");
    }
  }
  std::set<std::string> relays;
  for (int i = 0; i < cfg.relays_size(); ++i) {
    if (!IsMemberAddress(cfg.relays(i))) {
      return MakeError(At(name, tree, cfg, "relays", i) + "relay '" + crypto::EscapeForDisplay(cfg.relays(i)) +
                       "' is not MEMBER@NETWORK");
    }
    if (relays.insert(cfg.relays(i)).second) s.relays.push_back(cfg.relays(i));
  }
  if (cfg.has_limits()) {
    const v1::Limits& l = cfg.limits();
    const std::string where = At(name, tree, cfg, "limits");
    if (l.max_envelope_bytes() != 0) {
      if (l.max_envelope_bytes() < 1024 || l.max_envelope_bytes() > kMaxEnvelopeLimit) {
        return MakeError(where + "limits.max_envelope_bytes must be from 1024 to 67108864 (64 MiB)");
      }
      s.max_envelope_bytes = l.max_envelope_bytes();
    }
    if (l.max_attachment_bytes() != 0) s.max_attachment_bytes = l.max_attachment_bytes();
    if (l.peer_frames_per_second() != 0) s.peer_frames_per_second = l.peer_frames_per_second();
    if (l.peer_burst() != 0) s.peer_burst = l.peer_burst();
    if (l.file_bytes_per_second() != 0) {
      if (l.file_bytes_per_second() < 65536) {
        return MakeError(where + "limits.file_bytes_per_second must be at least 65536 (or 0: no limit)");
      }
      s.file_bytes_per_second = l.file_bytes_per_second();
    }
  }
  if (cfg.not_delivered_after_s() != 0) {
    if (cfg.not_delivered_after_s() < 60) {
      return MakeError(At(name, tree, cfg, "not_delivered_after_s") + "not_delivered_after_s must be at least 60");
    }
    s.not_delivered_after = std::chrono::seconds(cfg.not_delivered_after_s());
  }
  if (cfg.has_retry()) {
    const v1::RetryPolicy& r = cfg.retry();
    const std::string where = At(name, tree, cfg, "retry");
    if (r.initial_ms() != 0) s.retry_initial = std::chrono::milliseconds(r.initial_ms());
    if (r.max_ms() != 0) s.retry_max = std::chrono::milliseconds(r.max_ms());
    if (s.retry_max < s.retry_initial) return MakeError(where + "retry.max_ms is below retry.initial_ms");
    if (r.multiplier() != 0) {
      if (!std::isfinite(r.multiplier()) || r.multiplier() < 1.0 || r.multiplier() > 10.0) {
        return MakeError(where + "retry.multiplier must be from 1 to 10");
      }
      s.retry_multiplier = r.multiplier();
    }
    if (r.jitter() != 0) {
      if (!std::isfinite(r.jitter()) || r.jitter() < 0 || r.jitter() > 1) {
        return MakeError(where + "retry.jitter must be from 0 to 1");
      }
      s.retry_jitter = r.jitter();
    }
  }
  if (!cfg.log_level().empty()) {
    bool known = false;
    for (LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
      if (cfg.log_level() == LogLevelName(l)) {
        s.log_level = l;
        known = true;
      }
    }
    if (!known) {
      return MakeError(At(name, tree, cfg, "log_level") + "log_level '" + crypto::EscapeForDisplay(cfg.log_level()) +
                       "' is not error, warn, info or debug");
    }
  }
  return s;
}

Result<DaemonSettings> LoadDaemonConfig(const std::string& path, const v1::NodeConfig& node) {
  auto text = ReadFile(path, kMaxConfigSize);
  if (!text) return MakeError("config: " + text.error().message);
  return ParseDaemonConfig(*text, path, node);
}

}  // namespace comity::node
