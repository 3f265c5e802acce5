// comity: the client of a running comityd, through its local API only (proto/api.proto,
// docs/PROTOCOL.md §12): the Unix socket HOME/comity.sock, or --socket PATH.
//
//   comity status [--home DIR | --socket PATH] [--json]
//   comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]
//   comity search WORDS... [--limit N] [--home DIR | --socket PATH] [--json]
//   comity directory [--network NET] [--country CC] [--language xx] [--role R] [--contact-24-7]
//                    [--home DIR | --socket PATH] [--json]
//
// Exit codes: 0 done; 1 refused or failed (one line on stderr); 2 bad usage; 3 the daemon is
// not running (one line saying so, and the command that starts it).
#include <google/protobuf/util/json_util.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/trust.h"
#include "node/home.h"
#include "node/status_text.h"
#include "proto/api.pb.h"

namespace {

using comity::v1::ApiRequest;
using comity::v1::ApiResponse;

struct Failure {
  std::string message;
  int code = 1;
};

struct Options {
  std::vector<std::string> words;
  std::map<std::string, std::string> values;
  bool json = false;
  bool contact_24_7 = false;
};

constexpr const char* kUsage =
    "usage: comity status [--home DIR | --socket PATH] [--json]\n"
    "       comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]\n"
    "       comity search WORDS... [--limit N] [--home DIR | --socket PATH] [--json]\n"
    "       comity directory [--network NET] [--country CC] [--language xx] [--role R] [--contact-24-7]\n"
    "                        [--home DIR | --socket PATH] [--json]\n"
    "       comity --version | --help\n";

std::optional<Options> Parse(int argc, char** argv, std::string* error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
    } else if (a == "--contact-24-7") {
      o.contact_24_7 = true;
    } else if (a == "--home" || a == "--socket" || a == "--timeout" || a == "--network" || a == "--country" ||
               a == "--language" || a == "--role" || a == "--limit") {
      if (i + 1 >= argc) {
        *error = a + " needs a value";
        return std::nullopt;
      }
      if (o.values.count(a) != 0) {
        *error = a + " is given twice";
        return std::nullopt;
      }
      o.values[a] = argv[++i];
    } else if (a.rfind("--", 0) == 0) {
      *error = "unknown option " + a;
      return std::nullopt;
    } else {
      o.words.push_back(a);
    }
  }
  if (o.values.count("--home") != 0 && o.values.count("--socket") != 0) {
    *error = "give --home or --socket, not both";
    return std::nullopt;
  }
  return o;
}

std::string HomeOf(const Options& o) {
  auto it = o.values.find("--home");
  return it != o.values.end() ? it->second : comity::node::Home::DefaultDir();
}

std::string SocketOf(const Options& o) {
  auto it = o.values.find("--socket");
  return it != o.values.end() ? it->second : HomeOf(o) + "/comity.sock";
}

