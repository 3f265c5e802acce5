// node/daemon/config: the DaemonConfig text format, its checks (each error names file, line
// and column) and the defaults it resolves to.
#include "node/daemon/config.h"
#include "node/daemon/log.h"

#include <gtest/gtest.h>

#include <string>

namespace comity::node {
namespace {

v1::NodeConfig NodeConf() {
  v1::NodeConfig n;
  n.set_member_id("ES-MJ");
  n.add_listen("tcp://10.0.0.5:7400");
  return n;
}

std::string ErrorOf(const std::string& text) {
  auto s = ParseDaemonConfig(text, "comityd.conf", NodeConf());
  if (s.ok()) return "(parsed)";
  return s.error().message;
}

TEST(DaemonConfig, EmptyTextGivesTheDefaultsAndNodeConfListen) {
  auto s = ParseDaemonConfig("", "comityd.conf", NodeConf());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->listen, std::vector<std::string>{"tcp://10.0.0.5:7400"});
  EXPECT_TRUE(s->peer_endpoints.empty());
  EXPECT_EQ(s->max_envelope_bytes, 16u << 20);
  EXPECT_EQ(s->retry_initial.count(), 1000);
  EXPECT_EQ(s->retry_max.count(), 300000);
  EXPECT_EQ(s->log_level, LogLevel::kInfo);
}

TEST(DaemonConfig, EveryFieldIsRead) {
  const std::string text = R"(
listen: "tcp://*:7401"
listen: "tcp://127.0.0.1:7402"
peers { member: "FR-MJ@ejn" endpoints: "tcp://fr.example:7400" }
relays: "RELAY-1@ejn"
limits { max_envelope_bytes: 1048576 max_attachment_bytes: 1000000 peer_frames_per_second: 50 peer_burst: 100 }
retry { initial_ms: 200 max_ms: 60000 multiplier: 3 jitter: 0.5 }
log_level: "debug"
)";
  auto s = ParseDaemonConfig(text, "comityd.conf", NodeConf());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->listen, (std::vector<std::string>{"tcp://*:7401", "tcp://127.0.0.1:7402"}));
  ASSERT_EQ(s->peer_endpoints.count("FR-MJ@ejn"), 1u);
  EXPECT_EQ(s->peer_endpoints.at("FR-MJ@ejn"), std::vector<std::string>{"tcp://fr.example:7400"});
  EXPECT_EQ(s->relays, std::vector<std::string>{"RELAY-1@ejn"});
  EXPECT_EQ(s->max_envelope_bytes, 1048576u);
  EXPECT_EQ(s->max_attachment_bytes, 1000000u);
  EXPECT_EQ(s->peer_frames_per_second, 50u);
  EXPECT_EQ(s->peer_burst, 100u);
  EXPECT_EQ(s->retry_initial.count(), 200);
  EXPECT_EQ(s->retry_max.count(), 60000);
  EXPECT_DOUBLE_EQ(s->retry_multiplier, 3);
  EXPECT_DOUBLE_EQ(s->retry_jitter, 0.5);
  EXPECT_EQ(s->log_level, LogLevel::kDebug);
}

TEST(DaemonConfig, UnknownFieldNamesItsLine) {
  EXPECT_EQ(ErrorOf("log_level: \"info\"\n\nlisten_on: \"tcp://a:1\"\n"),
            "comityd.conf:3:10: Message type \"comity.v1.DaemonConfig\" has no field named \"listen_on\".");
}

TEST(DaemonConfig, SyntaxErrorNamesItsLine) {
  const std::string e = ErrorOf("retry {\n  initial_ms: 100\n");
  EXPECT_EQ(e.rfind("comityd.conf:3:", 0), 0u) << e;
}

TEST(DaemonConfig, WrongTypeNamesItsLine) {
  const std::string e = ErrorOf("limits {\n  peer_burst: -5\n}\n");
  EXPECT_EQ(e.rfind("comityd.conf:2:", 0), 0u) << e;
}

