#include "client/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "client/print.h"
#include "node/home.h"

namespace comity::client {
namespace {

const std::set<std::string>& ValueOptions() {
  static const std::set<std::string> options = {
      "--home",     "--socket",  "--timeout",     "--network",  "--country", "--language", "--role",
      "--limit",    "--to",      "--kind",        "--subject",  "--legal-basis", "--deadline", "--draft",
      "--note",     "--status",  "--body",        "--body-file", "--use-restriction", "--out", "--root", "--save"};
  return options;
}

const std::set<std::string>& FlagOptions() {
  static const std::set<std::string> flags = {"--urgent", "--force", "--waiting-on-me", "--confidential", "--csv"};
  return flags;
}

}  // namespace

int Fail(const Failure& failure) {
  std::cerr << "comity: " << (failure.code == 3 ? "" : "error: ") << Shown(failure.message) << "\n";
  return failure.code;
}

int Usage(const std::string& message) { return Fail({message, 2}); }

std::optional<std::string> Options::Value(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::optional<Options> Parse(int argc, char** argv, std::string* error) {
  Options o;
  bool only_words = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (only_words) {
      o.words.push_back(a);
    } else if (a == "--") {
      only_words = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--contact-24-7") {
      o.contact_24_7 = true;
    } else if (FlagOptions().count(a) != 0) {
      o.flags.insert(a);
    } else if (a == "--attach" || ValueOptions().count(a) != 0) {
      if (i + 1 >= argc) {
        *error = a + " needs a value";
        return std::nullopt;
      }
      if (a == "--attach") {
        o.attach.push_back(argv[++i]);
        continue;
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

std::optional<Failure> CheckOptions(const Options& o, const std::string& command, const std::set<std::string>& takes) {
  auto refuse = [&](const std::string& option) {
    return Failure{"'" + command + "' does not take " + option + " (see comity --help)", 2};
  };
  for (const auto& [name, value] : o.values) {
    if (name != "--home" && name != "--socket" && takes.count(name) == 0) return refuse(name);
  }
  for (const std::string& flag : o.flags) {
    if (takes.count(flag) == 0) return refuse(flag);
  }
  if (!o.attach.empty() && takes.count("--attach") == 0) return refuse("--attach");
  if (o.contact_24_7 && takes.count("--contact-24-7") == 0) return refuse("--contact-24-7");
  return std::nullopt;
}

std::optional<std::vector<std::string>> ListArgument(const std::string& value) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = value.find(',', pos);
    items.push_back(value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (items.back().empty()) return std::nullopt;
    if (comma == std::string::npos) return items;
    pos = comma + 1;
  }
}

std::optional<std::string> ThreadArgument(const std::string& word) {
  if (word.size() < 4 || word.size() > 16) return std::nullopt;
  std::string id;
  for (char c : word) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return id;
}

std::optional<std::uint64_t> NumberArgument(const std::string& word, std::uint64_t max) {
  if (word.empty() || word.size() > 19 || word.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::uint64_t n = std::stoull(word);
  if (n < 1 || n > max) return std::nullopt;
  return n;
}

Result<std::string, Failure> ReadArgumentFile(const std::string& path, std::size_t max_bytes, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failure{"cannot read " + path + ": " + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Failure{"cannot read " + path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Failure{path + " is not a regular file"};
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return Failure{path + " is " + SizeText(static_cast<std::uint64_t>(st.st_size)) + ": " + what + " is at most " +
                   SizeText(max_bytes)};
  }
  std::string bytes;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failure{"cannot read " + path + ": " + std::strerror(errno)};
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
    if (bytes.size() > max_bytes) return Failure{path + " is over " + SizeText(max_bytes) + ": " + what + " is at most that"};
  }
  return bytes;
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

}  // namespace comity::client
