// The local API of the judicial workflow (proto/api.proto, docs/PROTOCOL.md §11-§13): threads
// of draft requests, notices, evidence bundles and statistics. Node's handlers, on the node's
// thread; what they send goes through Queue like any message (committed before it leaves).
#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <boost/asio/post.hpp>
#include <map>
#include <set>

#include "crypto/envelope.h"
#include "crypto/trust.h"
#include "node/daemon/node.h"
#include "node/daemon/workflow.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"

namespace comity::node {
namespace {

using crypto::Bytes;

v1::ApiResponse Refusal(const std::string& what, const std::string& why) {
  v1::ApiResponse r;
  r.set_error(what + ": " + why);
  return r;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// The receipts this node holds for a message, as the API shows them.
Status<> AddReceipts(archive::Archive& archive, const Bytes& message_id,
                     google::protobuf::RepeatedPtrField<v1::ReceiptView>* out) {
  auto receipts = archive.Receipts(message_id);
  if (!receipts) return MakeError(receipts.error().message);
  for (const archive::ReceiptRecord& r : *receipts) {
    v1::ReceiptView* rv = out->Add();
    rv->set_kind(r.kind);
    rv->set_party(r.party);
    rv->set_at(r.received_at);
  }
  return {};
}

// What a draft's bytes are, from its name and content: text drafts are diffable and indexed.
std::string MediaTypeOf(const std::string& name, const std::string& content) {
  if (IsUtf8(content) && content.find('\0') == std::string::npos) return "text/plain";
  const auto dot = name.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::string> types = {
      {"pdf", "application/pdf"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"rtf", "application/rtf"},
  };
  auto it = types.find(ext);
  return it == types.end() ? "application/octet-stream" : it->second;
}

// A signed object (envelope, receipt, roster) in its canonical encoding: what it signs is
// `body`, so a wrapper that came with extra fields is written without them (its message id,
// over the body, is the same); an evidence bundle holds only canonical items (§13.1).
std::string Canonical(const std::string& signed_bytes) {
  v1::Signed s;
  if (!s.ParseFromString(signed_bytes)) return signed_bytes;
  s.DiscardUnknownFields();
  return s.SerializeAsString();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void Count(std::map<std::string, std::uint32_t>& counts, const std::string& key) { ++counts[key]; }

void PutCounts(const std::map<std::string, std::uint32_t>& counts,
               google::protobuf::RepeatedPtrField<v1::StatCount>* out) {
  for (const auto& [key, n] : counts) {
    v1::StatCount* c = out->Add();
    c->set_key(key);
    c->set_threads(n);
  }
}

}  // namespace

std::vector<std::string> Node::MyAddresses() const {
  std::vector<std::string> out;
  for (const v1::Party& p : p_.parties) out.push_back(AddressOf(p));
  return out;
}

void Node::OnWorkflowApi(const v1::ApiRequest& request, ApiServer::Reply reply) {
  switch (request.request_case()) {
    case v1::ApiRequest::kThreadOpen:
      return ThreadOpen(request.thread_open(), std::move(reply));
    case v1::ApiRequest::kThreadDraft: {
      const v1::ThreadDraftRequest& q = request.thread_draft();
      v1::ThreadEvent e;
      v1::DraftPosted* d = e.mutable_draft();
      d->set_name(q.name());
      d->set_media_type(MediaTypeOf(q.name(), q.content()));
      d->set_content(q.content());
      d->set_note(q.note());
      d->set_language(q.language());
      return ThreadPost(q.thread(), std::move(e), q.language(), q.force(), std::move(reply));
    }
    case v1::ApiRequest::kThreadComment: {
      v1::ThreadEvent e;
      e.mutable_comment()->set_text(request.thread_comment().text());
      return ThreadPost(request.thread_comment().thread(), std::move(e), "", false, std::move(reply));
    }
    case v1::ApiRequest::kThreadStatus: {
      v1::ThreadEvent e;
      e.mutable_status()->set_status(request.thread_status().status());
      e.mutable_status()->set_note(request.thread_status().note());
      return ThreadPost(request.thread_status().thread(), std::move(e), "", request.thread_status().force(),
                        std::move(reply));
    }
    case v1::ApiRequest::kThreadShow:
      return ThreadShow(request.thread_show(), std::move(reply));
    case v1::ApiRequest::kThreadList:
      return reply(Answer("thread list", ThreadList(request.thread_list()), &v1::ApiResponse::mutable_thread_list));
    case v1::ApiRequest::kDrafts:
      return reply(Answer("drafts", Drafts(request.drafts()), &v1::ApiResponse::mutable_drafts));
    case v1::ApiRequest::kNoticeSend:
      return NoticeSend(request.notice_send(), request.progress(), std::move(reply));
    case v1::ApiRequest::kNoticeList:
      return reply(Answer("notice list", NoticeList(), &v1::ApiResponse::mutable_notice_list));
    case v1::ApiRequest::kNoticeShow:
      return reply(Answer("notice show", NoticeShow(request.notice_show().number(), request.notice_show().save_to()),
                          &v1::ApiResponse::mutable_notice));
    case v1::ApiRequest::kNoticeAccept:
      return NoticeAccept(request.notice_accept(), std::move(reply));
    case v1::ApiRequest::kExport:
      return reply(Answer("export", Export(request.export_()), &v1::ApiResponse::mutable_export_));
    case v1::ApiRequest::kStats:
      return reply(Answer("stats", Stats(), &v1::ApiResponse::mutable_stats));
    default: {
      v1::ApiResponse r;
      r.set_error("unknown request");
      return reply(std::move(r));
    }
  }
}

Status<> Node::CheckLanguage(const std::vector<v1::Party>& to, const std::string& language) {
  if (language.empty()) return {};
  const std::int64_t now = p_.now();
  for (const v1::Party& r : to) {
    auto cert = p_.trust.FindMember(r, now);
    if (!cert) return MakeError("recipient " + AddressOf(r) + ": " + cert.error().message);
    if (cert->languages().empty()) continue;  // it lists none: nothing to check against
    if (std::find(cert->languages().begin(), cert->languages().end(), language) != cert->languages().end()) continue;
    std::vector<std::string> accepted(cert->languages().begin(), cert->languages().end());
    return MakeError("the draft is in '" + language + "', which " + AddressOf(r) + " does not accept (it accepts " +
                     Joined(accepted) + "); send anyway with --force");
  }
  return {};
}

Result<v1::ThreadView> Node::FindThread(const std::string& thread, bool with_receipts) {
  if (thread.size() < 4 || thread.size() > 16 || !std::all_of(thread.begin(), thread.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return MakeError("'" + crypto::EscapeForDisplay(thread) + "' is not a thread id (4 to 16 of its hex digits)");
  }
  auto found = p_.archive->ThreadsStartingWith(thread);
  if (!found) return MakeError(found.error().message);
  if (found->empty()) return MakeError("no thread " + thread);
  if (found->size() > 1) return MakeError(thread + " names several threads: give more of its digits");
  auto view = LoadThread(*p_.archive, found->front(), MyAddresses());
  if (!view) return MakeError(view.error().message);
  if (with_receipts) {
    for (v1::ThreadEventView& ev : *view->mutable_events()) {
      if (auto st = AddReceipts(*p_.archive, crypto::ToBytes(ev.message_id()), ev.mutable_receipts()); !st) {
        return st.error();
      }
    }
  }
  return std::move(view).value();
}

void Node::ThreadOpen(const v1::ThreadOpenRequest& q, ApiServer::Reply reply) {
  auto refuse = [&](const std::string& why) { reply(Refusal("thread open", why)); };
  if (q.legal_basis().empty()) {
    return refuse("give the legal basis (--legal-basis), e.g. " + Joined(service::SuggestedLegalBases()));
  }
  if (q.to().empty()) return refuse("give the recipients (--to ID[,ID...])");
  std::vector<v1::Party> to;
  std::set<std::string> seen;
  const std::vector<std::string> mine = MyAddresses();
  for (const std::string& item : q.to()) {
    auto party = ResolveParty(item, p_.trust, p_.parties);
    if (!party) return refuse(party.error().message);
    const std::string address = AddressOf(*party);
    if (std::find(mine.begin(), mine.end(), address) != mine.end()) return refuse(address + " is this node");
    if (!seen.insert(address).second) continue;
    auto cert = p_.trust.FindMember(*party, p_.now());
    if (!cert) return refuse("recipient " + address + ": " + cert.error().message);
    to.push_back(*party);
  }
  const v1::Party* me = SenderFor(p_.parties, to);
  if (me == nullptr) return refuse("this node is in no roster it trusts");
  v1::ThreadEvent opened;
  opened.set_format(1);
  opened.set_thread_id(service::NewThreadId());
  v1::ThreadOpened* o = opened.mutable_opened();
  o->set_kind(q.kind());
  o->set_subject(q.subject());
  o->set_legal_basis(q.legal_basis());
  o->set_language(q.language());
  o->set_urgent(q.urgent());
  o->set_deadline(q.deadline());
  *o->add_participants() = *me;
  for (const v1::Party& p : to) *o->add_participants() = p;
  if (auto st = service::CheckEvent(opened); !st) return refuse(st.error().message);
  std::optional<v1::ThreadEvent> draft;
  if (!q.draft_name().empty()) {
    draft.emplace();
    draft->set_format(1);
    draft->set_thread_id(opened.thread_id());
    v1::DraftPosted* d = draft->mutable_draft();
    d->set_version(1);
    d->set_name(q.draft_name());
    d->set_media_type(MediaTypeOf(q.draft_name(), q.draft()));
    d->set_content(q.draft());
    draft->add_parents(std::string(32, '\0'));  // the opening's id, once it is sealed
    if (auto st = service::CheckEvent(*draft); !st) return refuse(st.error().message);
    if (!q.force()) {
      if (auto st = CheckLanguage(to, q.language()); !st) return refuse(st.error().message);
    }
  }
  v1::ThreadPosted posted;
  posted.set_thread_id(opened.thread_id());
  for (const v1::Party& p : to) posted.add_recipients(AddressOf(p));
  // Both events go in one batch (one transaction): a thread never exists without the draft
  // it was opened with. Only the last one's answer replies.
  auto answered = std::make_shared<bool>(false);
  auto finish = [reply, answered, posted](Result<Bytes> id, std::uint32_t version, bool last) mutable {
    if (*answered) return;
    if (!id) {
      *answered = true;
      return reply(Refusal("thread open", id.error().message));
    }
    if (!last) return;
    *answered = true;
    posted.set_message_id(crypto::AsString(*id));
    posted.set_version(version);
    v1::ApiResponse r;
    *r.mutable_thread_posted() = std::move(posted);
    reply(std::move(r));
  };
  Bytes opened_id;
  const bool has_draft = draft.has_value();
  Queue({to, std::string(service::kThreadEventContentType), opened.SerializeAsString(), 0, {}, *me},
        [finish, has_draft](Result<Bytes> id) mutable { finish(std::move(id), 0, !has_draft); }, &opened_id);
  if (!has_draft || opened_id.empty()) return;  // sealing failed: answered already
  draft->clear_parents();
  draft->add_parents(crypto::AsString(opened_id));
  Queue({to, std::string(service::kThreadEventContentType), draft->SerializeAsString(), 0, {}, *me},
        [finish](Result<Bytes> id) mutable { finish(std::move(id), 1, true); });
}

void Node::ThreadPost(const std::string& thread, v1::ThreadEvent event, const std::string& language, bool force,
                      ApiServer::Reply reply) {
  const char* what = event.has_draft() ? "thread draft" : event.has_comment() ? "thread comment" : "thread status";
  auto refuse = [&](const std::string& why) { reply(Refusal(what, why)); };
  auto view = FindThread(thread, false);
  if (!view) return refuse(view.error().message);
  const std::vector<std::string> mine = MyAddresses();
  std::optional<v1::Party> me;
  std::vector<v1::Party> to;
  for (const std::string& p : view->participants()) {
    auto party = PartyOfAddress(p);
    if (!party) continue;
    if (!me && std::find(mine.begin(), mine.end(), p) != mine.end()) {
      me = *party;
    } else {
      to.push_back(*party);
    }
  }
  if (!me) return refuse("this node takes no part in thread " + view->thread_id());
  if (const std::string full = ThreadFull(*view, event.has_draft()); !full.empty()) return refuse(full);
  v1::ThreadPosted posted;
  posted.set_thread_id(view->thread_id());
  if (event.has_status()) {
    const std::string& next = event.status().status();
    if (std::find(service::Statuses().begin(), service::Statuses().end(), next) == service::Statuses().end()) {
      return refuse("unknown status '" + crypto::EscapeForDisplay(next) + "' (one of " + Joined(service::Statuses()) +
                    ")");
    }
    if (!service::IsAllowedChange(view->status(), next)) {
      const auto allowed = service::AllowedChanges(view->status());
      return refuse("thread " + view->thread_id() + " is " + view->status() + ": it " +
                    (allowed.empty() ? std::string("is closed") : "can go to " + Joined(allowed)) + ", not " + next);
    }
    if (next == "formally-submitted" && !view->missing().empty()) {
      // Said before the request leaves: refused unless forced, and then sent with the list.
      std::vector<std::string> missing(view->missing().begin(), view->missing().end());
      if (!force) {
        return refuse("thread " + view->thread_id() + " lacks, for a complete " + view->kind() + " request: " +
                      Joined(missing) + "; submit anyway with --force");
      }
      for (const std::string& m : missing) posted.add_warnings("missing for a complete " + view->kind() + " request: " + m);
    }
  }
  if (event.has_draft()) {
    event.mutable_draft()->set_version(view->drafts() + 1);
    if (!force) {
      if (auto st = CheckLanguage(to, language.empty() ? view->language() : language); !st) {
        return refuse(st.error().message);
      }
    }
  }
  event.set_format(1);
  event.set_thread_id(view->thread_id());
  if (!view->events().empty()) event.add_parents(view->events(view->events_size() - 1).message_id());
  if (auto st = service::CheckEvent(event); !st) return refuse(st.error().message);
  const std::uint32_t version = event.has_draft() ? event.draft().version() : 0;
  for (const v1::Party& p : to) posted.add_recipients(AddressOf(p));
  Queue({to, std::string(service::kThreadEventContentType), event.SerializeAsString(), 0, {}, *me},
        [reply, posted, version, what](Result<Bytes> id) mutable {
          if (!id) return reply(Refusal(what, id.error().message));
          posted.set_message_id(crypto::AsString(*id));
          posted.set_version(version);
          v1::ApiResponse r;
          *r.mutable_thread_posted() = std::move(posted);
          reply(std::move(r));
        });
}

void Node::ThreadShow(const v1::ThreadShowRequest& q, ApiServer::Reply reply) {
  auto view = FindThread(q.thread(), true);
  if (!view) return reply(Refusal("thread show", view.error().message));
  // Showing a thread is reading it: what others sent gets a read receipt, once.
  const std::vector<std::string> mine = MyAddresses();
  v1::ReadRequest read;
  for (const v1::ThreadEventView& ev : view->events()) {
    if (std::find(mine.begin(), mine.end(), ev.by()) != mine.end()) continue;
    bool already = false;
    for (const v1::ReceiptView& r : ev.receipts()) already = already || r.kind() == "read";
    if (!already) read.add_message_ids(ev.message_id());
  }
  // At most what one read receipt covers, the newest (the rest at the next showing).
  while (read.message_ids_size() > kMaxReceiptIds) read.mutable_message_ids()->erase(read.mutable_message_ids()->begin());
  if (read.message_ids().empty()) {
    v1::ApiResponse r;
    *r.mutable_thread() = std::move(view).value();
    return reply(std::move(r));
  }
  const std::string thread_id = view->thread_id();
  MarkRead(read, [this, thread_id, reply](v1::ApiResponse marked) {
    auto again = FindThread(thread_id, true);
    if (!marked.error().empty()) return reply(Refusal("thread show", marked.error()));
    if (!again) return reply(Refusal("thread show", again.error().message));
    v1::ApiResponse r;
    *r.mutable_thread() = std::move(again).value();
    reply(std::move(r));
  });
}

Result<v1::ThreadListResponse> Node::ThreadList(const v1::ThreadListRequest& q) {
  if (!q.status().empty() &&
      std::find(service::Statuses().begin(), service::Statuses().end(), q.status()) == service::Statuses().end()) {
    return MakeError("unknown status '" + crypto::EscapeForDisplay(q.status()) + "' (one of " +
                     Joined(service::Statuses()) + ")");
  }
  auto threads = p_.archive->Threads();
  if (!threads) return MakeError(threads.error().message);
  v1::ThreadListResponse out;
  out.set_now(p_.now());
  for (const archive::ThreadRecord& t : *threads) {
    v1::ThreadView v;
    if (t.summary.empty() || !v.ParseFromArray(t.summary.data(), static_cast<int>(t.summary.size()))) continue;
    if (!q.status().empty() && v.status() != q.status()) continue;
    if (q.waiting_on_me() && !v.waiting_on_me()) continue;
    *out.add_threads() = std::move(v);
  }
  return out;
}

Result<v1::DraftsResponse> Node::Drafts(const v1::DraftsRequest& q) {
  auto view = FindThread(q.thread(), false);
  if (!view) return view.error();
  if (q.versions().empty() || q.versions_size() > 16) return MakeError("give 1 to 16 versions");
  v1::DraftsResponse out;
  for (std::uint32_t version : q.versions()) {
    const v1::ThreadEventView* found = nullptr;
    for (const v1::ThreadEventView& ev : view->events()) {
      if (ev.kind() == "draft" && ev.version() == version) found = &ev;
    }
    if (found == nullptr) {
      return MakeError("thread " + view->thread_id() + " has no draft v" + std::to_string(version) + " (it has " +
                       std::to_string(view->drafts()) + ")");
    }
    auto m = p_.archive->GetMessage(crypto::ToBytes(found->message_id()));
    if (!m) return MakeError(m.error().message);
    v1::ThreadEvent e;
    if (!*m || !e.ParseFromArray((*m)->content.data(), static_cast<int>((*m)->content.size()))) {
      return MakeError("draft v" + std::to_string(version) + " is no longer in the archive");
    }
    v1::DraftContent* d = out.add_drafts();
    d->set_version(version);
    d->set_name(e.draft().name());
    d->set_media_type(e.draft().media_type());
    d->set_content(e.draft().content());
  }
  return out;
}

void Node::QueueWithFiles(Outgoing message, std::vector<std::string> paths,
                          std::function<void(Result<Bytes>)> done, ProgressFn progress) {
  if (paths.empty()) return Queue(std::move(message), std::move(done));
  const std::string dir = p_.archive->blob_dir();
  const std::uint64_t limit = p_.settings.max_attachment_bytes;
  std::lock_guard<std::mutex> lock(workers_mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (!it->done->load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = workers_.erase(it);
  }
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto work = [this, message = std::move(message), paths = std::move(paths), done, dir, limit,
               progress = std::move(progress), finished]() mutable {
    std::uint64_t total = 0, before = 0;
    for (const std::string& path : paths) {
      struct stat st{};
      if (::stat(path.c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_size);
    }
    // At most five reports a second (the first at once), on the node's thread.
    std::optional<std::chrono::steady_clock::time_point> last;
    std::function<void(std::uint64_t)> on_read;
    if (progress) {
      on_read = [this, &progress, &before, &last, total](std::uint64_t read) {
        const auto now = std::chrono::steady_clock::now();
        if (last && now - *last < std::chrono::milliseconds(200)) return;  // the first at once
        last = now;
        boost::asio::post(io_, [progress, done = before + read, total] { progress(done, total); });
      };
    }
    std::vector<OutgoingFile> prepared;
    std::optional<Error> failure;
    for (const std::string& path : paths) {
      auto f = PrepareFile(path, dir, "application/octet-stream", limit, on_read);
      if (f) before += f->record.size;
      if (!f) {
        failure = f.error();
        break;
      }
      prepared.push_back(std::move(f).value());
    }
    if (failure) {
      for (const OutgoingFile& f : prepared) ::unlink(f.stream_path.c_str());
    } else {
      message.files = std::move(prepared);
    }
    boost::asio::post(io_, [this, message = std::move(message), done = std::move(done), failure]() mutable {
      if (failure) return done(*failure);
      Queue(std::move(message), std::move(done));
    });
    finished->store(true);
  };
  try {
    workers_.push_back({std::thread(std::move(work)), finished});
  } catch (const std::system_error& e) {
    done(MakeError(std::string("cannot start a thread to encrypt the attachments: ") + e.what()));
  }
}

void Node::NoticeSend(const v1::NoticeSendRequest& q, bool with_progress, ApiServer::Reply reply) {
  auto refuse = [&](const std::string& why) { reply(Refusal("notice send", why)); };
  if (q.to().empty() == q.network().empty()) return refuse("give the recipients (--to) or a network (--network), not both");
  std::vector<v1::Party> to;
  std::optional<v1::Party> from;
  const std::int64_t now = p_.now();
  if (!q.network().empty()) {
    auto all = NetworkRecipients(q.network(), p_.trust, p_.parties, now);
    if (!all) return refuse(all.error().message);
    to = std::move(all).value();
    for (const v1::Party& mine : p_.parties) {
      if (mine.network_id() == q.network()) from = mine;
    }
  } else {
    std::set<std::string> seen;
    for (const std::string& item : q.to()) {
      auto party = ResolveParty(item, p_.trust, p_.parties);
      if (!party) return refuse(party.error().message);
      if (!seen.insert(AddressOf(*party)).second) continue;
      auto cert = p_.trust.FindMember(*party, now);
      if (!cert) return refuse("recipient " + AddressOf(*party) + ": " + cert.error().message);
      to.push_back(*party);
    }
  }
  v1::Notice n;
  n.set_format(1);
  n.set_subject(q.subject());
  n.set_body(q.body());
  n.set_confidential(q.confidential());
  n.set_use_restriction(q.use_restriction());
  const std::string content = n.SerializeAsString();
  if (auto st = CheckWorkflowContent(std::string(service::kNoticeContentType), content); !st) {
    return refuse(st.error().message);
  }
  if (q.attach_size() > crypto::kMaxFiles) return refuse("at most " + std::to_string(crypto::kMaxFiles) + " attachments");
  std::vector<std::string> paths;
  for (const std::string& path : q.attach()) {
    if (path.empty() || path[0] != '/') return refuse("an attachment's path must be absolute: " + crypto::EscapeForDisplay(path));
    struct stat st{};
    if (::access(path.c_str(), R_OK) != 0 || ::stat(path.c_str(), &st) != 0) {
      return refuse("cannot read " + crypto::EscapeForDisplay(path));
    }
    // A device or a pipe has no size to check against the limit, and may never end.
    if (!S_ISREG(st.st_mode)) return refuse(crypto::EscapeForDisplay(path) + " is not a regular file");
    paths.push_back(path);
  }
  ProgressFn progress;
  if (with_progress) {
    progress = [reply](std::uint64_t done, std::uint64_t total) {
      v1::ApiResponse r;
      r.mutable_progress()->set_done(done);
      r.mutable_progress()->set_total(total);
      reply(std::move(r));
    };
  }
  QueueWithFiles({to, std::string(service::kNoticeContentType), content, 0, {}, from}, std::move(paths),
                 [this, reply](Result<Bytes> id) {
                   if (!id) return reply(Refusal("notice send", id.error().message));
                   auto n = p_.archive->NoticeOfMessage(*id);
                   if (!n || !*n) return reply(Refusal("notice send", "sent, but its record cannot be read back"));
                   v1::ApiResponse r;
                   *r.mutable_notice() = NoticeViewOf(**n, true);
                   reply(std::move(r));
                 },
                 std::move(progress));
}

Result<v1::NoticeListResponse> Node::NoticeList() {
  auto all = p_.archive->Notices();
  if (!all) return MakeError(all.error().message);
  v1::NoticeListResponse out;
  for (const archive::NoticeRecord& n : *all) *out.add_notices() = NoticeViewOf(n, false);
  return out;
}

namespace {

// Writes a readable notice's attachments into `dir` under their names, each through a
// temporary file and a link that never replaces an existing one.
Status<> SaveAttachments(archive::Archive& archive, v1::NoticeView& v, const std::string& dir) {
  if (dir.empty() || dir[0] != '/') return MakeError("save_to must be an absolute directory");
  for (const v1::AttachmentView& a : v.attachments()) {
    const std::string target = dir + "/" + a.name();
    if (::access(target.c_str(), F_OK) == 0) return MakeError(crypto::EscapeForDisplay(target) + " exists");
  }
  for (const v1::AttachmentView& a : v.attachments()) {
    const auto hash = crypto::FromHex(a.content_hash());
    const std::string target = dir + "/" + a.name();
    std::string tmp = dir + "/.comity-save-XXXXXX";
    const int fd = hash ? ::mkstemp(tmp.data()) : -1;
    if (fd < 0) return MakeError("cannot write in " + crypto::EscapeForDisplay(dir) + ": " + std::strerror(errno));
    ::close(fd);
    bool ok;
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      ok = archive.ReadAttachment(*hash, out).ok() && out.flush().good();
    }
    const int sync_fd = ok ? ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    ok = ok && sync_fd >= 0 && ::fsync(sync_fd) == 0;
    if (sync_fd >= 0) ::close(sync_fd);
    ok = ok && ::link(tmp.c_str(), target.c_str()) == 0;
    ::unlink(tmp.c_str());
    if (!ok) return MakeError("cannot save " + crypto::EscapeForDisplay(target));
    v.add_saved(target);
  }
  return {};
}

}  // namespace

Result<v1::NoticeView> Node::NoticeShow(std::uint64_t number, const std::string& save_to) {
  auto n = p_.archive->GetNotice(static_cast<std::int64_t>(number));
  if (!n) return MakeError(n.error().message);
  if (!*n) return MakeError("no notice " + std::to_string(number) + " (comity notice list shows them)");
  // A received notice opens only once its conditions are accepted.
  v1::NoticeView v = NoticeViewOf(**n, (*n)->direction == "out" || (*n)->accepted_at != 0);
  if (auto st = AddReceipts(*p_.archive, (*n)->message_id, v.mutable_receipts()); !st) return st.error();
  if (!save_to.empty()) {
    if ((*n)->direction == "in" && (*n)->accepted_at == 0) {
      return MakeError("notice " + std::to_string(number) + "'s conditions are not accepted: nothing opens yet");
    }
    if (auto st = SaveAttachments(*p_.archive, v, save_to); !st) return st.error();
  }
  return v;
}

void Node::NoticeAccept(const v1::NoticeAcceptRequest& q, ApiServer::Reply reply) {
  auto refuse = [&](const std::string& why) { reply(Refusal("notice accept", why)); };
  auto n = p_.archive->GetNotice(static_cast<std::int64_t>(q.number()));
  if (!n) return refuse(n.error().message);
  if (!*n) return refuse("no notice " + std::to_string(q.number()) + " (comity notice list shows them)");
  if ((*n)->direction != "in") return refuse("notice " + std::to_string(q.number()) + " was sent by this node");
  const std::uint64_t number = q.number();
  auto show = [this, number, reply, save_to = q.save_to()] {
    v1::ApiResponse r;
    auto v = NoticeShow(number, save_to);
    if (!v) return reply(Refusal("notice accept", v.error().message));
    *r.mutable_notice() = std::move(v).value();
    reply(std::move(r));
  };
  if ((*n)->accepted_at != 0) return show();
  if (accepting_.count(number) != 0) return refuse("notice " + std::to_string(number) + " is being accepted already");
  auto m = p_.archive->GetMessage((*n)->message_id);
  v1::Notice notice;
  if (!m || !*m || !notice.ParseFromArray((*m)->content.data(), static_cast<int>((*m)->content.size()))) {
    return refuse("notice " + std::to_string(number) + " is no longer in the archive");
  }
  const auto sender = PartyOfAddress((*n)->sender);
  std::optional<v1::Party> reader;
  const std::vector<std::string> recipients = SplitAddresses((*m)->recipients);
  for (const v1::Party& mine : p_.parties) {
    if (std::find(recipients.begin(), recipients.end(), AddressOf(mine)) != recipients.end()) reader = mine;
  }
  if (!sender || !reader) return refuse("notice " + std::to_string(number) + " names no member of this node");
  const std::int64_t now = p_.now();
  const Bytes id = (*n)->message_id;
  const std::string body = notice.body();
  Defer(
      [this, number, now, body, id, sender = *sender, reader = *reader]() -> archive::ArchiveStatus {
        if (auto st = p_.archive->AcceptNotice(static_cast<std::int64_t>(number), now, body); !st) return st;
        // Accepting is agreeing to the conditions and then reading: both are receipted.
        QueueReceipt(std::string(kConditionsAccepted), reader, &sender, nullptr, id);
        QueueReceipt("read", reader, &sender, nullptr, id);
        return p_.archive->Audit(now, AddressOf(reader), "accept-conditions",
                                 "notice " + std::to_string(number) + " (" + ShortMessageId(id) + ") from " +
                                     AddressOf(sender));
      },
      [this, number, show] {
        accepting_.erase(number);
        show();
      },
      [this, number, reply](const std::string& why) {
        accepting_.erase(number);
        reply(Refusal("notice accept", "archiving failed: " + why));
      });
  accepting_.insert(number);
  ScheduleFlush();
}

Result<v1::ExportResponse> Node::Export(const v1::ExportRequest& q) {
  auto view = FindThread(q.thread(), false);
  if (!view) return view.error();
  const std::vector<std::string> mine = MyAddresses();
  std::optional<v1::Party> exporter;
  std::set<std::string> networks;
  for (const std::string& p : view->participants()) {
    auto party = PartyOfAddress(p);
    if (!party) continue;
    networks.insert(party->network_id());
    if (!exporter && std::find(mine.begin(), mine.end(), p) != mine.end()) exporter = *party;
  }
  if (!exporter) return MakeError("this node takes no part in thread " + view->thread_id());
  auto messages = p_.archive->ThreadMessages(view->thread_id());
  if (!messages) return MakeError(messages.error().message);
  v1::EvidenceBundle bundle;
  bundle.set_format(1);
  bundle.set_thread_id(view->thread_id());
  *bundle.mutable_exporter() = *exporter;
  bundle.set_exported_at(p_.now());
  std::set<std::string> receipts;
  for (const archive::MessageRecord& m : *messages) {
    if (m.content_type != service::kThreadEventContentType) continue;
    if (m.content_key.empty()) {
      return MakeError("message " + ShortMessageId(m.message_id) +
                       " was archived before this node kept content keys: it cannot be disclosed");
    }
    v1::DisclosedEnvelope* d = bundle.add_envelopes();
    d->set_envelope(Canonical(crypto::AsString(m.envelope)));
    d->set_content_key(crypto::AsString(m.content_key));
    if (auto sender = PartyOfAddress(m.sender)) networks.insert(sender->network_id());
    auto rs = p_.archive->Receipts(m.message_id);
    if (!rs) return MakeError(rs.error().message);
    for (const archive::ReceiptRecord& r : *rs) {
      const std::string receipt = Canonical(crypto::AsString(r.signed_receipt));
      if (r.signed_receipt.empty() || !receipts.insert(receipt).second) continue;
      *bundle.add_receipts() = receipt;
      v1::Signed s;
      v1::Receipt body;
      if (s.ParseFromString(crypto::AsString(r.signed_receipt)) && body.ParseFromString(s.body())) {
        networks.insert(body.signer().network_id());  // a relay may be of another network
      }
    }
  }
  // Every roster version held of the networks concerned, and of this node's own networks (whose
  // bridges reach the others), so that any of their roots verifies the bundle.
  for (const v1::Party& p : p_.parties) networks.insert(p.network_id());
  std::set<std::string> rosters;
  for (const std::string& network : networks) {
    auto held = p_.archive->Rosters(network);
    if (!held) return MakeError(held.error().message);
    std::vector<std::string> all;
    for (const Bytes& r : *held) all.push_back(crypto::AsString(r));
    if (const crypto::TrustedNetworkView* net = p_.trust.network(network); net && net->roster) {
      all.push_back(net->roster->signed_roster.SerializeAsString());
    }
    for (std::string& r : all) {
      r = Canonical(r);
      if (rosters.insert(r).second) *bundle.add_rosters() = std::move(r);
    }
  }
  v1::ExportResponse out;
  out.set_thread_id(view->thread_id());
  out.set_envelopes(static_cast<std::uint32_t>(bundle.envelopes_size()));
  out.set_receipts(static_cast<std::uint32_t>(bundle.receipts_size()));
  out.set_rosters(static_cast<std::uint32_t>(bundle.rosters_size()));
  out.set_bundle(service::SignBundle(p_.identity, bundle));
  if (out.bundle().size() > service::kMaxBundleBytes) {
    return MakeError("the bundle would be larger than " + std::to_string(service::kMaxBundleBytes >> 20) + " MiB");
  }
  // What is written is what verifies: checked as a verifier will, under this node's first root.
  const crypto::TrustedNetworkView* own = p_.trust.network(p_.parties.front().network_id());
  if (own != nullptr) {
    v1::RootKey root;
    root.set_format(1);
    root.set_network_id(own->network_id);
    root.set_root_key(crypto::AsString(own->root_key));
    if (auto verified = service::VerifyBundle(out.bundle(), root, p_.now()); !verified) {
      return MakeError("the bundle would not verify: " + verified.error().message);
    }
  }
  if (auto st = p_.archive->Batch([&] {
        return p_.archive->Audit(p_.now(), AddressOf(*exporter), "export",
                                 "thread " + view->thread_id() + ": " + std::to_string(out.envelopes()) + " envelopes");
      });
      !st) {
    return MakeError("archiving the export's audit entry failed: " + st.error().message);
  }
  return out;
}

Result<v1::StatsResponse> Node::Stats() {
  auto threads = p_.archive->Threads();
  if (!threads) return MakeError(threads.error().message);
  std::map<std::string, std::uint32_t> by_kind, by_basis, by_status;
  std::vector<double> to_agreement, to_execution;
  v1::StatsResponse out;
  for (const archive::ThreadRecord& t : *threads) {
    v1::ThreadView v;
    if (t.summary.empty() || !v.ParseFromArray(t.summary.data(), static_cast<int>(t.summary.size()))) continue;
    out.set_threads(out.threads() + 1);
    Count(by_kind, v.kind());
    Count(by_basis, v.legal_basis());
    Count(by_status, v.status());
    if (v.agreed_at() != 0) to_agreement.push_back(static_cast<double>(v.agreed_at() - v.opened_at()) / 86400.0);
    if (v.executed_at() != 0) to_execution.push_back(static_cast<double>(v.executed_at() - v.opened_at()) / 86400.0);
  }
  PutCounts(by_kind, out.mutable_by_kind());
  PutCounts(by_basis, out.mutable_by_legal_basis());
  PutCounts(by_status, out.mutable_by_status());
  out.set_agreed(static_cast<std::uint32_t>(to_agreement.size()));
  out.set_median_days_to_agreement(Median(to_agreement));
  out.set_executed(static_cast<std::uint32_t>(to_execution.size()));
  out.set_median_days_to_execution(Median(to_execution));
  auto notices = p_.archive->Notices();
  if (!notices) return MakeError(notices.error().message);
  for (const archive::NoticeRecord& n : *notices) {
    if (n.direction == "out") {
      out.set_notices_sent(out.notices_sent() + 1);
    } else {
      out.set_notices_received(out.notices_received() + 1);
      if (n.accepted_at != 0) out.set_notices_accepted(out.notices_accepted() + 1);
    }
  }
  return out;
}

}  // namespace comity::node
