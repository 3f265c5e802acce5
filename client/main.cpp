// comity: the client of a running comityd, through its local API only (proto/api.proto,
// docs/PROTOCOL.md §12): the Unix socket HOME/comity.sock, or --socket PATH.
//
//   comity status [--home DIR | --socket PATH] [--json]
//   comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]
//
// Exit codes: 0 done; 1 refused or failed (one line on stderr); 2 bad usage; 3 the daemon is
// not running (one line saying so, and the command that starts it).
#include <google/protobuf/util/json_util.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

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
};

constexpr const char* kUsage =
    "usage: comity status [--home DIR | --socket PATH] [--json]\n"
    "       comity ping ID [--timeout SECONDS] [--home DIR | --socket PATH] [--json]\n"
    "       comity --version | --help\n";

std::optional<Options> Parse(int argc, char** argv, std::string* error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
    } else if (a == "--home" || a == "--socket" || a == "--timeout") {
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
  std::string in(size, '\0');
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
  return Fail({(command.empty() ? std::string("no command") : "unknown command '" + command + "'") + " (see comity --help)", 2});
}
