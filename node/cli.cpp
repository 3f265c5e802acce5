#include "node/cli.h"

#include <algorithm>
#include <ctime>
#include <iostream>

#include "node/archive/archive.h"
#include "node/files.h"

namespace comity::node {

CmdError::CmdError(archive::ArchiveError e)
    : message(std::move(e.message)), exit_code(e.code == archive::ArchiveCode::kWrongPassphrase ? 2 : 1) {}

std::set<std::string> WithCommonOptions(std::set<std::string> extra) {
  extra.insert({"home", "passphrase-file"});
  return extra;
}

Error Fail(std::string message) { return MakeError(std::move(message)); }

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string UtcTime(std::int64_t unix_seconds, const char* format) {
  char text[64];
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(text, sizeof text, format, &tm) == 0) return "?";
  return text;
}

std::string HomeDir(const Args& args) { return args.Get("home").value_or(Home::DefaultDir()); }

PassphraseSource PassSource(const Args& args) { return PassphraseSource{args.Get("passphrase-file")}; }

crypto::KdfParams CreationKdf() {
  const char* test = std::getenv("COMITY_TEST_KDF");
  if (test != nullptr && std::string(test) == "minimum") {
    std::cerr << "comityd: warning: COMITY_TEST_KDF=minimum: keys get a test-only passphrase "
                 "hardness; never use this for a real node\n";
    return crypto::MinimumKdf();
  }
  return crypto::ModerateKdf();
}

std::string Actor(const Home& home) { return "operator of " + home.config().member_id(); }

CmdStatus RecordInArchive(const Home& home, const crypto::SecretBytes& passphrase, const std::string& action,
                          const std::string& detail, const v1::Signed* roster, const std::string& roster_network,
                          std::uint64_t roster_version) {
  auto archive = archive::Archive::Open(home.dir(), passphrase.view());
  auto st = archive ? (*archive)->Batch([&]() -> archive::ArchiveStatus {
    if (roster != nullptr) {
      const std::string bytes = roster->SerializeAsString();
      if (auto r = (*archive)->RecordRoster(roster_network, roster_version, crypto::AsBytes(bytes), Now()); !r) {
        return r;
      }
    }
    return (*archive)->Audit(Now(), Actor(home), action, detail);
  })
                    : archive::ArchiveStatus(archive.error());
  if (!st) return CmdError("done (" + action + "), but not recorded in the archive: " + st.error().message, 1);
  return {};
}

namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all = TrustCommands();
  std::vector<Command> archive = ArchiveCommands();
  all.insert(all.end(), archive.begin(), archive.end());
  std::vector<Command> run = RunCommands();
  all.insert(all.end(), run.begin(), run.end());
  return all;
}

void PrintUsage(std::ostream& out, const std::vector<Command>& commands) {
  out << "usage: comityd COMMAND [OPTIONS]\n"
         "The passphrase comes from --passphrase-file FILE, COMITY_PASSPHRASE, or a prompt.\n"
         "--home defaults to ~/.comity.\n\ncommands:\n";
  for (const Command& c : commands) out << "  comityd " << c.usage << "\n";
}

// Keys sealed at the test-only cost outside a test run deserve a word every time.
void WarnIfWeakKeys(const std::string& home) {
  const char* test = std::getenv("COMITY_TEST_KDF");
  if (test != nullptr && std::string(test) == "minimum") return;
  for (const char* name : {"/keys", "/root.key"}) {
    auto bytes = ReadFile(home + name, 4096);
    if (!bytes) continue;
    auto params = crypto::KeystoreParams(crypto::AsBytes(*bytes));
    if (params && crypto::IsBelowModerate(*params)) {
      std::cerr << "comityd: warning: " << home << name
                << " is sealed with a test-only passphrase hardness; run 'comityd archive rekey' to strengthen it\n";
    }
  }
}

int UsageError(const std::string& message) {
  std::cerr << "comityd: " << message << " (see 'comityd --help')\n";
  return 2;
}

}  // namespace

int RunAdminCommand(const std::vector<std::string>& args) {
  const std::vector<Command> commands = AllCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(args.empty() ? std::cerr : std::cout, commands);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "comityd 0.1.0\n";
    return 0;
  }
  const Command* command = nullptr;
  for (const Command& c : commands) {
    if (args.size() >= c.words.size() && std::equal(c.words.begin(), c.words.end(), args.begin()) &&
        (command == nullptr || c.words.size() > command->words.size())) {
      command = &c;
    }
  }
  if (command == nullptr) {
    bool group = args.size() > 1 && (args[0] == "network" || args[0] == "archive");
    return UsageError("unknown command '" + args[0] + (group ? " " + args[1] : "") + "'");
  }

  Args parsed;
  for (std::size_t i = command->words.size(); i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: comityd " << command->usage << "\n";
      return 0;
    }
    if (a.rfind("--", 0) != 0) return UsageError("unexpected argument '" + a + "'");
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (command->switches.count(name) != 0) {
      if (value) return UsageError("--" + name + " takes no value");
      parsed.switches.insert(name);
    } else if (command->options.count(name) != 0) {
      if (!value) {
        if (i + 1 >= args.size()) return UsageError("--" + name + " needs a value");
        value = args[++i];
      }
      if (parsed.options.count(name) != 0) return UsageError("--" + name + " is given twice");
      parsed.options[name] = *value;
    } else {
      return UsageError("unknown option --" + name + " for '" + command->usage.substr(0, command->usage.find(" --")) + "'");
    }
  }
  for (const std::string& r : command->required) {
    if (!parsed.Get(r)) return UsageError("missing --" + r + "; usage: comityd " + command->usage);
  }
  WarnIfWeakKeys(HomeDir(parsed));
  CmdStatus st = command->run(parsed);
  if (!st) {
    if (!st.error().message.empty()) std::cerr << "comityd: error: " << st.error().message << "\n";
    return st.error().exit_code;
  }
  return 0;
}

}  // namespace comity::node
