// comity: the client of a running comityd, through its local API only (proto/api.proto,
// docs/PROTOCOL.md §12): the Unix socket HOME/comity.sock, or --socket PATH. `comity verify`
// alone needs no daemon: it checks an evidence bundle offline with a network's root key.
//
//   comity status [--home DIR | --socket PATH] [--json]
//   comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]
//   comity search WORDS... [--limit N] [--home DIR | --socket PATH] [--json]
//   comity directory [--network NET] [--country CC] [--language xx] [--role R] [--contact-24-7]
//                    [--home DIR | --socket PATH] [--json]
//   comity thread open --to ID[,ID...] --kind KIND --subject TEXT --legal-basis TEXT [--language xx]
//                      [--urgent] [--deadline YYYY-MM-DD] [--draft FILE] [--force]
//   comity thread draft THREAD FILE [--note TEXT] [--language xx] [--force]
//   comity thread diff THREAD V1 V2
//   comity thread comment THREAD TEXT
//   comity thread status THREAD STATUS [--note TEXT]
//   comity thread show THREAD
//   comity thread list [--status STATUS] [--waiting-on-me]
//   comity notice send (--to ID[,ID...] | --network NET) --subject TEXT (--body TEXT | --body-file FILE)
//                      [--attach FILE]... [--confidential] [--use-restriction TEXT]
//   comity notice list | show N | accept N
//   comity export THREAD --out FILE
//   comity verify FILE --root ROOT_FILE
//   comity stats [--csv]
// (each with [--home DIR | --socket PATH] [--json], but verify, which takes only --json)
//
// The command groups live beside this file: threads.cpp, notices.cpp, evidence.cpp (export,
// verify), stats.cpp; the socket call in api_client.cpp, the shared printing in print.cpp,
// the options in cli.cpp and the unified diff in diff.cpp.
//
// Exit codes: 0 done; 1 refused or failed (one line on stderr); 2 bad usage; 3 the daemon is
// not running (one line saying so, and the command that starts it).
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <string>

#include "client/api_client.h"
#include "client/cli.h"
#include "client/commands.h"
#include "client/print.h"
#include "crypto/trust.h"
#include "node/status_text.h"
#include "proto/api.pb.h"

