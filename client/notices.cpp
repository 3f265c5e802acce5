// comity notice ...: spontaneous information (UNTOC art. 18(4)-(5)) through the local API
// (NoticeSend, NoticeList, NoticeShow, NoticeAccept). A received notice shows its conditions
// first; its body and attachments only once they are accepted (the daemon leaves them out
// before).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <set>

#include "client/api_client.h"
#include "client/commands.h"
#include "client/print.h"
#include "crypto/trust.h"
#include "node/service/thread.h"

namespace comity::client {
namespace {

constexpr int kSendTimeoutMs = 120000;  // the daemon encrypts the attachments before it answers

// The absolute path of a file to attach, once it is known to be a readable regular file.
Result<std::string, Failure> AttachmentPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return Failure{"cannot attach " + path + ": " + std::strerror(errno)};
  const int fd = ::open(resolved, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failure{"cannot attach " + path + ": " + std::strerror(errno)};
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return Failure{"cannot attach " + path + ": not a regular file"};
  return std::string(resolved);
}

// Distinct parties with a receipt of one of `kinds`.
std::size_t PartiesWith(const v1::NoticeView& n, const std::set<std::string>& kinds) {
  std::set<std::string> parties;
  for (const auto& r : n.receipts()) {
    if (kinds.count(r.kind()) != 0) parties.insert(r.party());
  }
  return parties.size();
}

bool HasConditions(const v1::NoticeView& n) { return n.confidential() || !n.use_restriction().empty(); }

bool IsOpen(const v1::NoticeView& n) { return n.direction() != "in" || n.accepted(); }

void PrintNotice(const v1::NoticeView& n, std::ostream& out) {
  auto row = [&](const char* label, const std::string& value) {
    char head[32];
    std::snprintf(head, sizeof head, value.empty() ? "  %s" : "  %-17s", label);
    out << head << value << "\n";
  };
  const bool in = n.direction() == "in";
  out << "Notice " << n.number() << (in ? ", received" : ", sent") << "\n";
  row("From:", Shown(n.sender()));
  row("To:", ShownList(n.recipients()));
  row("Sent:", UtcTime(n.created_at()) + " UTC");
  row("Subject:", Shown(n.subject()));
  row("Confidential:", n.confidential() ? "yes" : "no");
  if (n.use_restriction().empty()) {
    row("Use restriction:", "none");
  } else if (n.use_restriction().find('\n') == std::string::npos) {
    row("Use restriction:", Shown(n.use_restriction()));
  } else {
    row("Use restriction:", "");
    PrintLines(n.use_restriction(), "    | ", out);
  }
  row("Attachments:", std::to_string(n.attachment_count()));
  if (in && n.accepted()) row("Accepted:", UtcTime(n.accepted_at()) + " UTC");
  if (!IsOpen(n)) {
    out << "\nThe body and attachments open once these conditions are accepted here (a signed acceptance\n"
           "goes back to the sender).\n"
        << "  accept with: comity notice accept " << n.number() << "\n";
  } else {
    out << "\nBody:\n";
    if (n.body().empty()) {
      out << "  (empty)\n";
    } else {
      PrintLines(n.body(), "  | ", out);
    }
    if (!n.attachments().empty()) {
      out << "\nAttachments:\n";
      for (const auto& a : n.attachments()) {
        out << "  " << Shown(a.name()) << "  " << SizeText(a.size()) << "  BLAKE2b-256 " << Shown(a.content_hash())
            << "\n";
      }
    }
  }
  const std::vector<std::string> recipients(n.recipients().begin(), n.recipients().end());
  if (!n.receipts().empty() || !in) {
    out << "\nReceipts (UTC):\n";
    PrintReceipts(n.receipts(), recipients, in ? std::vector<std::string>{} : recipients, "  ", out);
  }
}

int Send(const Options& o) {
  if (auto f = CheckOptions(o, "notice send", {"--to", "--network", "--subject", "--body", "--body-file", "--attach",
                                               "--confidential", "--use-restriction"})) {
    return Fail(*f);
  }
  if (o.words.size() != 2) return Usage("'notice send' takes no argument but its options (see comity --help)");
  v1::ApiRequest request;
  v1::NoticeSendRequest* q = request.mutable_notice_send();
  const auto to = o.Value("--to");
  const auto network = o.Value("--network");
  if (to.has_value() == network.has_value()) {
    return Usage("'notice send' needs --to ID[,ID...] or --network NET (one of them)");
  }
  if (to) {
    const auto recipients = ListArgument(*to);
    if (!recipients) return Usage("--to is a list of members separated by commas, none empty");
    for (const std::string& r : *recipients) q->add_to(r);
  } else {
    if (!crypto::IsValidNetworkId(*network)) return Usage("--network must be a network id");
    q->set_network(*network);
  }
  const auto subject = o.Value("--subject");
  if (!subject || subject->empty()) return Usage("'notice send' needs --subject TEXT");
  if (subject->size() > service::kMaxSubjectBytes || !crypto::IsPrintableUtf8(*subject)) {
    return Usage("--subject is 1 to " + std::to_string(service::kMaxSubjectBytes) + " bytes of printable UTF-8 text");
  }
  q->set_subject(*subject);
  const auto body = o.Value("--body");
  const auto body_file = o.Value("--body-file");
  if (body.has_value() == body_file.has_value()) return Usage("'notice send' needs --body TEXT or --body-file FILE");
  if (body) {
    if (body->size() > service::kMaxNoticeBodyBytes) {
      return Usage("--body is at most " + SizeText(service::kMaxNoticeBodyBytes));
    }
    q->set_body(*body);
  } else {
    auto bytes = ReadArgumentFile(*body_file, service::kMaxNoticeBodyBytes, "a notice's body");
    if (!bytes.ok()) return Fail(bytes.error());
    q->set_body(std::move(bytes.value()));
  }
  if (!IsValidUtf8(q->body())) return Usage("the body must be UTF-8 text");
  for (const std::string& a : o.attach) {
    auto path = AttachmentPath(a);
    if (!path.ok()) return Fail(path.error());
    q->add_attach(path.value());
  }
  q->set_confidential(o.Has("--confidential"));
  if (const auto restriction = o.Value("--use-restriction")) {
    if (restriction->size() > service::kMaxUseRestrictionBytes || !crypto::IsPrintableText(*restriction)) {
      return Usage("--use-restriction is at most " + std::to_string(service::kMaxUseRestrictionBytes) +
                   " bytes of printable UTF-8 text");
    }
    q->set_use_restriction(*restriction);
  }
  std::optional<ProgressLine> progress;
  std::function<void(const v1::Progress&)> on_progress;
  if (!o.json && !o.attach.empty() && ProgressLine::Wanted()) {
    progress.emplace("encrypting the attachments");
    on_progress = [&progress](const v1::Progress& p) { progress->Update(p.done(), p.total()); };
  }
  auto r = Call(o, std::move(request), {kSendTimeoutMs}, on_progress);
  progress.reset();
  if (!r.ok()) return Fail(r.error());
  const v1::NoticeView& n = r->notice();
  if (o.json) {
    PrintJson(n);
  } else {
    std::cout << "Notice " << n.number() << " sent to " << ShownList(n.recipients()) << "\n";
  }
  return 0;
}

int List(const Options& o) {
  if (auto f = CheckOptions(o, "notice list", {})) return Fail(*f);
  if (o.words.size() != 2) return Usage("'notice list' takes no argument");
  v1::ApiRequest request;
  request.mutable_notice_list();
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::NoticeListResponse& list = r->notice_list();
  if (o.json) {
    PrintJson(list);
    return 0;
  }
  if (list.notices().empty()) {
    std::cout << "No notice.\n";
    return 0;
  }
  char row[512];
  std::snprintf(row, sizeof row, "%-6s  %-3s  %-16s  %-28s  %5s  %-28s  %-22s  %s\n", "N", "DIR", "SENT", "FROM / TO",
                "FILES", "CONDITIONS", "STATE", "SUBJECT");
  std::cout << row;
  for (const auto& n : list.notices()) {
    const bool in = n.direction() == "in";
    std::string with = in ? Shown(n.sender()) : (n.recipients().empty() ? "-" : Shown(n.recipients(0)));
    if (!in && n.recipients_size() > 1) with += " +" + std::to_string(n.recipients_size() - 1);
    std::string conditions;
    if (n.confidential()) conditions = "confidential";
    if (!n.use_restriction().empty()) conditions += std::string(conditions.empty() ? "" : ", ") + "use restricted";
    if (conditions.empty()) conditions = "-";
    std::string state;
    const std::string of = "/" + std::to_string(n.recipients_size());
    if (in) {
      state = n.accepted() ? "accepted" : "to accept";
    } else {
      state = "delivered " + std::to_string(PartiesWith(n, {"delivered", "read", "conditions-accepted"})) + of;
      if (HasConditions(n)) state += ", accepted " + std::to_string(PartiesWith(n, {"conditions-accepted"})) + of;
    }
    std::snprintf(row, sizeof row, "%-6llu  %-3s  %-16s  %-28s  %5u  %-28s  %-22s  ",
                  static_cast<unsigned long long>(n.number()), in ? "in" : "out", UtcTime(n.created_at()).c_str(),
                  with.c_str(), n.attachment_count(), conditions.c_str(), state.c_str());
    std::cout << row << Shown(n.subject()) << "\n";
  }
  return 0;
}

// notice show N and notice accept N.
int ShowOrAccept(const Options& o, bool accept) {
  const std::string command = accept ? "notice accept" : "notice show";
  if (auto f = CheckOptions(o, command, {"--save"})) return Fail(*f);
  const auto number = o.words.size() == 3 ? NumberArgument(o.words[2], std::numeric_limits<std::uint64_t>::max() / 10)
                                          : std::nullopt;
  if (!number) return Usage("'" + command + "' takes a notice's number: comity " + command + " N [--save DIR]");
  std::string save_to;
  if (const auto dir = o.Value("--save")) {
    char resolved[PATH_MAX];
    struct stat st {};
    if (::realpath(dir->c_str(), resolved) == nullptr || ::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Fail(Failure{"--save " + *dir + " is not a directory"});
    }
    save_to = resolved;
  }
  v1::ApiRequest request;
  if (accept) {
    request.mutable_notice_accept()->set_number(*number);
    request.mutable_notice_accept()->set_save_to(save_to);
  } else {
    request.mutable_notice_show()->set_number(*number);
    request.mutable_notice_show()->set_save_to(save_to);
  }
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::NoticeView& n = r->notice();
  if (o.json) {
    PrintJson(n);
    return 0;
  }
  if (accept) {
    std::cout << "Accepted the conditions of notice " << n.number() << " from " << Shown(n.sender())
              << " (a signed acceptance goes back to the sender).\n\n";
  }
  PrintNotice(n, std::cout);
  for (const std::string& saved : n.saved()) std::cout << "Saved " << Shown(saved) << "\n";
  return 0;
}

}  // namespace

int NoticeCommand(const Options& o) {
  const std::string sub = o.words.size() >= 2 ? o.words[1] : "";
  if (sub == "send") return Send(o);
  if (sub == "list") return List(o);
  if (sub == "show") return ShowOrAccept(o, false);
  if (sub == "accept") return ShowOrAccept(o, true);
  return Usage((sub.empty() ? std::string("'notice' needs a command") : "unknown command 'notice " + sub + "'") +
               ": send, list, show or accept (see comity --help)");
}

}  // namespace comity::client
