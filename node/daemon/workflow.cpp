#include "node/daemon/workflow.h"

#include "crypto/trust.h"
#include "node/daemon/send.h"

namespace comity::node {
namespace {

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

Status<> CheckAgainstArchive(archive::Archive& archive, const std::string& content_type, const std::string& content) {
  if (content_type != service::kThreadEventContentType) return {};
  v1::ThreadEvent e;
  if (!e.ParseFromString(content) || !e.has_opened()) return {};
  auto held = archive.GetThread(e.thread_id());
  if (!held) return MakeError("reading the archive failed: " + held.error().message);
  if (*held) return MakeError("thread " + e.thread_id() + " was opened already");
  return {};
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
                                                                     const std::string& thread_uid) {
  auto messages = archive.ThreadMessages(thread_uid);
  if (!messages) return messages.error();
  std::vector<service::ThreadItem> items;
  for (const archive::MessageRecord& m : *messages) {
    if (m.content_type != service::kThreadEventContentType) continue;
    service::ThreadItem item{m.message_id, m.sender, m.created_at, {}};
    if (!item.event.ParseFromArray(m.content.data(), static_cast<int>(m.content.size()))) continue;
    items.push_back(std::move(item));
  }
  return items;
}

archive::ArchiveResult<v1::ThreadView> LoadThread(archive::Archive& archive, const std::string& thread_uid,
                                                  const std::vector<std::string>& mine) {
  auto items = ThreadItems(archive, thread_uid);
  if (!items) return items.error();
  return service::FoldThread(std::move(items).value(), mine);
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
  auto view = LoadThread(archive, e.thread_id(), mine);
  if (!view) return view.error();
  std::uint32_t version = 0;
  for (const v1::ThreadEventView& ev : view->events()) {
    if (ev.message_id() == crypto::AsString(m.message_id)) version = ev.version();
  }
  v1::ThreadView summary = *view;
  summary.clear_events();
  archive::ThreadRecord t;
  t.thread_uid = e.thread_id();
  t.subject = view->subject();
  t.kind = view->kind();
  t.status = view->status();
  t.created_at = view->opened_at() != 0 ? view->opened_at() : m.created_at;
  t.updated_at = view->last_at();
  t.summary = crypto::ToBytes(summary.SerializeAsString());
  if (auto st = archive.PutThread(t); !st) return st;
  if (!e.has_draft()) return {};
  // The fold numbers drafts by message id; one that arrives after a later one (two sides
  // drafting at once) takes the next free number in the index.
  auto drafts = archive.Drafts(t.thread_uid);
  if (!drafts) return drafts.error();
  std::int64_t number = version;
  for (const archive::DraftVersion& d : *drafts) {
    if (d.version >= number) number = std::max<std::int64_t>(number, d.version + 1);
  }
  const std::string& content = e.draft().content();
  archive::DraftVersion d{t.thread_uid, number, m.message_id, m.sender,
                          IsText(e.draft().media_type(), content) ? content : e.draft().name(), m.created_at};
  return archive.AddDraft(d);
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
