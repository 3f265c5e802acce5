// The command-line layer shared by comityd's command groups (node/admin.cpp: identity and
// networks; node/archive_cli.cpp: the archive): parsed arguments, the command table entry,
// the error that carries an exit code, and the helpers every command uses.
// Exit codes: 0 done; 1 refused or failed; 2 bad usage, or a wrong archive passphrase (the
// archive issue fixes that contract). Single-threaded, one command per process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/result.h"
#include "node/archive/sqlite.h"
#include "node/home.h"
#include "node/passphrase.h"

namespace comity::node {

// A command's failure: one line for stderr and the process exit code.
struct CmdError {
  std::string message;
  int exit_code = 1;
  CmdError() = default;
  CmdError(Error e) : message(std::move(e.message)) {}  // NOLINT: implicit by design
  CmdError(archive::ArchiveError e);                     // NOLINT: wrong passphrase -> 2
  CmdError(std::string m, int code) : message(std::move(m)), exit_code(code) {}
};
using CmdStatus = Status<CmdError>;

// A parsed command line: --options with values and --switches.
struct Args {
  std::map<std::string, std::string> options;
  std::set<std::string> switches;

  std::optional<std::string> Get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
  bool Has(const std::string& name) const { return switches.count(name) != 0; }
};

struct Command {
  std::vector<std::string> words;
  std::string usage;
  std::set<std::string> options;   // take a value
  std::set<std::string> switches;  // take none
  std::set<std::string> required;
  std::function<CmdStatus(const Args&)> run;
};

// Parses the command line (without the program name), runs the command, and returns the
// process exit code: 0 done, 1 refused or failed (one line on stderr says why), 2 bad usage or
// a wrong archive passphrase.
int RunAdminCommand(const std::vector<std::string>& args);

// The command tables of each group.
std::vector<Command> TrustCommands();
std::vector<Command> ArchiveCommands();
std::vector<Command> RunCommands();

// Options every command takes: --home and --passphrase-file, plus `extra`.
std::set<std::string> WithCommonOptions(std::set<std::string> extra);

Error Fail(std::string message);
std::int64_t Now();
// Unix seconds as UTC text, by strftime `format` (such as "%Y-%m-%dT%H:%M:%SZ").
std::string UtcTime(std::int64_t unix_seconds, const char* format);
std::string HomeDir(const Args& args);
PassphraseSource PassSource(const Args& args);
// The Argon2id cost for new keys: MODERATE, or the minimum under COMITY_TEST_KDF=minimum.
crypto::KdfParams CreationKdf();
// Who did it, for the audit log: "operator of ES-MJ".
std::string Actor(const Home& home);

// Appends an audit entry (and, when given, a roster) to the home's archive in one batch.
// The action it records has already happened: a failure here says so.
CmdStatus RecordInArchive(const Home& home, const crypto::SecretBytes& passphrase, const std::string& action,
                          const std::string& detail, const v1::Signed* roster = nullptr,
                          const std::string& roster_network = "", std::uint64_t roster_version = 0);

}  // namespace comity::node
