// The command line of `comity`: the options as parsed, the daemon they name, and how a command
// ends when it fails (one line on stderr and an exit code). Single-threaded, one command per
// process.
//
// Exit codes: 0 done; 1 refused or failed; 2 bad usage; 3 the daemon is not running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace comity::client {

// A failure: the line that says why (without "comity: error: ") and the exit code.
struct Failure {
  std::string message;
  int code = 1;

  Failure() = default;
  Failure(std::string m, int c = 1) : message(std::move(m)), code(c) {}  // NOLINT: implicit by design
};

// Prints "comity: error: MESSAGE" (just "comity: MESSAGE" for exit code 3) and returns the
// failure's exit code.
int Fail(const Failure& failure);
// A usage failure (exit code 2).
int Usage(const std::string& message);

struct Options {
  std::vector<std::string> words;                 // the command and its arguments
  std::map<std::string, std::string> values;      // --option VALUE, each at most once
  std::vector<std::string> attach;                // --attach FILE, in the order given
  std::set<std::string> flags;                    // --urgent, --force, ... (not --json)
  bool json = false;
  bool contact_24_7 = false;

  std::optional<std::string> Value(const std::string& name) const;
  bool Has(const std::string& flag) const { return flags.count(flag) != 0; }
};

// Parses argv; on bad usage, nullopt and `error` says why. Words after "--" are arguments even
// when they start with "--".
std::optional<Options> Parse(int argc, char** argv, std::string* error);

// A usage failure when `o` has an option that `command` (e.g. "thread open") does not take;
// --home, --socket and --json every command takes.
std::optional<Failure> CheckOptions(const Options& o, const std::string& command, const std::set<std::string>& takes);

// The arguments of commands.
// The items of a comma-separated list (--to A,B); nullopt when one is empty.
std::optional<std::vector<std::string>> ListArgument(const std::string& value);
// A thread named on the command line: its id, or a prefix of at least 4 of its hex digits
// (upper case taken as lower); nullopt when it is neither.
std::optional<std::string> ThreadArgument(const std::string& word);
// A positive number of at most `max` written in decimal digits; nullopt otherwise.
std::optional<std::uint64_t> NumberArgument(const std::string& word, std::uint64_t max);
// The bytes of a regular file named on the command line, at most `max_bytes` of them (`what`
// names it in the failure, e.g. "a draft").
Result<std::string, Failure> ReadArgumentFile(const std::string& path, std::size_t max_bytes, const std::string& what);

// Where the daemon of these options listens, and what to say when nothing does.
std::string HomeOf(const Options& o);
std::string SocketOf(const Options& o);
std::string NotRunning(const Options& o);

}  // namespace comity::client