std::string NotRunning(const Options& o) {
  if (o.values.count("--socket") != 0) return "comityd is not running at " + SocketOf(o);
  return "comityd is not running for " + HomeOf(o) + " (start it with: comityd run --home " + HomeOf(o) + ")";
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

bool WriteAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* out, std::size_t n, int timeout_ms) {
  std::size_t done = 0;
  while (done < n) {
    if (!WaitFor(fd, POLLIN, timeout_ms)) return false;
    const ssize_t r = ::recv(fd, out + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<std::size_t>(r);
  }
  return true;
}

// One request, one response, over a fresh connection.
ApiResponse Call(const Options& o, const ApiRequest& request, int timeout_ms, Failure* failure) {
  const std::string path = SocketOf(o);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *failure = {"the socket path " + path + " is too long", 2};
    return {};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failure = {std::string("cannot make a socket: ") + std::strerror(errno)};
    return {};
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED) {
      *failure = {NotRunning(o), 3};
    } else if (e == EACCES || e == EPERM) {
      *failure = {"permission denied on " + path + " (run comity as the user that runs comityd)"};
    } else {
      *failure = {"cannot reach comityd at " + path + ": " + std::strerror(e)};
    }
    return {};
  }
  std::string body = request.SerializeAsString();
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>(static_cast<std::uint32_t>(body.size()) >> (24 - 8 * i));
  ApiResponse response;
  unsigned char header[4];
  if (!WriteAll(fd, frame + body) || !ReadAll(fd, reinterpret_cast<char*>(header), 4, timeout_ms)) {
    ::close(fd);
    *failure = {"comityd at " + path + " did not answer within " + std::to_string(timeout_ms / 1000) + " s"};
    return {};
  }
  const std::uint32_t size = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                             (std::uint32_t{header[2]} << 8) | header[3];
  std::string in;
  if (size <= (64u << 20)) in.resize(size);
  if (size > (64u << 20) || !ReadAll(fd, in.data(), size, timeout_ms) || !response.ParseFromString(in)) {
    ::close(fd);
    *failure = {"comityd at " + path + " sent an answer this client cannot read"};
    return {};
  }
  ::close(fd);
  if (!response.error().empty()) *failure = {response.error()};
  return response;
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  std::cout << out << "\n";
}

int Fail(const Failure& f) {
  std::cerr << "comity: " << (f.code == 3 ? "" : "error: ") << f.message << "\n";
  return f.code;
}

int Status(const Options& o) {
  if (o.words.size() != 1) return Fail({"'status' takes no argument (see comity --help)", 2});
  ApiRequest request;
  request.set_version(1);
  request.mutable_status();
  Failure failure;
  ApiResponse r = Call(o, request, 10000, &failure);
  if (!failure.message.empty()) return Fail(failure);
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
  request.set_version(1);
  request.mutable_ping()->set_to(o.words[1]);
  request.mutable_ping()->set_timeout_ms(static_cast<std::uint32_t>(seconds) * 1000);
  Failure failure;
  ApiResponse r = Call(o, request, (seconds + 10) * 1000, &failure);
  if (!failure.message.empty()) return Fail(failure);
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
  request.set_version(1);
  for (std::size_t i = 1; i < o.words.size(); ++i) request.mutable_search()->add_words(o.words[i]);
  if (auto it = o.values.find("--limit"); it != o.values.end()) {
    const std::string& l = it->second;
    if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos || std::stoi(l) < 1 ||
        std::stoi(l) > 200) {
      return Fail({"--limit must be a number from 1 to 200", 2});
    }
    request.mutable_search()->set_limit(static_cast<std::uint32_t>(std::stoi(l)));
  }
  Failure failure;
  ApiResponse r = Call(o, request, 30000, &failure);
  if (!failure.message.empty()) return Fail(failure);
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
  request.set_version(1);
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
  Failure failure;
  ApiResponse r = Call(o, request, 10000, &failure);
  if (!failure.message.empty()) return Fail(failure);
  if (o.json) {
    PrintJson(r.directory());
    return 0;
  }
  if (r.directory().members().empty()) {
    std::cout << "No member matches.\n";
    return 0;
  }
  char row[512];
  std::snprintf(row, sizeof row, "%-20s %-3s %-20s %-7s %-5s %-10s %-16s %s\n", "MEMBER", "CC", "ROLE", "LANG", "24/7",
                "LINK", "NETWORKS", "AUTHORITY / FORMS / FINGERPRINT");
  std::cout << row;
  for (const auto& m : r.directory().members()) {
    std::snprintf(row, sizeof row, "%-20s %-3s %-20s %-7s %-5s %-10s %-16s %s\n", m.member_id().c_str(),
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
  if (command == "status") return Status(*o);
  if (command == "ping") return Ping(*o);
  if (command == "directory") return Directory(*o);
  if (command == "search") return Search(*o);
  return Fail({(command.empty() ? std::string("no command") : "unknown command '" + command + "'") + " (see comity --help)", 2});
}
