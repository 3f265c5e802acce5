// Draft-request threads (docs/PROTOCOL.md §11): the judicial vocabulary (request kinds,
// statuses and the changes allowed between them, the completeness checklists) and the fold
// that turns a thread's events, in any order of arrival, into one view. Both ends of a
// thread, and an offline verifier of an evidence bundle, fold the same events to the same
// view. Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "crypto/sodium.h"
#include "proto/api.pb.h"
#include "proto/content.pb.h"

namespace comity::service {

inline constexpr std::string_view kThreadEventContentType = "application/vnd.comity.thread-event";
inline constexpr std::string_view kNoticeContentType = "application/vnd.comity.notice";
inline constexpr std::size_t kMaxDraftBytes = std::size_t{8} << 20;
inline constexpr std::size_t kMaxSubjectBytes = 200;
inline constexpr std::size_t kMaxLegalBasisBytes = 200;
inline constexpr std::size_t kMaxCommentBytes = 65536;
inline constexpr std::size_t kMaxNoteBytes = 2000;
inline constexpr std::size_t kMaxNoticeBodyBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxUseRestrictionBytes = 2000;

// The request kinds and statuses, in the order people read them.
const std::vector<std::string>& RequestKinds();
const std::vector<std::string>& Statuses();
// The legal bases offered as suggestions (any free text is accepted).
const std::vector<std::string>& SuggestedLegalBases();
// Whether a thread may go from `from` to `to` (the state machine of §11.3).
bool IsAllowedChange(const std::string& from, const std::string& to);
// The statuses reachable from `from`, for an error message.
std::vector<std::string> AllowedChanges(const std::string& from);
bool IsFinalStatus(const std::string& status);

// Checks an event's fields against §11.1 (lengths, kinds, statuses, dates, ids). An event
// that breaks them is refused by the receiver like a malformed envelope.
Status<> CheckEvent(const v1::ThreadEvent& event);
// YYYY-MM-DD, a real calendar date.
bool IsValidDate(std::string_view date);
// 16 lower-case hex digits.
bool IsValidThreadId(std::string_view id);
std::string NewThreadId();

// One event as archived: who sent it, when (the envelope's created_at) and its id.
struct ThreadItem {
  crypto::Bytes message_id;
  std::string sender;  // MEMBER@NETWORK
  std::int64_t created_at = 0;
  v1::ThreadEvent event;
  // A draft whose content was left out to fold in bounded memory: its size (the fold then
  // cannot check the newest draft's completeness; see LoadThread).
  std::uint64_t draft_size = 0;
};

// Limits of one thread, refused at receipt and when sending (a peer cannot make a node fold
// an unbounded thread).
inline constexpr int kMaxThreadEvents = 2000;
inline constexpr int kMaxThreadDrafts = 200;

// Folds a thread's events (any order of arrival) into its view. The order is causal: by
// creation time (the message id's first bytes), the opening first within a second, never an
// event before a parent it names, then by message id. The opening is the first opened event
// sent by the first participant it lists; until it is there nothing is folded but in the
// order given. From it on: metadata from it, drafts numbered 1, 2, ... in order, each status
// change applied when allowed from the status before it. Ignored: events of other threads,
// events before the opening, events from members the opening does not name, any other opened
// event, and an event other than the opening that names no parent, or a parent that is not
// among the events folded (it waits until that parent is there). `mine` are this node's
// addresses (for waiting_on_me). Draft contents are not copied
// into the view (only name, type, size). ThreadView.missing lists the completeness items the
// newest text draft lacks.
v1::ThreadView FoldThread(std::vector<ThreadItem> items, const std::vector<std::string>& mine);

// The completeness checklist of a request kind (§11.4) applied to a draft text and the
// thread's metadata: the items missing, in words a magistrate reads.
std::vector<std::string> MissingItems(const std::string& kind, const std::string& legal_basis,
                                      std::string_view draft_text);

}  // namespace comity::service