TEST(DaemonConfig, BadValuesNameTheLineOfTheirField) {
  EXPECT_EQ(ErrorOf("listen: \"tcp://a:1\"\nlisten: \"udp://b:2\"\n"),
            "comityd.conf:2:1: listen 'udp://b:2' is not tcp://HOST:PORT");
  EXPECT_EQ(ErrorOf("\nlisten: \"tcp://a:70000\"\n"), "comityd.conf:2:1: listen 'tcp://a:70000' is not tcp://HOST:PORT");
  EXPECT_EQ(ErrorOf("log_level: \"loud\"\n"), "comityd.conf:1:1: log_level 'loud' is not error, warn, info or debug");
  EXPECT_EQ(ErrorOf("relays: \"RELAY\"\n"), "comityd.conf:1:1: relay 'RELAY' is not MEMBER@NETWORK");
  EXPECT_EQ(ErrorOf("peers { member: \"fr@ejn\" endpoints: \"tcp://a:1\" }\n"),
            "comityd.conf:1:1: peer member 'fr@ejn' is not MEMBER@NETWORK");
  EXPECT_EQ(ErrorOf("peers { member: \"FR-MJ@ejn\" }\n"), "comityd.conf:1:1: peer FR-MJ@ejn has no endpoints");
  EXPECT_EQ(ErrorOf("peers { member: \"FR-MJ@ejn\" endpoints: \"tcp://a:1\" }\n"
                    "peers { member: \"FR-MJ@ejn\" endpoints: \"tcp://b:1\" }\n"),
            "comityd.conf:2:1: peer FR-MJ@ejn is listed twice");
  EXPECT_EQ(ErrorOf("limits { max_envelope_bytes: 100000000 }\n"),
            "comityd.conf:1:1: limits.max_envelope_bytes must be from 1024 to 67108864 (64 MiB)");
  EXPECT_EQ(ErrorOf("retry { initial_ms: 5000 max_ms: 1000 }\n"), "comityd.conf:1:1: retry.max_ms is below retry.initial_ms");
  EXPECT_EQ(ErrorOf("retry { multiplier: 0.5 }\n"), "comityd.conf:1:1: retry.multiplier must be from 1 to 10");
  EXPECT_EQ(ErrorOf("retry { jitter: 2 }\n"), "comityd.conf:1:1: retry.jitter must be from 0 to 1");
}

TEST(DaemonConfig, ControlCharactersInValuesAreEscapedInErrors) {
  const std::string e = ErrorOf("listen: \"tcp://a\\n:1x\"\n");
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(DaemonConfig, MissingFileIsOneLine) {
  auto s = LoadDaemonConfig("/nonexistent/comityd.conf", NodeConf());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/comityd.conf"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
}

TEST(TcpEndpoint, Forms) {
  for (const char* good : {"tcp://host:1", "tcp://*:7400", "tcp://127.0.0.1:65535", "tcp://[::1]:7400"}) {
    EXPECT_TRUE(IsValidTcpEndpoint(good)) << good;
  }
  for (const char* bad : {"tcp://host", "tcp://:7400", "tcp://host:0", "tcp://host:65536", "udp://host:1",
                          "tcp://host:12a", "tcp://ho st:1", "tcp://host:"}) {
    EXPECT_FALSE(IsValidTcpEndpoint(bad)) << bad;
  }
}

}  // namespace
}  // namespace comity::node

namespace comity::node {
namespace {

TEST(DaemonLog, LinesAreWholeOneLineAndLevelled) {
  std::vector<std::string> lines;
  Logger log("CENTRAL-AUTHORITY-ES", LogLevel::kInfo, [&](const std::string& l) { lines.push_back(l); });
  const std::string long_text = "running as CENTRAL-AUTHORITY-ES@IberRed, listening on tcp://127.0.0.1:45991 and more";
  log.Info(long_text);
  log.Debug("not shown at info");
  log.Warn("peer sent\nan injected line\x1b[31m");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "comityd[CENTRAL-AUTHORITY-ES]: info: " + long_text);
  EXPECT_EQ(lines[1], "comityd[CENTRAL-AUTHORITY-ES]: warn: peer sent\\x0aan injected line\\x1b[31m");
  log.set_level(LogLevel::kDebug);
  log.Debug("now shown");
  EXPECT_EQ(lines.size(), 3u);
}

TEST(DaemonLog, AllowLetsOneLinePerPeriodAndCountsTheRest) {
  Logger log("X", LogLevel::kInfo, [](const std::string&) {});
  std::int64_t held = -1;
  EXPECT_TRUE(log.Allow("refused", std::chrono::seconds(60), &held));
  EXPECT_EQ(held, 0);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(log.Allow("refused", std::chrono::seconds(60), &held));
  EXPECT_TRUE(log.Allow("other", std::chrono::seconds(60), &held));
  EXPECT_TRUE(log.Allow("refused", std::chrono::seconds(0), &held));
  EXPECT_EQ(held, 5);
}

}  // namespace
}  // namespace comity::node
