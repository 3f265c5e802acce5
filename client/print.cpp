#include "client/print.h"

#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "crypto/trust.h"
#include "node/service/thread.h"

namespace comity::client {

std::string Shown(std::string_view text) {
  if (crypto::IsPrintableUtf8(text)) return std::string(text);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    // The length a UTF-8 sequence starting with this byte claims; whether it is one, and a
    // printable one, crypto::IsPrintableUtf8 decides.
    const std::size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
    if (lead == '\t' || (i + len <= text.size() && crypto::IsPrintableUtf8(text.substr(i, len)))) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", lead);
    out += hex;
    ++i;
  }
  return out;
}

void PrintLines(std::string_view text, const std::string& indent, std::ostream& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out << indent << Shown(text.substr(pos, nl - pos)) << "\n";
    pos = nl + 1;
  }
}

std::string ShownList(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : separator) + Shown(i);
  return out.empty() ? "-" : out;
}

bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    char32_t cp;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2, cp = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3, cp = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4, cp = lead & 0x07u;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string UtcTime(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  char when[32] = "?";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
  return when;
}

std::string SizeText(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string JsonOf(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void PrintJson(const google::protobuf::Message& message) { std::cout << JsonOf(message) << "\n"; }

void PrintReceipts(const google::protobuf::RepeatedPtrField<v1::ReceiptView>& receipts,
                   const std::vector<std::string>& parties, const std::vector<std::string>& expected,
                   const std::string& indent, std::ostream& out) {
  std::vector<std::string> order = parties;
  for (const auto& r : receipts) {
    if (std::find(order.begin(), order.end(), r.party()) == order.end()) order.push_back(r.party());
  }
  std::size_t width = 0;
  for (const std::string& p : order) width = std::max(width, Shown(p).size());
  for (const std::string& party : order) {
    std::vector<const v1::ReceiptView*> of;
    for (const auto& r : receipts) {
      if (r.party() == party) of.push_back(&r);
    }
    std::stable_sort(of.begin(), of.end(), [](const auto* a, const auto* b) { return a->at() < b->at(); });
    std::string line;
    for (const auto* r : of) line += (line.empty() ? "" : ", ") + Shown(r->kind()) + " " + UtcTime(r->at());
    if (line.empty()) {
      if (std::find(expected.begin(), expected.end(), party) == expected.end()) continue;
      line = "no receipt yet";
    }
    const std::string name = Shown(party);
    out << indent << name << std::string(width - name.size() + 2, ' ') << line << "\n";
  }
}

namespace {

std::string EventLine(const v1::ThreadEventView& e, const std::string& status_before) {
  if (e.kind() == "opened") return "opened the thread";
  if (e.kind() == "draft") {
    std::string line = "draft v" + std::to_string(e.version()) + ": " + Shown(e.name()) + " (" +
                       Shown(e.media_type().empty() ? "application/octet-stream" : e.media_type()) + ", " +
                       SizeText(e.size());
    if (!e.language().empty()) line += ", language " + Shown(e.language());
    line += ")";
    if (e.claimed_version() != 0 && e.claimed_version() != e.version()) {
      line += ", numbered v" + std::to_string(e.claimed_version()) + " by its author";
    }
    return line;
  }
  if (e.kind() == "comment") return "comment:";
  if (e.kind() == "status") {
    std::string line = "status " + Shown(e.status());
    if (!e.applied()) line += " (not applied: not a valid change from " + Shown(status_before) + ")";
    return line;
  }
  return Shown(e.kind());
}

}  // namespace

void PrintThread(const v1::ThreadView& view, std::ostream& out) {
  auto row = [&](const char* label, const std::string& value) {
    char head[32];
    std::snprintf(head, sizeof head, "  %-14s", label);
    out << head << value << "\n";
  };
  out << "Thread " << Shown(view.thread_id()) << "\n";
  row("Kind:", Shown(view.kind()));
  row("Subject:", Shown(view.subject()));
  row("Legal basis:", Shown(view.legal_basis()));
  row("Language:", view.language().empty() ? "-" : Shown(view.language()));
  row("Urgent:", view.urgent() ? "yes" : "no");
  row("Deadline:", view.deadline().empty() ? "-" : Shown(view.deadline()));
  row("Status:", Shown(view.status()));
  row("Participants:", ShownList(view.participants()));
  row("Opened by:", Shown(view.opened_by()) + " at " + UtcTime(view.opened_at()) + " UTC");
  row("Drafts:", std::to_string(view.drafts()));

  const std::vector<std::string> participants(view.participants().begin(), view.participants().end());
  if (!view.events().empty()) {
    out << "\nTimeline, oldest first (UTC):\n";
    std::size_t width = 0;
    for (const auto& e : view.events()) width = std::max(width, Shown(e.by()).size());
    std::string status = service::Statuses().front();
    for (const auto& e : view.events()) {
      const std::string by = Shown(e.by());
      out << "  " << UtcTime(e.at()) << "  " << by << std::string(width - by.size() + 2, ' ') << EventLine(e, status)
          << "\n";
      if (e.kind() == "status" && e.applied()) status = e.status();
      if (!e.text().empty()) {
        if (e.kind() == "comment") {
          PrintLines(e.text(), "      | ", out);
        } else {
          out << "      note:\n";
          PrintLines(e.text(), "      | ", out);
        }
      }
      // Receipts owed: to this node for what it sent (received events carry only its own read
      // receipt); offline (no "me") every recipient's.
      std::vector<std::string> recipients;
      for (const std::string& p : participants) {
        if (p != e.by() && (view.me().empty() || view.me() == e.by())) recipients.push_back(p);
      }
      PrintReceipts(e.receipts(), participants, recipients, "      ", out);
    }
  }
  if (!view.missing().empty()) {
    out << "\nMissing for a complete " << Shown(view.kind()) << " request:\n";
    for (const std::string& m : view.missing()) out << "  - " << Shown(m) << "\n";
  }
}

ProgressLine::ProgressLine(std::string what) : what_(std::move(what)) {}

ProgressLine::~ProgressLine() {
  if (shown_) std::cerr << "\r\033[K" << std::flush;
}

bool ProgressLine::Wanted() { return ::isatty(STDERR_FILENO) == 1; }

std::string ProgressLine::Text(const std::string& what, std::uint64_t done, std::uint64_t total, double seconds) {
  std::string out = what + ": " + SizeText(done) + " of " + SizeText(total);
  if (seconds > 0) {
    const double rate = static_cast<double>(done) / seconds;
    out += ", " + SizeText(static_cast<std::uint64_t>(rate)) + "/s";
    if (rate > 0 && total > done) {
      out += ", " + std::to_string(static_cast<std::uint64_t>(static_cast<double>(total - done) / rate + 0.5)) +
             " s left";
    }
  }
  return out;
}

void ProgressLine::Update(std::uint64_t done, std::uint64_t total) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (seconds < 1.0 || !Wanted()) return;
  shown_ = true;
  std::cerr << "\r\033[K" << Text(what_, done, total, seconds) << std::flush;
}

}  // namespace comity::client
