// The judicial workflow in the archive (docs/PROTOCOL.md §11): what storing a thread event or
// a notice writes besides the message itself, in the same transaction (the thread's folded
// view, its draft's search entry, the notice's row), and reading a thread back as its view.
// Used by Node on its thread, inside Archive::Batch for the writes.
#pragma once

#include <string>
#include <vector>

#include "crypto/result.h"
#include "node/archive/archive.h"
#include "node/service/thread.h"
#include "proto/api.pb.h"
#include "proto/trust.pb.h"

namespace comity::node {

// Whether a message of this content type is part of the workflow.
bool IsWorkflowContent(const std::string& content_type);
// Checks a received workflow message's content (a thread event per service::CheckEvent, a
// notice's fields). Anything else passes.
Status<> CheckWorkflowContent(const std::string& content_type, const std::string& content);
// What a received thread event must agree with (docs/PROTOCOL.md §11): dated inside its
// sender's certificate and not in the future, not before a parent it names; an opening not of
// a thread this node holds opened already; a thread not at its limits. `defer` when a parent
// it names is not here yet (the sender's retry brings it again later).
struct Verdict {
  std::string refusal;  // empty: accepted (unless deferred)
  bool defer = false;
};
Verdict CheckAgainstArchive(archive::Archive& archive, const std::string& content_type, const std::string& content,
                            std::int64_t created_at, const v1::Certificate& sender, std::int64_t now);
// The same limits for an event this node sends to `view` (empty: within them).
std::string ThreadFull(const v1::ThreadView& view, bool draft);
// Fills in what a received workflow message is filed and indexed under (thread, subject,
// body): a notice's body is not indexed before its conditions are accepted.
void FileWorkflowMessage(archive::MessageRecord& m);

// After AddMessage(m) in the same batch: folds m's thread and stores the view, indexes a
// draft; records a notice (with `files`, its attachments). `mine`: this node's addresses.
archive::ArchiveStatus RecordWorkflow(archive::Archive& archive, const archive::MessageRecord& m,
                                      const std::vector<std::string>& mine,
                                      const std::vector<v1::AttachmentView>& files);

// A thread's view folded from its archived messages, without receipts.
archive::ArchiveResult<v1::ThreadView> LoadThread(archive::Archive& archive, const std::string& thread_uid,
                                                  const std::vector<std::string>& mine);
// The ThreadItems of a thread's archived messages (events that do not parse are skipped);
// without `draft_contents` drafts come with their size only.
archive::ArchiveResult<std::vector<service::ThreadItem>> ThreadItems(archive::Archive& archive,
                                                                     const std::string& thread_uid,
                                                                     bool draft_contents);

v1::AttachmentView AttachmentViewOf(const std::string& name, std::uint64_t size, const crypto::Bytes& content_hash);

// A notice as the API shows it; the body and attachments only when `whole`.
v1::NoticeView NoticeViewOf(const archive::NoticeRecord& n, bool whole);

}  // namespace comity::node
