// comity thread ...: draft-request threads through the local API (ThreadOpen, ThreadDraft,
// ThreadComment, ThreadStatus, ThreadShow, ThreadList, Drafts).
#include <google/protobuf/struct.pb.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "client/api_client.h"
#include "client/commands.h"
#include "client/diff.h"
#include "client/print.h"
#include "crypto/trust.h"
#include "node/service/thread.h"

namespace comity::client {
namespace {

std::string Quoted(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "\"" : ", \"") + i + "\"";
  return out;
}

std::string Joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// Checks the text options every sending command may carry; a failure is a usage failure.
std::optional<Failure> CheckText(const Options& o, const std::string& option, std::size_t max_bytes, bool lines) {
  const auto value = o.Value(option);
  if (!value) return std::nullopt;
  if (value->size() > max_bytes) return Failure{option + " is at most " + std::to_string(max_bytes) + " bytes", 2};
  if (!(lines ? crypto::IsPrintableText(*value) : crypto::IsPrintableUtf8(*value))) {
    return Failure{option + " must be printable UTF-8 text", 2};
  }
  return std::nullopt;
}

std::optional<Failure> CheckLanguage(const Options& o) {
  const auto language = o.Value("--language");
  if (language && !crypto::IsValidLanguage(*language)) {
    return Failure{"--language must be an ISO 639-1 code of two small letters, e.g. es", 2};
  }
  return std::nullopt;
}

// The thread named by words[2].
Result<std::string, Failure> ThreadOf(const Options& o) {
  const auto id = ThreadArgument(o.words[2]);
  if (!id) return Failure{"'" + o.words[2] + "' is no thread: give its id (16 hex digits) or at least its first 4", 2};
  return *id;
}

// What sending an event did: one line, the warnings on stderr.
int Posted(const Options& o, const v1::ThreadPosted& posted, const std::string& line) {
  for (const std::string& w : posted.warnings()) std::cerr << "comity: warning: " << Shown(w) << "\n";
  if (o.json) {
    PrintJson(posted);
  } else {
    std::cout << line << "\n";
  }
  return 0;
}

int Open(const Options& o) {
  if (auto f = CheckOptions(o, "thread open", {"--to", "--kind", "--subject", "--legal-basis", "--language", "--urgent",
                                               "--deadline", "--draft", "--force"})) {
    return Fail(*f);
  }
  if (o.words.size() != 2) return Usage("'thread open' takes no argument but its options (see comity --help)");
  v1::ApiRequest request;
  v1::ThreadOpenRequest* q = request.mutable_thread_open();
  const auto to = o.Value("--to");
  if (!to) return Usage("'thread open' needs --to ID[,ID...]: the members to consult");
  const auto recipients = ListArgument(*to);
  if (!recipients) return Usage("--to is a list of members separated by commas, none empty");
  for (const std::string& r : *recipients) q->add_to(r);
  const auto kind = o.Value("--kind");
  const auto& kinds = service::RequestKinds();
  if (!kind || std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) {
    return Usage("'thread open' needs --kind " + Joined(kinds, "|"));
  }
  q->set_kind(*kind);
  const auto subject = o.Value("--subject");
  if (!subject || subject->empty()) return Usage("'thread open' needs --subject TEXT");
  if (auto f = CheckText(o, "--subject", service::kMaxSubjectBytes, false)) return Fail(*f);
  q->set_subject(*subject);
  const auto basis = o.Value("--legal-basis");
  if (!basis || basis->empty()) {
    return Usage("'thread open' needs --legal-basis TEXT, any text naming the legal basis, e.g. " +
                 Quoted(service::SuggestedLegalBases()));
  }
  if (auto f = CheckText(o, "--legal-basis", service::kMaxLegalBasisBytes, false)) return Fail(*f);
  q->set_legal_basis(*basis);
  if (auto f = CheckLanguage(o)) return Fail(*f);
  q->set_language(o.Value("--language").value_or(""));
  const auto deadline = o.Value("--deadline");
  if (deadline && !service::IsValidDate(*deadline)) return Usage("--deadline must be a date, YYYY-MM-DD");
  q->set_deadline(deadline.value_or(""));
  q->set_urgent(o.Has("--urgent"));
  q->set_force(o.Has("--force"));
  std::string draft_name;
  if (const auto draft = o.Value("--draft")) {
    auto bytes = ReadArgumentFile(*draft, service::kMaxDraftBytes, "a draft");
    if (!bytes.ok()) return Fail(bytes.error());
    draft_name = std::filesystem::path(*draft).filename().string();
    q->set_draft(std::move(bytes.value()));
    q->set_draft_name(draft_name);
  }
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::ThreadPosted& p = r->thread_posted();
  std::string line = "Thread " + Shown(p.thread_id()) + " opened with " + ShownList(p.recipients());
  if (!draft_name.empty()) line += "\n  with draft v1: " + Shown(draft_name);
  return Posted(o, p, line);
}

int Draft(const Options& o) {
  if (auto f = CheckOptions(o, "thread draft", {"--note", "--language", "--force"})) return Fail(*f);
  if (o.words.size() != 4) return Usage("'thread draft' takes a thread and a file: comity thread draft THREAD FILE");
  auto thread = ThreadOf(o);
  if (!thread.ok()) return Fail(thread.error());
  if (auto f = CheckText(o, "--note", service::kMaxNoteBytes, true)) return Fail(*f);
  if (auto f = CheckLanguage(o)) return Fail(*f);
  auto bytes = ReadArgumentFile(o.words[3], service::kMaxDraftBytes, "a draft");
  if (!bytes.ok()) return Fail(bytes.error());
  v1::ApiRequest request;
  v1::ThreadDraftRequest* q = request.mutable_thread_draft();
  q->set_thread(*thread);
  q->set_content(std::move(bytes.value()));
  q->set_name(std::filesystem::path(o.words[3]).filename().string());
  q->set_note(o.Value("--note").value_or(""));
  q->set_language(o.Value("--language").value_or(""));
  q->set_force(o.Has("--force"));
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::ThreadPosted& p = r->thread_posted();
  return Posted(o, p,
                "Draft v" + std::to_string(p.version()) + " of thread " + Shown(p.thread_id()) + " sent to " +
                    ShownList(p.recipients()));
}

int Comment(const Options& o) {
  if (auto f = CheckOptions(o, "thread comment", {})) return Fail(*f);
  if (o.words.size() != 4) {
    return Usage("'thread comment' takes a thread and one text: comity thread comment THREAD \"TEXT\"");
  }
  auto thread = ThreadOf(o);
  if (!thread.ok()) return Fail(thread.error());
  const std::string& text = o.words[3];
  if (text.empty() || text.size() > service::kMaxCommentBytes || !crypto::IsPrintableText(text)) {
    return Usage("a comment is 1 to " + std::to_string(service::kMaxCommentBytes) + " bytes of printable UTF-8 text");
  }
  v1::ApiRequest request;
  request.mutable_thread_comment()->set_thread(*thread);
  request.mutable_thread_comment()->set_text(text);
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::ThreadPosted& p = r->thread_posted();
  return Posted(o, p, "Comment on thread " + Shown(p.thread_id()) + " sent to " + ShownList(p.recipients()));
}

int SetStatus(const Options& o) {
  if (auto f = CheckOptions(o, "thread status", {"--note", "--force"})) return Fail(*f);
  const auto& statuses = service::Statuses();
  const std::string usage = "comity thread status THREAD " + Joined(statuses, "|") + " [--note TEXT] [--force]";
  if (o.words.size() != 4) return Usage("'thread status' takes a thread and a status: " + usage);
  auto thread = ThreadOf(o);
  if (!thread.ok()) return Fail(thread.error());
  if (std::find(statuses.begin(), statuses.end(), o.words[3]) == statuses.end()) {
    return Usage("'" + o.words[3] + "' is no status: " + usage);
  }
  if (auto f = CheckText(o, "--note", service::kMaxNoteBytes, true)) return Fail(*f);
  v1::ApiRequest request;
  v1::ThreadStatusRequest* q = request.mutable_thread_status();
  q->set_thread(*thread);
  q->set_status(o.words[3]);
  q->set_note(o.Value("--note").value_or(""));
  q->set_force(o.Has("--force"));
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::ThreadPosted& p = r->thread_posted();
  return Posted(o, p,
                "Thread " + Shown(p.thread_id()) + " is now " + o.words[3] + " (sent to " + ShownList(p.recipients()) +
                    ")");
}

int Show(const Options& o) {
  if (auto f = CheckOptions(o, "thread show", {})) return Fail(*f);
  if (o.words.size() != 3) return Usage("'thread show' takes a thread: comity thread show THREAD");
  auto thread = ThreadOf(o);
  if (!thread.ok()) return Fail(thread.error());
  v1::ApiRequest request;
  request.mutable_thread_show()->set_thread(*thread);
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  if (o.json) {
    PrintJson(r->thread());
  } else {
    PrintThread(r->thread(), std::cout);
  }
  return 0;
}

int List(const Options& o) {
  if (auto f = CheckOptions(o, "thread list", {"--status", "--waiting-on-me"})) return Fail(*f);
  if (o.words.size() != 2) return Usage("'thread list' takes no argument but its options (see comity --help)");
  v1::ApiRequest request;
  v1::ThreadListRequest* q = request.mutable_thread_list();
  if (const auto status = o.Value("--status")) {
    const auto& statuses = service::Statuses();
    if (std::find(statuses.begin(), statuses.end(), *status) == statuses.end()) {
      return Usage("--status must be one of " + Joined(statuses, ", "));
    }
    q->set_status(*status);
  }
  q->set_waiting_on_me(o.Has("--waiting-on-me"));
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const v1::ThreadListResponse& list = r->thread_list();
  if (o.json) {
    PrintJson(list);
    return 0;
  }
  if (list.threads().empty()) {
    std::cout << "No thread matches.\n";
    return 0;
  }
  char row[512];
  std::snprintf(row, sizeof row, "%-16s  %-23s  %-18s  %4s  %-7s  %-32s  %s\n", "THREAD", "KIND", "STATUS", "DAYS",
                "WAITING", "WITH", "SUBJECT");
  std::cout << row;
  for (const auto& t : list.threads()) {
    const std::string days = t.last_at() > 0 && list.now() >= t.last_at()
                                 ? std::to_string((list.now() - t.last_at()) / 86400)
                                 : "-";
    std::snprintf(row, sizeof row, "%-16s  %-23s  %-18s  %4s  %-7s  %-32s  ", Shown(t.thread_id()).c_str(),
                  Shown(t.kind()).c_str(), Shown(t.status()).c_str(), days.c_str(), t.waiting_on_me() ? "yes" : "no",
                  ShownList(t.participants(), ",").c_str());
    std::cout << row << Shown(t.subject()) << "\n";
  }
  return 0;
}

// A draft as compared: text only.
std::optional<Failure> CheckComparable(const v1::DraftContent& d) {
  const std::string name = "draft v" + std::to_string(d.version()) + " (" + Shown(d.name()) + ")";
  if (d.media_type().rfind("text/", 0) != 0) {
    return Failure{name + " is " + (d.media_type().empty() ? "of no type" : Shown(d.media_type())) +
                   ", not text: only text drafts can be compared"};
  }
  if (!IsValidUtf8(d.content())) return Failure{name + " is not valid UTF-8 text: only text drafts can be compared"};
  return std::nullopt;
}

int Diff(const Options& o) {
  if (auto f = CheckOptions(o, "thread diff", {})) return Fail(*f);
  const std::string usage = "'thread diff' takes a thread and two draft versions: comity thread diff THREAD V1 V2";
  if (o.words.size() != 5) return Usage(usage);
  auto thread = ThreadOf(o);
  if (!thread.ok()) return Fail(thread.error());
  const auto first = NumberArgument(o.words[3], 1'000'000);
  const auto second = NumberArgument(o.words[4], 1'000'000);
  if (!first || !second) return Usage(usage + " (versions are numbers from 1)");
  v1::ApiRequest request;
  request.mutable_drafts()->set_thread(*thread);
  request.mutable_drafts()->add_versions(static_cast<std::uint32_t>(*first));
  request.mutable_drafts()->add_versions(static_cast<std::uint32_t>(*second));
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  const auto& drafts = r->drafts().drafts();
  if (drafts.size() != 2 || drafts[0].version() != *first || drafts[1].version() != *second) {
    return Fail({"comityd did not send drafts v" + std::to_string(*first) + " and v" + std::to_string(*second)});
  }
  for (const auto& d : drafts) {
    if (auto f = CheckComparable(d)) return Fail(*f);
  }
  const std::string old_label = "v" + std::to_string(*first) + " " + Shown(drafts[0].name());
  const std::string new_label = "v" + std::to_string(*second) + " " + Shown(drafts[1].name());
  if (o.json) {
    google::protobuf::Struct doc;
    auto& fields = *doc.mutable_fields();
    fields["thread"].set_string_value(*thread);
    for (int i = 0; i < 2; ++i) {
      auto& side = *fields[i == 0 ? "old" : "new"].mutable_struct_value()->mutable_fields();
      side["version"].set_number_value(drafts[i].version());
      side["name"].set_string_value(drafts[i].name());
      side["media_type"].set_string_value(drafts[i].media_type());
      side["size"].set_number_value(static_cast<double>(drafts[i].content().size()));
    }
    fields["diff"].set_string_value(UnifiedDiff(drafts[0].content(), drafts[1].content(), old_label, new_label));
    PrintJson(doc);
    return 0;
  }
  DiffOptions options;
  options.shown = [](std::string_view line) { return Shown(line); };
  const std::string diff = UnifiedDiff(drafts[0].content(), drafts[1].content(), old_label, new_label, options);
  if (diff.empty()) {
    std::cout << "Drafts v" << *first << " and v" << *second << " of thread " << *thread << " are the same.\n";
  } else {
    std::cout << diff;
  }
  return 0;
}

}  // namespace

int ThreadCommand(const Options& o) {
  const std::string sub = o.words.size() >= 2 ? o.words[1] : "";
  if (sub == "open") return Open(o);
  if ((sub == "draft" || sub == "comment" || sub == "status" || sub == "show" || sub == "diff") && o.words.size() < 3) {
    return Usage("'thread " + sub + "' needs a thread (see comity --help)");
  }
  if (sub == "draft") return Draft(o);
  if (sub == "diff") return Diff(o);
  if (sub == "comment") return Comment(o);
  if (sub == "status") return SetStatus(o);
  if (sub == "show") return Show(o);
  if (sub == "list") return List(o);
  return Usage((sub.empty() ? std::string("'thread' needs a command") : "unknown command 'thread " + sub + "'") +
               ": open, draft, diff, comment, status, show or list (see comity --help)");
}

}  // namespace comity::client