namespace {

using comity::v1::ApiRequest;
using comity::v1::ApiResponse;
using namespace comity::client;

constexpr const char* kUsage =
    "usage: comity status [--home DIR | --socket PATH] [--json]\n"
    "       comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]\n"
    "       comity search WORDS... [--limit N] [--home DIR | --socket PATH] [--json]\n"
    "       comity directory [--network NET] [--country CC] [--language xx] [--role R] [--contact-24-7]\n"
    "                        [--home DIR | --socket PATH] [--json]\n"
    "       comity thread open --to ID[,ID...] --kind mla|extradition|transfer-of-proceedings|confiscation|\n"
    "                                                joint-investigation|other\n"
    "                          --subject TEXT --legal-basis TEXT [--language xx] [--urgent]\n"
    "                          [--deadline YYYY-MM-DD] [--draft FILE] [--force]\n"
    "       comity thread draft THREAD FILE [--note TEXT] [--language xx] [--force]\n"
    "       comity thread diff THREAD V1 V2\n"
    "       comity thread comment THREAD TEXT\n"
    "       comity thread status THREAD consultation|agreed|formally-submitted|in-execution|executed|\n"
    "                                   refused|withdrawn [--note TEXT] [--force]\n"
    "       comity thread show THREAD\n"
    "       comity thread list [--status STATUS] [--waiting-on-me]\n"
    "       comity notice send (--to ID[,ID...] | --network NET) --subject TEXT (--body TEXT | --body-file FILE)\n"
    "                          [--attach FILE]... [--confidential] [--use-restriction TEXT]\n"
    "       comity notice list\n"
    "       comity notice show N [--save DIR]\n"
    "       comity notice accept N [--save DIR]\n"
    "       comity export THREAD --out FILE\n"
    "       comity verify FILE --root ROOT_FILE        (offline: no daemon)\n"
    "       comity stats [--csv]\n"
    "       (every command but verify takes [--home DIR | --socket PATH]; every one takes [--json])\n"
    "       comity --version | --help\n";

// What status, ping, search and directory took before the other commands came: any of these,
// so that no command line that worked stops working.
const std::set<std::string> kNodeCommandOptions = {"--timeout", "--network", "--country",      "--language",
                                                   "--role",    "--limit",   "--contact-24-7"};

int Status(const Options& o) {
  if (o.words.size() != 1) return Fail({"'status' takes no argument (see comity --help)", 2});
  ApiRequest request;
  request.mutable_status();
  auto called = Call(o, request, {10000});
  if (!called.ok()) return Fail(called.error());
  const ApiResponse& r = called.value();
  if (o.json) {
    PrintJson(r.status());
    return 0;
  }
  std::cout << "Running, pid " << r.status().pid() << "\n";
  comity::node::PrintStatus(r.status(), static_cast<std::int64_t>(std::time(nullptr)), std::cout);
  return 0;
}

int Ping(const Options& o) {
  if (o.words.size() != 2) return Fail({"'ping' takes one member: comity ping ID", 2});
  int seconds = 10;
  if (auto it = o.values.find("--timeout"); it != o.values.end()) {
    const std::string& t = it->second;
    if (t.empty() || t.size() > 3 || t.find_first_not_of("0123456789") != std::string::npos || std::stoi(t) < 1 ||
        std::stoi(t) > 120) {
      return Fail({"--timeout must be a number of seconds from 1 to 120", 2});
    }
    seconds = std::stoi(t);
  }
  ApiRequest request;
  request.mutable_ping()->set_to(o.words[1]);
  request.mutable_ping()->set_timeout_ms(static_cast<std::uint32_t>(seconds) * 1000);
  auto called = Call(o, request, {(seconds + 10) * 1000});
  if (!called.ok()) return Fail(called.error());
  const ApiResponse& r = called.value();
  const comity::v1::PingResponse& p = r.ping();
  if (o.json) {
    PrintJson(p);
  } else {
    std::cout << "Ping " << p.to() << ":\n";
    for (const auto& s : p.steps()) {
      char row[256];
      std::snprintf(row, sizeof row, "  %-10s by %-32s %9.1f ms\n", s.kind().c_str(), s.by().c_str(), s.after_ms());
      std::cout << row;
    }
    if (!p.delivered()) std::cout << "  no delivered receipt within " << seconds << " s\n";
  }
  return p.delivered() ? 0 : 1;
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out.empty() ? "-" : out;
}

bool AllOf(const std::string& s, std::size_t n, int (*is)(int)) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!is(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int Search(const Options& o) {
  if (o.words.size() < 2) return Fail({"'search' needs words: comity search WORDS...", 2});
  ApiRequest request;
  for (std::size_t i = 1; i < o.words.size(); ++i) request.mutable_search()->add_words(o.words[i]);
  if (auto it = o.values.find("--limit"); it != o.values.end()) {
    const std::string& l = it->second;
    if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos || std::stoi(l) < 1 ||
        std::stoi(l) > 200) {
      return Fail({"--limit must be a number from 1 to 200", 2});
    }
    request.mutable_search()->set_limit(static_cast<std::uint32_t>(std::stoi(l)));
  }
  auto called = Call(o, request, {30000});
  if (!called.ok()) return Fail(called.error());
  const ApiResponse& r = called.value();
  if (o.json) {
    PrintJson(r.search());
    return 0;
  }
  std::cout << r.search().total() << (r.search().total() == 1 ? " match" : " matches") << ", newest first\n";
  for (const auto& h : r.search().hits()) {
    char when[32] = "";
    const std::time_t t = static_cast<std::time_t>(h.created_at());
    std::tm tm{};
    if (::gmtime_r(&t, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    std::string id;
    for (std::size_t i = 8; i < 16 && i < h.message_id().size(); ++i) {
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(h.message_id()[i]));
      id += hex;
    }
    char row[256];
    std::snprintf(row, sizeof row, "%s  %-8s %-28s %-16s ", when, h.kind().c_str(),
                  comity::crypto::EscapeForDisplay(h.sender()).c_str(), id.c_str());
    std::cout << row << comity::crypto::EscapeForDisplay(h.subject().empty() ? "(no subject)" : h.subject()) << "\n";
  }
  return 0;
}

int Directory(const Options& o) {
  if (o.words.size() != 1) return Fail({"'directory' takes no argument (see comity --help)", 2});
  ApiRequest request;
  comity::v1::DirectoryRequest* q = request.mutable_directory();
  auto value = [&](const char* name) {
    auto it = o.values.find(name);
    return it == o.values.end() ? std::string() : it->second;
  };
  q->set_network(value("--network"));
  q->set_country(value("--country"));
  q->set_language(value("--language"));
  q->set_role(value("--role"));
  q->set_contact_24_7(o.contact_24_7);
  if (!q->country().empty() && !AllOf(q->country(), 2, isupper)) {
    return Fail({"--country must be an ISO 3166-1 code of two capital letters, e.g. ES", 2});
  }
  if (!q->language().empty() && !AllOf(q->language(), 2, islower)) {
    return Fail({"--language must be an ISO 639-1 code of two small letters, e.g. es", 2});
  }
  auto called = Call(o, request, {10000});
  if (!called.ok()) return Fail(called.error());
  const ApiResponse& r = called.value();
  if (o.json) {
    PrintJson(r.directory());
    return 0;
  }
  if (r.directory().members().empty()) {
    std::cout << "No member matches.\n";
    return 0;
  }
  char row[512];
  std::snprintf(row, sizeof row, "%-20s %-3s %-20s %-11s %-5s %-10s %-16s %s\n", "MEMBER", "CC", "ROLE", "LANG", "24/7",
                "LINK", "NETWORKS", "AUTHORITY / FORMS / FINGERPRINT");
  std::cout << row;
  for (const auto& m : r.directory().members()) {
    std::snprintf(row, sizeof row, "%-20s %-3s %-20s %-11s %-5s %-10s %-16s %s\n", m.member_id().c_str(),
                  m.country().c_str(), m.role().c_str(), Joined(m.languages()).c_str(), m.contact_24_7() ? "yes" : "no",
                  m.link().c_str(), Joined(m.networks()).c_str(), comity::crypto::EscapeForDisplay(m.authority()).c_str());
    std::cout << row;
    std::cout << std::string(60, ' ') << " forms " << comity::crypto::EscapeForDisplay(Joined(m.transmission_forms())) << ", fingerprint "
              << m.fingerprint() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << "comity 0.1.0\n";
    return 0;
  }
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  std::string error;
  auto o = Parse(argc, argv, &error);
  if (!o) return Fail({error + " (see comity --help)", 2});
  const std::string command = o->words.empty() ? "" : o->words[0];
  if (command == "status" || command == "ping" || command == "directory" || command == "search") {
    if (auto f = CheckOptions(*o, command, kNodeCommandOptions)) return Fail(*f);
  }
  if (command == "status") return Status(*o);
  if (command == "ping") return Ping(*o);
  if (command == "directory") return Directory(*o);
  if (command == "search") return Search(*o);
  if (command == "thread") return ThreadCommand(*o);
  if (command == "notice") return NoticeCommand(*o);
  if (command == "export") return Export(*o);
  if (command == "verify") {
    if (o->values.count("--home") != 0 || o->values.count("--socket") != 0) {
      return Fail({"'verify' needs no daemon: it takes no --home or --socket", 2});
    }
    return Verify(*o);
  }
  if (command == "stats") return Stats(*o);
  return Fail({(command.empty() ? std::string("no command") : "unknown command '" + command + "'") + " (see comity --help)", 2});
}
