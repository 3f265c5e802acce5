// How comity shows what it reads: text from other nodes made safe for a terminal, times,
// sizes, JSON, and the views several commands share (a thread's header and timeline, the
// receipts of a message per participant). Pure functions writing to the stream given.
#pragma once

#include <cstdint>
#include <ostream>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "proto/api.pb.h"

namespace comity::client {

// One line of text as it may be printed: each character that is printable UTF-8
// (crypto::IsPrintableUtf8) or a tab as it is, every other byte as \xNN; nothing is cut.
std::string Shown(std::string_view text);
// Text of many lines, each printed as Shown after `indent`.
void PrintLines(std::string_view text, const std::string& indent, std::ostream& out);
// Items shown and joined by `separator`; "-" when there are none.
std::string ShownList(const std::vector<std::string>& items, const std::string& separator = ", ");
template <class Items>
std::string ShownList(const Items& items, const std::string& separator = ", ") {
  return ShownList(std::vector<std::string>(items.begin(), items.end()), separator);
}

// Valid UTF-8: shortest forms, no surrogates, at most U+10FFFF.
bool IsValidUtf8(std::string_view text);

// "YYYY-MM-DD HH:MM" in UTC; "-" for 0.
std::string UtcTime(std::int64_t unix_seconds);
// "812 bytes", "12.3 KiB", "4.0 MiB".
std::string SizeText(std::uint64_t bytes);

// The message as one line of JSON (field names as in the .proto, every field printed), and
// that line printed to stdout.
std::string JsonOf(const google::protobuf::Message& message);
void PrintJson(const google::protobuf::Message& message);

// Under a message: one line per party with its receipts (kind and time), oldest first; the
// parties in `parties`' order, then any other that signed one. A party in `expected` without
// any receipt gets "no receipt yet".
void PrintReceipts(const google::protobuf::RepeatedPtrField<v1::ReceiptView>& receipts,
                   const std::vector<std::string>& parties, const std::vector<std::string>& expected,
                   const std::string& indent, std::ostream& out);

// What `thread show` and `verify` print: the header (id, kind, subject, legal basis, language,
// urgency, deadline, status, participants, opener), the timeline oldest first with each
// event's receipts, and the completeness items missing.
void PrintThread(const v1::ThreadView& view, std::ostream& out);

// A progress line for a transfer that takes more than a moment, redrawn in place on a
// terminal (stderr): "WHAT: 12.0 MiB of 100.0 MiB, 45.1 MiB/s, 2 s left". Nothing is shown
// during the first second, nor when stderr is not a terminal. The line is cleared when done.
class ProgressLine {
 public:
  explicit ProgressLine(std::string what);
  ~ProgressLine();
  // Whether progress is worth asking for (stderr is a terminal).
  static bool Wanted();
  void Update(std::uint64_t done, std::uint64_t total);
  // The text of one update, `seconds` after the start (for tests).
  static std::string Text(const std::string& what, std::uint64_t done, std::uint64_t total, double seconds);

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool shown_ = false;
};

}  // namespace comity::client
