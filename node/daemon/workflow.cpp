#include "node/daemon/workflow.h"

#include <algorithm>
#include <set>

#include "crypto/trust.h"
#include "node/daemon/send.h"

namespace comity::node {
namespace {

using crypto::Bytes;

bool IsText(const std::string& media_type, const std::string& content) {
  return media_type.rfind("text/", 0) == 0 && IsUtf8(content);
}

Status<> CheckNotice(const v1::Notice& n) {
  if (n.format() != 1) return MakeError("notice format " + std::to_string(n.format()) + " is not 1");
  if (n.subject().empty() || n.subject().size() > service::kMaxSubjectBytes || !crypto::IsPrintableUtf8(n.subject())) {
    return MakeError("a notice's subject must be 1 to 200 bytes of printable text");
  }
  if (n.body().size() > service::kMaxNoticeBodyBytes || !crypto::IsPrintableText(n.body())) {
    return MakeError("a notice's body must be at most 1 MiB of text");
  }
  if (n.use_restriction().size() > service::kMaxUseRestrictionBytes || !crypto::IsPrintableText(n.use_restriction())) {
    return MakeError("a use restriction must be at most 2000 bytes of text");
  }
  return {};
}

}  // namespace

bool IsWorkflowContent(const std::string& content_type) {
  return content_type == service::kThreadEventContentType || content_type == service::kNoticeContentType;
}

Status<> CheckWorkflowContent(const std::string& content_type, const std::string& content) {
  if (content_type == service::kThreadEventContentType) {
    v1::ThreadEvent e;
    if (!e.ParseFromString(content)) return MakeError("a thread event that does not parse");
    return service::CheckEvent(e);
  }
  if (content_type == service::kNoticeContentType) {
    v1::Notice n;
    if (!n.ParseFromString(content)) return MakeError("a notice that does not parse");
    return CheckNotice(n);
  }
  return {};
}

std::string ThreadFull(const v1::ThreadView& view, bool draft) {
  if (view.event_count() >= static_cast<std::uint32_t>(service::kMaxThreadEvents)) {
    return "thread " + view.thread_id() + " has " + std::to_string(service::kMaxThreadEvents) +
           " events, the most a thread holds: open a new one";
  }
  if (draft && view.drafts() >= static_cast<std::uint32_t>(service::kMaxThreadDrafts)) {
    return "thread " + view.thread_id() + " has " + std::to_string(service::kMaxThreadDrafts) +
           " drafts, the most a thread holds: open a new one";
  }
  return "";
}

Verdict CheckAgainstArchive(archive::Archive& archive, const std::string& content_type, const std::string& content,
                            std::int64_t created_at, const v1::Certificate& sender, std::int64_t now) {
  if (content_type != service::kThreadEventContentType) return {};
  v1::ThreadEvent e;
  if (!e.ParseFromString(content)) return {};
  if (created_at > now + crypto::kMaxClockSkewSeconds) return {"the event is dated in the future", false};
  if (created_at < sender.not_before() || created_at >= sender.not_after()) {
    return {"the event is dated outside its sender's certificate", false};
  }
  for (const std::string& parent : e.parents()) {
    std::int64_t parent_at = 0;  // a message id begins with its created_at (§6.3)
    for (int i = 0; i < 8; ++i) parent_at = (parent_at << 8) | static_cast<unsigned char>(parent[i]);
    if (parent_at > created_at) return {"the event is dated before an event it answers", false};
    auto seen = archive.Seen(crypto::AsBytes(parent));
    if (!seen) return {"reading the archive failed: " + seen.error().message, false};
    if (!*seen) return {"", true};
  }
  auto held = archive.GetThread(e.thread_id());
  if (!held) return {"reading the archive failed: " + held.error().message, false};
  if (!*held) return {};
  v1::ThreadView summary;
  if (!summary.ParseFromArray((*held)->summary.data(), static_cast<int>((*held)->summary.size()))) return {};
  if (e.has_opened() && !summary.opened_by().empty()) return {"thread " + e.thread_id() + " was opened already", false};
  return {ThreadFull(summary, e.has_draft()), false};
}

void FileWorkflowMessage(archive::MessageRecord& m) {
  if (m.content_type != service::kThreadEventContentType) return;
  v1::ThreadEvent e;
  if (!e.ParseFromArray(m.content.data(), static_cast<int>(m.content.size()))) return;
  m.thread_uid = e.thread_id();
  m.subject.clear();
  m.body.clear();
  if (e.has_opened()) {
    m.subject = e.opened().subject();
    m.body = e.opened().legal_basis();
  } else if (e.has_comment()) {
    m.body = e.comment().text();
  } else if (e.has_status()) {
    m.body = e.status().note();
  } else if (e.has_draft()) {
    m.body = e.draft().note();  // the draft's text is indexed as the draft (RecordWorkflow)
  }
}

archive::ArchiveResult<std::vector<service::ThreadItem>> ThreadItems(archive::Archive& archive,
                                                                     const std::string& thread_uid,
                                                                     bool draft_contents) {
  std::vector<service::ThreadItem> items;
  auto st = archive.EachThreadMessage(thread_uid, false, [&](archive::MessageRecord m) {
    if (m.content_type != service::kThreadEventContentType) return;
    service::ThreadItem item{m.message_id, m.sender, m.created_at, {}, 0};
    if (!item.event.ParseFromArray(m.content.data(), static_cast<int>(m.content.size()))) return;
    if (!draft_contents && item.event.has_draft()) {
      item.draft_size = item.event.draft().content().size();
      item.event.mutable_draft()->clear_content();
    }
    items.push_back(std::move(item));
  });
  if (!st) return st.error();
  return items;
}

archive::ArchiveResult<v1::ThreadView> LoadThread(archive::Archive& archive, const std::string& thread_uid,
                                                  const std::vector<std::string>& mine) {
  // Folded without draft contents (a thread may hold 200 drafts of 8 MiB); the newest draft
  // is read alone for its completeness.
  auto items = ThreadItems(archive, thread_uid, false);
  if (!items) return items.error();
  v1::ThreadView view = service::FoldThread(std::move(items).value(), mine);
  for (int i = view.events_size() - 1; i >= 0; --i) {
    const v1::ThreadEventView& ev = view.events(i);
    if (ev.kind() != "draft") continue;
    if (ev.media_type().rfind("text/", 0) != 0) break;  // the fold said so already
    auto m = archive.GetMessage(crypto::ToBytes(ev.message_id()));
    if (!m) return m.error();
    v1::ThreadEvent e;
    if (*m && e.ParseFromArray((*m)->content.data(), static_cast<int>((*m)->content.size()))) {
      view.clear_missing();
      for (const std::string& item : service::MissingItems(view.kind(), view.legal_basis(), e.draft().content())) {
        view.add_missing(item);
      }
    }
    break;
  }
  return view;
}

archive::ArchiveStatus RecordWorkflow(archive::Archive& archive, const archive::MessageRecord& m,
                                      const std::vector<std::string>& mine,
                                      const std::vector<v1::AttachmentView>& files) {
  if (m.content_type == service::kNoticeContentType) {
    v1::Notice n;
    if (!n.ParseFromArray(m.content.data(), static_cast<int>(m.content.size()))) return {};
    archive::NoticeRecord r;
    r.message_id = m.message_id;
    r.sender = m.sender;
    r.subject = n.subject();
    r.body = m.direction == "out" ? n.body() : "";  // indexed once accepted (AcceptNotice)
    r.confidentiality = n.confidential() ? "confidential" : "";
    r.use_conditions = n.use_restriction();
    r.created_at = m.created_at;
    r.direction = m.direction;
    r.recipients = m.recipients;
    v1::NoticeView only_files;
    for (const v1::AttachmentView& f : files) *only_files.add_attachments() = f;
    r.files = crypto::ToBytes(only_files.SerializeAsString());
    return archive.AddNotice(r);
  }
  if (m.content_type != service::kThreadEventContentType) return {};
  v1::ThreadEvent e;
  if (!e.ParseFromArray(m.content.data(), static_cast<int>(m.content.size()))) return {};
  auto items = ThreadItems(archive, e.thread_id(), false);
  if (!items) return items.error();
  const v1::ThreadView view = service::FoldThread(*items, mine);
  // A thread exists here once its opening does (events before it wait in the archive).
  if (view.opened_by().empty()) return {};
  v1::ThreadView summary = view;
  summary.clear_events();
  archive::ThreadRecord t;
  t.thread_uid = e.thread_id();
  t.subject = view.subject();
  t.kind = view.kind();
  t.status = view.status();
  t.created_at = view.opened_at();
  t.updated_at = view.last_at();
  t.summary = crypto::ToBytes(summary.SerializeAsString());
  if (auto st = archive.PutThread(t); !st) return st;
  // Index every draft the fold took and the index lacks (this one, or ones that came before
  // the opening), under the fold's number, or the next free one when a draft that arrived
  // after a later one finds its number taken.
  auto drafts = archive.Drafts(t.thread_uid);
  if (!drafts) return drafts.error();
  std::set<Bytes> indexed;
  std::int64_t largest = 0;
  for (const archive::DraftVersion& d : *drafts) {
    indexed.insert(d.message_id);
    largest = std::max(largest, d.version);
  }
  for (const v1::ThreadEventView& ev : view.events()) {
    const Bytes id = crypto::ToBytes(ev.message_id());
    if (ev.kind() != "draft" || indexed.count(id) != 0) continue;
    auto message = archive.GetMessage(id);
    if (!message) return message.error();
    v1::ThreadEvent draft;
    if (!*message || !draft.ParseFromArray((*message)->content.data(), static_cast<int>((*message)->content.size()))) {
      continue;
    }
    const std::string& content = draft.draft().content();
    const std::int64_t number = ev.version() > largest ? ev.version() : largest + 1;
    largest = std::max(largest, number);
    archive::DraftVersion d{t.thread_uid, number, id, ev.by(),
                            IsText(draft.draft().media_type(), content) ? content : draft.draft().name(), ev.at()};
    if (auto st = archive.AddDraft(d); !st) return st;
  }
  return {};
}

v1::AttachmentView AttachmentViewOf(const std::string& name, std::uint64_t size, const crypto::Bytes& content_hash) {
  v1::AttachmentView v;
  v.set_name(name);
  v.set_size(size);
  v.set_content_hash(crypto::ToHex(content_hash));
  return v;
}

v1::NoticeView NoticeViewOf(const archive::NoticeRecord& n, bool whole) {
  v1::NoticeView v;
  v.set_number(static_cast<std::uint64_t>(n.number));
  v.set_message_id(crypto::AsString(n.message_id));
  v.set_direction(n.direction);
  v.set_sender(n.sender);
  for (const std::string& r : SplitAddresses(n.recipients)) v.add_recipients(r);
  v.set_subject(n.subject);
  v.set_confidential(n.confidentiality == "confidential");
  v.set_use_restriction(n.use_conditions);
  v.set_created_at(n.created_at);
  v.set_accepted(n.accepted_at != 0);
  v.set_accepted_at(n.accepted_at);
  v1::NoticeView files;
  (void)files.ParseFromArray(n.files.data(), static_cast<int>(n.files.size()));
  v.set_attachment_count(static_cast<std::uint32_t>(files.attachments_size()));
  if (whole) {
    v.set_body(n.body);
    *v.mutable_attachments() = files.attachments();
  }
  return v;
}

}  // namespace comity::node
