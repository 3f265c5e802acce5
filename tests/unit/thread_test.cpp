// Tests of node/service/thread: the fold of a thread's events into its view (metadata, draft
// numbering whatever the order of arrival, causal order within one second, the status
// machine, waiting_on_me, the completeness checklist), the judicial vocabulary, and
// CheckEvent's refusals and acceptances (docs/PROTOCOL.md §11).
#include "node/service/thread.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace comity::service {
namespace {

using crypto::Bytes;

constexpr const char* kThread = "0123456789abcdef";
constexpr const char* kOtherThread = "fedcba9876543210";
constexpr const char* kEs = "ES-MJ@IberRed";
constexpr const char* kSn = "SN-MJ@WACAP";
constexpr const char* kPt = "PT-PGR@IberRed";  // takes no part in the thread
constexpr std::int64_t kT0 = 1'790'000'000;

// A message id as crypto::MessageId makes one: created_at as 8 big-endian bytes, then 24
// bytes (here `tag`, so that a test picks which of two ids of the same second is smaller).
Bytes Id(std::int64_t created_at, std::uint8_t tag) {
  Bytes id(32, tag);
  for (int i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(created_at) >> (56 - 8 * i));
  return id;
}

v1::Party PartyOf(const std::string& member, const std::string& network) {
  v1::Party p;
  p.set_member_id(member);
  p.set_network_id(network);
  return p;
}

v1::ThreadEvent Base(const std::string& thread_id, const std::vector<Bytes>& parents) {
  v1::ThreadEvent e;
  e.set_format(1);
  e.set_thread_id(thread_id);
  for (const Bytes& p : parents) e.add_parents(crypto::AsString(p));
  return e;
}

v1::ThreadEvent Opened(const std::string& thread_id = kThread) {
  v1::ThreadEvent e = Base(thread_id, {});
  v1::ThreadOpened* o = e.mutable_opened();
  o->set_kind("mla");
  o->set_subject("Bank records of Acme SARL");
  o->set_legal_basis("UNTOC art. 18");
  o->set_language("en");
  o->set_urgent(true);
  o->set_deadline("2027-01-15");
  *o->add_participants() = PartyOf("ES-MJ", "IberRed");
  *o->add_participants() = PartyOf("SN-MJ", "WACAP");
  return e;
}

v1::ThreadEvent Draft(std::uint32_t claimed, const std::string& content, const std::vector<Bytes>& parents = {},
                      const std::string& media_type = "text/plain", const std::string& thread_id = kThread) {
  v1::ThreadEvent e = Base(thread_id, parents);
  v1::DraftPosted* d = e.mutable_draft();
  d->set_version(claimed);
  d->set_name("request-v" + std::to_string(claimed) + ".txt");
  d->set_media_type(media_type);
  d->set_content(content);
  d->set_note("note " + std::to_string(claimed));
  return e;
}

v1::ThreadEvent Comment(const std::string& text, const std::vector<Bytes>& parents = {},
                        const std::string& thread_id = kThread) {
  v1::ThreadEvent e = Base(thread_id, parents);
  e.mutable_comment()->set_text(text);
  return e;
}

v1::ThreadEvent StatusTo(const std::string& status, const std::vector<Bytes>& parents = {}) {
  v1::ThreadEvent e = Base(kThread, parents);
  e.mutable_status()->set_status(status);
  e.mutable_status()->set_note("now " + status);
  return e;
}

// The id most tests give their opening.
const Bytes kOpeningId = Id(kT0, 0x10);

// An archived event. One that names no parent is given the usual opening (kOpeningId) as its
// parent, as a node sending it would (every event but the opening names one); tests of other
// parents name them.
ThreadItem Item(const Bytes& id, const std::string& sender, v1::ThreadEvent event) {
  std::int64_t at = 0;
  for (int i = 0; i < 8; ++i) at = (at << 8) | id[i];
  if (!event.has_opened() && event.parents().empty()) event.add_parents(crypto::AsString(kOpeningId));
  return ThreadItem{id, sender, at, std::move(event), 0};
}

// Message ids in hex, so that a failure prints them legibly.
std::vector<std::string> Hex(const std::vector<Bytes>& ids) {
  std::vector<std::string> out;
  for (const Bytes& id : ids) out.push_back(crypto::ToHex(id));
  return out;
}

// The message ids of a view's events, in its order, in hex.
std::vector<std::string> IdsOf(const v1::ThreadView& view) {
  std::vector<std::string> out;
  for (const v1::ThreadEventView& ev : view.events()) out.push_back(crypto::ToHex(crypto::AsBytes(ev.message_id())));
  return out;
}

const v1::ThreadEventView* EventOf(const v1::ThreadView& view, const Bytes& id) {
  for (const v1::ThreadEventView& ev : view.events()) {
    if (ev.message_id() == crypto::AsString(id)) return &ev;
  }
  return nullptr;
}

const std::string kCompleteMla =
    "Summary of facts: Acme SARL moved funds.\n"
    "Offence: money laundering, art. 301 of the Penal Code.\n"
    "Measures requested: the records of account 123.\n"
    "Link between the offence and the evidence: the funds passed through it.\n"
    "Requesting authority: Juzgado Central de Instrucción n.º 5.\n";

const std::vector<std::string> kMlaItemsOfText = {
    "the requesting authority", "a summary of the facts", "the offence and the law that makes it one",
    "the measures requested", "the link between the offence and the evidence sought"};

// --- FoldThread ----------------------------------------------------------------------------

TEST(ThreadFold, TakesMetadataFromTheOpenedEvent) {
  const Bytes opened = Id(kT0, 0x10);
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened())}, {kEs});
  EXPECT_EQ(view.thread_id(), kThread);
  EXPECT_EQ(view.kind(), "mla");
  EXPECT_EQ(view.subject(), "Bank records of Acme SARL");
  EXPECT_EQ(view.legal_basis(), "UNTOC art. 18");
  EXPECT_EQ(view.language(), "en");
  EXPECT_TRUE(view.urgent());
  EXPECT_EQ(view.deadline(), "2027-01-15");
  EXPECT_EQ(view.opened_by(), kEs);
  EXPECT_EQ(view.opened_at(), kT0);
  ASSERT_EQ(view.participants_size(), 2);
  EXPECT_EQ(view.participants(0), kEs);
  EXPECT_EQ(view.participants(1), kSn);
  EXPECT_EQ(view.status(), "consultation");
  EXPECT_EQ(view.drafts(), 0u);
  EXPECT_EQ(view.last_at(), kT0);
  EXPECT_EQ(view.last_by(), kEs);
  EXPECT_EQ(view.agreed_at(), 0);
  EXPECT_EQ(view.executed_at(), 0);
  ASSERT_EQ(view.events_size(), 1);
  EXPECT_EQ(view.events(0).kind(), "opened");
  EXPECT_EQ(view.events(0).by(), kEs);
  EXPECT_EQ(view.events(0).at(), kT0);
  EXPECT_EQ(view.events(0).message_id(), crypto::AsString(opened));
}

TEST(ThreadFold, ASecondOpenedEventDoesNotChangeTheMetadata) {
  v1::ThreadEvent again = Opened();
  again.mutable_opened()->set_subject("Another subject");
  again.mutable_opened()->set_kind("extradition");
  const v1::ThreadView view =
      FoldThread({Item(Id(kT0 + 50, 0x01), kSn, again), Item(Id(kT0, 0x10), kEs, Opened())}, {kEs});
  EXPECT_EQ(view.subject(), "Bank records of Acme SARL");
  EXPECT_EQ(view.kind(), "mla");
  EXPECT_EQ(view.opened_by(), kEs);
  EXPECT_EQ(view.opened_at(), kT0);
  EXPECT_EQ(view.events_size(), 1) << "a second opening is not folded (nor shown) at all";
}

TEST(ThreadFold, AnEventWaitsForItsParents) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 10, 0x01), c = Id(kT0 + 20, 0x01), missing = Id(kT0 + 15, 0x77);
  // The comment names d1 and an event not held yet: it is not folded until both are.
  const v1::ThreadView view = FoldThread(
      {Item(opened, kEs, Opened()), Item(d1, kSn, Draft(1, "text", {opened})), Item(c, kEs, Comment("later", {d1, missing}))},
      {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened, d1}));
  EXPECT_EQ(view.event_count(), 2u);
}

TEST(ThreadFold, IgnoresEventsFromMembersTheOpeningDoesNotName) {
  const Bytes opened = Id(kT0, 0x10), intruder = Id(kT0 + 5, 0x01);
  const v1::ThreadView view =
      FoldThread({Item(opened, kEs, Opened()), Item(intruder, "XX-NOBODY@WACAP", StatusTo("agreed"))}, {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened}));
  EXPECT_EQ(view.status(), "consultation");
}

TEST(ThreadFold, AnOpeningSentByAnotherThanItsFirstParticipantIsNone) {
  // Sent by SN-MJ, but naming ES-MJ as the opener: not the thread's opening.
  const v1::ThreadView view = FoldThread({Item(Id(kT0, 0x10), kSn, Opened())}, {kEs});
  EXPECT_EQ(view.kind(), "");
  EXPECT_EQ(view.opened_by(), "");
}

TEST(ThreadFold, NumbersDraftsInOrderAndKeepsTheClaimedVersion) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 100, 0x01), d2 = Id(kT0 + 200, 0x01), d3 = Id(kT0 + 300, 0x01);
  // Given newest first, and with claimed versions that are not the thread's count.
  const v1::ThreadView view = FoldThread({Item(d3, kEs, Draft(7, "third", {d2})), Item(d2, kSn, Draft(2, "second", {d1})),
                                          Item(d1, kEs, Draft(1, "first", {opened})), Item(opened, kEs, Opened())},
                                         {kEs});
  EXPECT_EQ(view.drafts(), 3u);
  EXPECT_EQ(IdsOf(view), Hex({opened, d1, d2, d3}));
  const std::vector<std::pair<Bytes, std::pair<std::uint32_t, std::uint32_t>>> expected = {
      {d1, {1, 1}}, {d2, {2, 2}}, {d3, {3, 7}}};
  for (const auto& [id, versions] : expected) {
    const v1::ThreadEventView* ev = EventOf(view, id);
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(ev->kind(), "draft");
    EXPECT_EQ(ev->version(), versions.first);
    EXPECT_EQ(ev->claimed_version(), versions.second);
  }
  const v1::ThreadEventView* third = EventOf(view, d3);
  EXPECT_EQ(third->name(), "request-v7.txt");
  EXPECT_EQ(third->media_type(), "text/plain");
  EXPECT_EQ(third->size(), 5u);
  EXPECT_EQ(third->text(), "note 7");
  EXPECT_EQ(third->language(), "en");  // the thread's, as the draft names none
  EXPECT_EQ(third->by(), kEs);
  EXPECT_EQ(third->at(), kT0 + 300);
}

TEST(ThreadFold, KeepsADraftsOwnLanguage) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01);
  v1::ThreadEvent draft = Draft(1, "texto", {opened});
  draft.mutable_draft()->set_language("es");
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened()), Item(d1, kEs, draft)}, {kEs});
  ASSERT_NE(EventOf(view, d1), nullptr);
  EXPECT_EQ(EventOf(view, d1)->language(), "es");
}

TEST(ThreadFold, NumbersConcurrentDraftsTheSameWhateverTheOrderOfArrival) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 100, 0x01);
  // Both sides drafted version 2 in the same second, each having seen only version 1.
  const Bytes es2 = Id(kT0 + 200, 0x20), sn2 = Id(kT0 + 200, 0x08);
  const Bytes later = Id(kT0 + 300, 0x01);
  std::vector<ThreadItem> items = {
      Item(opened, kEs, Opened()),
      Item(d1, kEs, Draft(1, "first", {opened})),
      Item(es2, kEs, Draft(2, "spanish side", {d1})),
      Item(sn2, kSn, Draft(2, "senegalese side", {d1})),
      Item(later, kSn, Comment("two versions 2: let us merge", {es2, sn2})),
  };
  const v1::ThreadView reference = FoldThread(items, {kEs});
  EXPECT_EQ(reference.drafts(), 3u);
  ASSERT_NE(EventOf(reference, sn2), nullptr);
  ASSERT_NE(EventOf(reference, es2), nullptr);
  EXPECT_EQ(EventOf(reference, sn2)->version(), 2u);  // the smaller message id first
  EXPECT_EQ(EventOf(reference, es2)->version(), 3u);
  EXPECT_EQ(EventOf(reference, sn2)->claimed_version(), 2u);
  EXPECT_EQ(EventOf(reference, es2)->claimed_version(), 2u);
  EXPECT_EQ(IdsOf(reference), Hex({opened, d1, sn2, es2, later}));

  std::mt19937 random(20260207);
  for (int round = 0; round < 50; ++round) {
    std::shuffle(items.begin(), items.end(), random);
    const v1::ThreadView view = FoldThread(items, {kEs});
    EXPECT_EQ(view.DebugString(), reference.DebugString()) << "round " << round;
  }
}

TEST(ThreadFold, PutsTheOpenedEventBeforeItsFirstDraftOfTheSameSecond) {
  // The draft's id is the smaller; the opening must still come first.
  const Bytes opened = Id(kT0, 0xF0), d1 = Id(kT0, 0x01);
  for (const bool with_parent : {true, false}) {
    SCOPED_TRACE(with_parent ? "the draft names the opening" : "no parents");
    const v1::ThreadView view = FoldThread(
        {Item(d1, kEs, Draft(1, kCompleteMla, with_parent ? std::vector<Bytes>{opened} : std::vector<Bytes>{})),
         Item(opened, kEs, Opened())},
        {kSn});
    EXPECT_EQ(view.events(0).kind(), "opened");
    EXPECT_EQ(view.kind(), "mla");
    EXPECT_EQ(view.opened_at(), kT0);
    if (!with_parent) {
      // An event tied to nothing is not part of the thread.
      EXPECT_EQ(IdsOf(view), Hex({opened}));
      EXPECT_EQ(view.drafts(), 0u);
      continue;
    }
    EXPECT_EQ(IdsOf(view), Hex({opened, d1}));
    EXPECT_EQ(view.drafts(), 1u);
    EXPECT_EQ(view.events(1).version(), 1u);
    EXPECT_TRUE(view.missing().empty());
  }
}

TEST(ThreadFold, PutsAnEventAfterItsParentOfTheSameSecondWithALargerId) {
  const Bytes opened = Id(kT0, 0x10);
  const Bytes question = Id(kT0 + 60, 0xFE), answer = Id(kT0 + 60, 0x01);
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened()), Item(answer, kEs, Comment("yes", {question})),
                                          Item(question, kSn, Comment("is v1 final?", {opened}))},
                                         {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened, question, answer}));
  EXPECT_EQ(view.last_by(), kEs);
  EXPECT_FALSE(view.waiting_on_me());
}

TEST(ThreadFold, OrdersAChainOfOneSecondByItsParents) {
  // Three events in one second, each naming the one before, with ids in the opposite order;
  // and two drafts among them, numbered in that causal order.
  const Bytes opened = Id(kT0, 0x10);
  const Bytes a = Id(kT0 + 60, 0xC0), b = Id(kT0 + 60, 0x80), c = Id(kT0 + 60, 0x40);
  const v1::ThreadView view = FoldThread({Item(c, kSn, Comment("third", {b})), Item(b, kEs, Draft(2, "second", {a})),
                                          Item(a, kSn, Draft(1, "first", {opened})), Item(opened, kEs, Opened())},
                                         {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened, a, b, c}));
  EXPECT_EQ(EventOf(view, a)->version(), 1u);
  EXPECT_EQ(EventOf(view, b)->version(), 2u);
  EXPECT_EQ(view.last_by(), kSn);
}

TEST(ThreadFold, OrdersConcurrentEventsOfTheSameSecondByMessageId) {
  const Bytes opened = Id(kT0, 0x10);
  const Bytes x = Id(kT0 + 60, 0x30), y = Id(kT0 + 60, 0x20), z = Id(kT0 + 60, 0x90);
  const v1::ThreadView view = FoldThread({Item(z, kSn, Comment("z", {opened})), Item(x, kEs, Comment("x", {opened})),
                                          Item(opened, kEs, Opened()), Item(y, kSn, Comment("y", {opened}))},
                                         {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened, y, x, z}));
}

TEST(ThreadFold, AppliesEachAllowedStatusChangeUpToExecuted) {
  const Bytes opened = Id(kT0, 0x10);
  std::vector<ThreadItem> items = {Item(opened, kEs, Opened())};
  const std::vector<std::string> path = {"agreed", "formally-submitted", "in-execution", "executed"};
  std::vector<Bytes> ids;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const Bytes parent = ids.empty() ? opened : ids.back();
    ids.push_back(Id(kT0 + 86400 * static_cast<std::int64_t>(i + 1), 0x01));
    items.push_back(Item(ids.back(), i % 2 == 0 ? kSn : kEs, StatusTo(path[i], {parent})));
  }
  const v1::ThreadView view = FoldThread(items, {kEs});
  EXPECT_EQ(view.status(), "executed");
  for (std::size_t i = 0; i < path.size(); ++i) {
    const v1::ThreadEventView* ev = EventOf(view, ids[i]);
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(ev->kind(), "status");
    EXPECT_EQ(ev->status(), path[i]);
    EXPECT_EQ(ev->text(), "now " + path[i]);
    EXPECT_TRUE(ev->applied()) << path[i];
  }
  EXPECT_EQ(view.agreed_at(), kT0 + 86400);
  EXPECT_EQ(view.executed_at(), kT0 + 4 * 86400);
}

TEST(ThreadFold, KeepsAnInvalidStatusChangeUnapplied) {
  const Bytes opened = Id(kT0, 0x10), jump = Id(kT0 + 10, 0x01), agree = Id(kT0 + 20, 0x01);
  const v1::ThreadView skipped =
      FoldThread({Item(opened, kEs, Opened()), Item(jump, kSn, StatusTo("executed", {opened}))}, {kEs});
  ASSERT_EQ(skipped.events_size(), 2);
  EXPECT_EQ(skipped.events(1).kind(), "status");
  EXPECT_EQ(skipped.events(1).status(), "executed");
  EXPECT_FALSE(skipped.events(1).applied());
  EXPECT_EQ(skipped.status(), "consultation");
  EXPECT_EQ(skipped.executed_at(), 0);
  EXPECT_TRUE(skipped.waiting_on_me());  // not final: the unapplied change closed nothing

  // A valid change after it is judged from the status the thread really has.
  const v1::ThreadView then = FoldThread({Item(opened, kEs, Opened()), Item(jump, kSn, StatusTo("executed", {opened})),
                                          Item(agree, kSn, StatusTo("agreed", {jump}))},
                                         {kEs});
  EXPECT_EQ(then.status(), "agreed");
  EXPECT_FALSE(then.events(1).applied());
  EXPECT_TRUE(then.events(2).applied());
  EXPECT_EQ(then.agreed_at(), kT0 + 20);
}

TEST(ThreadFold, KeepsAChangeOutOfAFinalStatusUnapplied) {
  const Bytes opened = Id(kT0, 0x10), refuse = Id(kT0 + 10, 0x01), reopen = Id(kT0 + 20, 0x01);
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened()), Item(refuse, kSn, StatusTo("refused")),
                                          Item(reopen, kEs, StatusTo("consultation"))},
                                         {kSn});
  EXPECT_EQ(view.status(), "refused");
  EXPECT_TRUE(view.events(1).applied());
  EXPECT_FALSE(view.events(2).applied());
}

TEST(ThreadFold, RepeatedStatusIsNotAChange) {
  const Bytes opened = Id(kT0, 0x10), same = Id(kT0 + 10, 0x01);
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened()), Item(same, kSn, StatusTo("consultation"))}, {kEs});
  EXPECT_EQ(view.status(), "consultation");
  EXPECT_FALSE(view.events(1).applied());
}

TEST(ThreadFold, KeepsTheFirstAgreementTime) {
  const Bytes opened = Id(kT0, 0x10), a1 = Id(kT0 + 100, 0x01), back = Id(kT0 + 200, 0x01), a2 = Id(kT0 + 300, 0x01);
  const v1::ThreadView view =
      FoldThread({Item(opened, kEs, Opened()), Item(a1, kSn, StatusTo("agreed")),
                  Item(back, kEs, StatusTo("consultation")), Item(a2, kSn, StatusTo("agreed"))},
                 {kEs});
  EXPECT_EQ(view.status(), "agreed");
  EXPECT_TRUE(view.events(2).applied());
  EXPECT_TRUE(view.events(3).applied());
  EXPECT_EQ(view.agreed_at(), kT0 + 100);
}

TEST(ThreadFold, IsWaitingOnMeWhenTheNewestEventIsAnotherParticipants) {
  const Bytes opened = Id(kT0, 0x10), c1 = Id(kT0 + 10, 0x01);
  const std::vector<ThreadItem> items = {Item(opened, kEs, Opened()), Item(c1, kSn, Comment("over to you"))};
  EXPECT_TRUE(FoldThread(items, {kEs}).waiting_on_me());
  EXPECT_TRUE(FoldThread(items, {"ES-MJ@WACAP", kEs}).waiting_on_me());  // one of this node's addresses
  EXPECT_FALSE(FoldThread(items, {kSn}).waiting_on_me());                 // mine
  EXPECT_FALSE(FoldThread(items, {kPt}).waiting_on_me());                 // not a participant
  EXPECT_FALSE(FoldThread(items, {}).waiting_on_me());
}

TEST(ThreadFold, IsNotWaitingOnMeOnceFinal) {
  const Bytes opened = Id(kT0, 0x10);
  for (const std::string final_status : {"refused", "withdrawn"}) {
    SCOPED_TRACE(final_status);
    const v1::ThreadView view =
        FoldThread({Item(opened, kEs, Opened()), Item(Id(kT0 + 10, 0x01), kSn, StatusTo(final_status))}, {kEs});
    EXPECT_EQ(view.status(), final_status);
    EXPECT_FALSE(view.waiting_on_me());
  }
  std::vector<ThreadItem> executed = {Item(opened, kEs, Opened())};
  int step = 0;
  for (const char* s : {"agreed", "formally-submitted", "in-execution", "executed"}) {
    executed.push_back(Item(Id(kT0 + 10 * ++step, 0x01), kSn, StatusTo(s)));
  }
  const v1::ThreadView view = FoldThread(executed, {kEs});
  EXPECT_EQ(view.status(), "executed");
  EXPECT_EQ(view.last_by(), kSn);
  EXPECT_FALSE(view.waiting_on_me());
}

TEST(ThreadFold, IgnoresEventsOfAnotherThread) {
  const Bytes opened = Id(kT0, 0x10), mine = Id(kT0 + 10, 0x01);
  const Bytes stray_comment = Id(kT0 + 20, 0x01), stray_draft = Id(kT0 + 30, 0x01), stray_status = Id(kT0 + 40, 0x01);
  v1::ThreadEvent stray_agreement = StatusTo("agreed");
  stray_agreement.set_thread_id(kOtherThread);
  const v1::ThreadView view =
      FoldThread({Item(stray_draft, kSn, Draft(1, "", {}, "text/plain", kOtherThread)), Item(opened, kEs, Opened()),
                  Item(stray_comment, kSn, Comment("elsewhere", {}, kOtherThread)),
                  Item(mine, kEs, Draft(1, kCompleteMla, {opened})), Item(stray_status, kSn, stray_agreement)},
                 {kEs});
  EXPECT_EQ(view.thread_id(), kThread);
  EXPECT_EQ(IdsOf(view), Hex({opened, mine}));
  EXPECT_EQ(view.drafts(), 1u);
  EXPECT_EQ(view.status(), "consultation");
  EXPECT_EQ(view.agreed_at(), 0);
  EXPECT_EQ(view.last_at(), kT0 + 10);
  EXPECT_EQ(view.last_by(), kEs);
  EXPECT_FALSE(view.waiting_on_me());
  EXPECT_TRUE(view.missing().empty());  // the stray empty draft is not the newest draft
}

// thread.h: "Events of other threads, and everything before the opened event, are ignored."
TEST(ThreadFold, IgnoresEventsBeforeTheOpenedEvent) {
  const Bytes early = Id(kT0 - 10, 0x01), opened = Id(kT0, 0x10);
  const v1::ThreadView view = FoldThread({Item(opened, kEs, Opened()), Item(early, kSn, StatusTo("agreed"))}, {kEs});
  EXPECT_EQ(IdsOf(view), Hex({opened}));
  EXPECT_EQ(view.status(), "consultation");
  EXPECT_EQ(view.agreed_at(), 0);
}

TEST(ThreadFold, FoldsNothingToAnEmptyView) {
  const v1::ThreadView view = FoldThread({}, {kEs});
  EXPECT_EQ(view.thread_id(), "");
  EXPECT_EQ(view.status(), "consultation");
  EXPECT_EQ(view.events_size(), 0);
  EXPECT_FALSE(view.waiting_on_me());
  EXPECT_EQ(std::vector<std::string>(view.missing().begin(), view.missing().end()),
            std::vector<std::string>{"a draft of the request"});
}

// --- The completeness checklist (ThreadView.missing, MissingItems) ---------------------------

std::vector<std::string> MissingOf(const std::vector<ThreadItem>& items) {
  const v1::ThreadView view = FoldThread(items, {kEs});
  return {view.missing().begin(), view.missing().end()};
}

TEST(ThreadMissing, ACompleteMlaDraftMissesNothing) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, kCompleteMla, {opened}))}),
            std::vector<std::string>{});
}

TEST(ThreadMissing, AnEmptyMlaDraftMissesEveryItemOfText) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, "", {opened}))}), kMlaItemsOfText);
}

TEST(ThreadMissing, ADraftLackingOneItemMissesIt) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01);
  std::string text = kCompleteMla;
  text.erase(text.find("Link between"), std::string("Link between").size());
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, text, {opened}))}),
            std::vector<std::string>{"the link between the offence and the evidence sought"});
}

TEST(ThreadMissing, APdfDraftCannotBeChecked) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, "%PDF-1.7", {opened}, "application/pdf"))}),
            std::vector<std::string>{"the newest draft is not text: its completeness could not be checked"});
}

TEST(ThreadMissing, NoDraftMissesTheDraft) {
  const Bytes opened = Id(kT0, 0x10);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(Id(kT0 + 1, 0x01), kSn, Comment("send a draft"))}),
            std::vector<std::string>{"a draft of the request"});
}

TEST(ThreadMissing, ChecksTheNewestDraftOnly) {
  const Bytes opened = Id(kT0, 0x10), d1 = Id(kT0 + 1, 0x01), d2 = Id(kT0 + 2, 0x01), d3 = Id(kT0 + 3, 0x01);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, kCompleteMla, {opened})),
                       Item(d2, kSn, Draft(2, "", {d1}))}),
            kMlaItemsOfText);
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, "", {opened})),
                       Item(d2, kSn, Draft(2, kCompleteMla, {d1}))}),
            std::vector<std::string>{});
  // A comment after the newest draft changes nothing.
  EXPECT_EQ(MissingOf({Item(opened, kEs, Opened()), Item(d1, kEs, Draft(1, kCompleteMla, {opened})),
                       Item(d3, kSn, Comment("looks complete", {d1}))}),
            std::vector<std::string>{});
}

TEST(ThreadMissing, MatchesWordsWhateverTheirCase) {
  std::string upper = kCompleteMla;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_EQ(MissingItems("mla", "UNTOC art. 18", upper), std::vector<std::string>{});
}

TEST(ThreadMissing, ListsTheLegalBasisWhenTheThreadHasNone) {
  std::vector<std::string> all = {"the legal basis"};
  all.insert(all.end(), kMlaItemsOfText.begin(), kMlaItemsOfText.end());
  EXPECT_EQ(MissingItems("mla", "", ""), all);
  EXPECT_EQ(MissingItems("other", "", "anything"), std::vector<std::string>{"the legal basis"});
  EXPECT_EQ(MissingItems("other", "reciprocity", ""), std::vector<std::string>{});
}

TEST(ThreadMissing, HasAChecklistPerKind) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"mla", kMlaItemsOfText},
      {"extradition",
       {"the requesting authority", "the person sought (identity, nationality, whereabouts)", "a summary of the facts",
        "the offence and the law that makes it one", "the warrant or judgment and the penalty"}},
      {"transfer-of-proceedings",
       {"the requesting authority", "a summary of the facts", "the offence and the law that makes it one",
        "the reasons for the transfer", "the state of the proceedings"}},
      {"confiscation",
       {"the requesting authority", "a summary of the facts", "the property concerned",
        "the order to enforce or its grounds", "the measures requested"}},
      {"joint-investigation",
       {"the requesting authority", "the purpose of the team", "the composition of the team", "the duration"}},
      {"other", {}},
  };
  for (const std::string& kind : RequestKinds()) {
    SCOPED_TRACE(kind);
    ASSERT_EQ(expected.count(kind), 1u);
    EXPECT_EQ(MissingItems(kind, "UNTOC art. 18", ""), expected.at(kind));
  }
  EXPECT_EQ(MissingItems("no-such-kind", "", ""), std::vector<std::string>{});
}

// --- The vocabulary ------------------------------------------------------------------------

TEST(ThreadVocabulary, ListsKindsAndStatusesInReadingOrder) {
  EXPECT_EQ(RequestKinds(), (std::vector<std::string>{"mla", "extradition", "transfer-of-proceedings", "confiscation",
                                                      "joint-investigation", "other"}));
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"consultation", "agreed", "formally-submitted", "in-execution",
                                                  "executed", "refused", "withdrawn"}));
}

TEST(ThreadVocabulary, AllowsExactlyTheChangesOfTheStateMachine) {
  const std::map<std::string, std::vector<std::string>> machine = {
      {"consultation", {"agreed", "refused", "withdrawn"}},
      {"agreed", {"consultation", "formally-submitted", "withdrawn"}},
      {"formally-submitted", {"in-execution", "refused", "withdrawn"}},
      {"in-execution", {"executed", "refused", "withdrawn"}},
      {"executed", {}},
      {"refused", {}},
      {"withdrawn", {}},
  };
  for (const std::string& from : Statuses()) {
    ASSERT_EQ(machine.count(from), 1u) << from;
    EXPECT_EQ(AllowedChanges(from), machine.at(from)) << from;
    for (const std::string& to : Statuses()) {
      const auto& next = machine.at(from);
      EXPECT_EQ(IsAllowedChange(from, to), std::find(next.begin(), next.end(), to) != next.end())
          << from << " -> " << to;
    }
  }
  EXPECT_TRUE(AllowedChanges("no-such-status").empty());
  EXPECT_FALSE(IsAllowedChange("no-such-status", "agreed"));
  EXPECT_FALSE(IsAllowedChange("consultation", "no-such-status"));
  EXPECT_FALSE(IsAllowedChange("", "agreed"));
}

TEST(ThreadVocabulary, KnowsTheFinalStatuses) {
  const std::set<std::string> final_statuses = {"executed", "refused", "withdrawn"};
  for (const std::string& s : Statuses()) EXPECT_EQ(IsFinalStatus(s), final_statuses.count(s) == 1) << s;
  EXPECT_FALSE(IsFinalStatus(""));
  EXPECT_FALSE(IsFinalStatus("Executed"));
}

// --- Dates and thread ids ------------------------------------------------------------------

TEST(ThreadDate, AcceptsRealCalendarDates) {
  for (const char* d : {"1970-01-01", "2026-01-01", "2026-12-31", "2026-02-28", "2026-04-30", "2028-02-29",
                        "2000-02-29", "2024-02-29", "9999-12-31"}) {
    EXPECT_TRUE(IsValidDate(d)) << d;
  }
}

TEST(ThreadDate, RefusesDatesThatDoNotExist) {
  for (const char* d : {"2026-02-29", "2100-02-29", "2027-02-29", "2026-02-30", "2026-04-31", "2026-06-31",
                        "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32", "1969-12-31"}) {
    EXPECT_FALSE(IsValidDate(d)) << d;
  }
}

TEST(ThreadDate, RefusesOtherFormats) {
  for (const char* d : {"", "2026-1-01", "2026-01-1", "2026/01/01", "26-01-01", "2026-01-011", "20260101",
                        "2026-01-0a", "2026-0a-01", "+026-01-01", " 2026-01-1", "2026-01-01 ", "2026-01-01T00",
                        "2026_01_01", "２026-01-01"}) {
    EXPECT_FALSE(IsValidDate(d)) << d;
  }
}

TEST(ThreadId, AcceptsSixteenLowerCaseHexDigits) {
  EXPECT_TRUE(IsValidThreadId("0123456789abcdef"));
  EXPECT_TRUE(IsValidThreadId("ffffffffffffffff"));
  for (const char* id : {"", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "0123456789abcdeg",
                         "0123456789abcde ", "0123-56789abcdef", "0123456789abcdéf"}) {
    EXPECT_FALSE(IsValidThreadId(id)) << id;
  }
}

TEST(ThreadId, DrawsAValidNewIdEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewThreadId();
    EXPECT_TRUE(IsValidThreadId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << id << " drawn twice";
  }
}

// --- CheckEvent ----------------------------------------------------------------------------

v1::ThreadEvent ValidOpened() { return Opened(); }
v1::ThreadEvent ValidDraft() { return Draft(1, kCompleteMla, {Id(kT0, 0x10)}); }
v1::ThreadEvent ValidComment() { return Comment("Please add the account number.", {Id(kT0, 0x10)}); }
v1::ThreadEvent ValidStatus() { return StatusTo("agreed", {Id(kT0, 0x10)}); }

void ExpectAccepted(const v1::ThreadEvent& e) {
  const Status<> st = CheckEvent(e);
  EXPECT_TRUE(st.ok()) << st.error().message << "\n" << e.DebugString();
}

void ExpectRefused(const v1::ThreadEvent& e, const std::string& because) {
  const Status<> st = CheckEvent(e);
  ASSERT_FALSE(st.ok()) << "accepted:\n" << e.DebugString();
  EXPECT_NE(st.error().message.find(because), std::string::npos)
      << "the error is '" << st.error().message << "', expected it to contain '" << because << "'";
}

TEST(ThreadCheckEvent, AcceptsValidEvents) {
  ExpectAccepted(ValidOpened());
  ExpectAccepted(ValidDraft());
  ExpectAccepted(ValidComment());
  ExpectAccepted(ValidStatus());
  for (const std::string& s : Statuses()) ExpectAccepted(StatusTo(s, {kOpeningId}));
  for (const std::string& k : RequestKinds()) {
    v1::ThreadEvent e = ValidOpened();
    e.mutable_opened()->set_kind(k);
    ExpectAccepted(e);
  }
  // The optional fields may be empty.
  v1::ThreadEvent bare = ValidOpened();
  bare.mutable_opened()->clear_language();
  bare.mutable_opened()->clear_deadline();
  bare.mutable_opened()->set_urgent(false);
  ExpectAccepted(bare);
  v1::ThreadEvent plain = ValidDraft();
  plain.mutable_draft()->clear_note();
  plain.mutable_draft()->clear_content();
  plain.mutable_draft()->set_language("fr");
  plain.mutable_draft()->set_media_type("application/pdf");
  ExpectAccepted(plain);
  v1::ThreadEvent no_note = ValidStatus();
  no_note.mutable_status()->clear_note();
  ExpectAccepted(no_note);
}

TEST(ThreadCheckEvent, RefusesAnotherFormat) {
  for (std::uint32_t format : {0u, 2u}) {
    v1::ThreadEvent e = ValidComment();
    e.set_format(format);
    ExpectRefused(e, "thread event format " + std::to_string(format) + " is not 1");
  }
}

TEST(ThreadCheckEvent, RefusesABadThreadId) {
  for (const char* id : {"", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "thread-of-acme!!"}) {
    v1::ThreadEvent e = ValidOpened();
    e.set_thread_id(id);
    ExpectRefused(e, "the thread id is not 16 hex digits");
  }
}

TEST(ThreadCheckEvent, RefusesBadParents) {
  v1::ThreadEvent short_parent = ValidComment();
  short_parent.add_parents(std::string(31, 'x'));
  ExpectRefused(short_parent, "a parent is not a message id");
  v1::ThreadEvent many = Comment("many");
  for (int i = 0; i < 64; ++i) many.add_parents(crypto::AsString(Id(kT0, static_cast<std::uint8_t>(i))));
  ExpectAccepted(many);
  many.add_parents(crypto::AsString(Id(kT0, 0xFF)));
  ExpectRefused(many, "more than 64 parents");
}

TEST(ThreadCheckEvent, RefusesAnUnknownRequestKind) {
  for (const char* kind : {"", "MLA", "letter-rogatory"}) {
    v1::ThreadEvent e = ValidOpened();
    e.mutable_opened()->set_kind(kind);
    ExpectRefused(e, "unknown request kind");
  }
}

TEST(ThreadCheckEvent, RefusesABadSubject) {
  for (const std::string& subject :
       {std::string(), std::string(kMaxSubjectBytes + 1, 's'), std::string("two\nlines"), std::string("tab\there"),
        std::string("\x1b[2Jcleared"), std::string("bidi \xE2\x80\xAE override"), std::string("bad \xC3 utf-8")}) {
    v1::ThreadEvent e = ValidOpened();
    e.mutable_opened()->set_subject(subject);
    ExpectRefused(e, "the subject must be 1 to 200 bytes of printable text");
  }
  v1::ThreadEvent longest = ValidOpened();
  longest.mutable_opened()->set_subject(std::string(kMaxSubjectBytes, 's'));
  ExpectAccepted(longest);
  v1::ThreadEvent accented = ValidOpened();
  accented.mutable_opened()->set_subject("Comisión rogatoria: cuentas de Acme");
  ExpectAccepted(accented);
}

TEST(ThreadCheckEvent, RefusesAMissingOrBadLegalBasis) {
  for (const std::string& basis : {std::string(), std::string(kMaxLegalBasisBytes + 1, 'b'), std::string("a\nb")}) {
    v1::ThreadEvent e = ValidOpened();
    e.mutable_opened()->set_legal_basis(basis);
    ExpectRefused(e, "the legal basis must be 1 to 200 bytes of printable text");
  }
  v1::ThreadEvent free_text = ValidOpened();
  free_text.mutable_opened()->set_legal_basis(std::string(kMaxLegalBasisBytes, 'b'));
  ExpectAccepted(free_text);
}

TEST(ThreadCheckEvent, RefusesABadDeadline) {
  for (const char* deadline : {"2026-02-29", "2026-13-01", "15/01/2027", "tomorrow"}) {
    v1::ThreadEvent e = ValidOpened();
    e.mutable_opened()->set_deadline(deadline);
    ExpectRefused(e, "the deadline is not a YYYY-MM-DD date");
  }
  v1::ThreadEvent leap = ValidOpened();
  leap.mutable_opened()->set_deadline("2028-02-29");
  ExpectAccepted(leap);
}

TEST(ThreadCheckEvent, RefusesABadLanguage) {
  for (const char* language : {"EN", "eng", "e"}) {
    v1::ThreadEvent opened = ValidOpened();
    opened.mutable_opened()->set_language(language);
    ExpectRefused(opened, "the language is not an ISO 639-1 code");
    v1::ThreadEvent draft = ValidDraft();
    draft.mutable_draft()->set_language(language);
    ExpectRefused(draft, "the language is not an ISO 639-1 code");
  }
}

TEST(ThreadCheckEvent, RefusesAThreadOfFewerThanTwoOrMoreThan64Participants) {
  v1::ThreadEvent alone = ValidOpened();
  alone.mutable_opened()->mutable_participants()->RemoveLast();
  ExpectRefused(alone, "a thread has 2 to 64 participants");
  v1::ThreadEvent nobody = ValidOpened();
  nobody.mutable_opened()->clear_participants();
  ExpectRefused(nobody, "a thread has 2 to 64 participants");

  v1::ThreadEvent crowd = ValidOpened();
  crowd.mutable_opened()->clear_participants();
  for (int i = 1; i <= 64; ++i) *crowd.mutable_opened()->add_participants() = PartyOf("M" + std::to_string(i), "WACAP");
  ExpectAccepted(crowd);
  *crowd.mutable_opened()->add_participants() = PartyOf("M65", "WACAP");
  ExpectRefused(crowd, "a thread has 2 to 64 participants");
}

TEST(ThreadCheckEvent, RefusesDuplicateOrInvalidParticipants) {
  v1::ThreadEvent twice = ValidOpened();
  *twice.mutable_opened()->add_participants() = PartyOf("ES-MJ", "IberRed");
  ExpectRefused(twice, "a participant is invalid or listed twice");
  // The same member id in another network is another participant.
  v1::ThreadEvent bridged = ValidOpened();
  *bridged.mutable_opened()->add_participants() = PartyOf("ES-MJ", "WACAP");
  ExpectAccepted(bridged);
  for (const auto& [member, network] : std::vector<std::pair<std::string, std::string>>{
           {"es-mj", "IberRed"}, {"E", "IberRed"}, {"ES-MJ", ""}, {"", "IberRed"}, {"ES-MJ", "-IberRed"}}) {
    v1::ThreadEvent e = ValidOpened();
    *e.mutable_opened()->mutable_participants(1) = PartyOf(member, network);
    ExpectRefused(e, "a participant is invalid or listed twice");
  }
}

TEST(ThreadCheckEvent, RefusesADraftOverTheLimit) {
  v1::ThreadEvent largest = ValidDraft();
  largest.mutable_draft()->set_content(std::string(kMaxDraftBytes, 'a'));
  ExpectAccepted(largest);
  v1::ThreadEvent over = ValidDraft();
  over.mutable_draft()->set_content(std::string(kMaxDraftBytes + 1, 'a'));
  ExpectRefused(over, "a draft is larger than 8 MiB");
}

TEST(ThreadCheckEvent, RefusesADraftNameThatIsNotAPlainFileName) {
  for (const std::string& name : {std::string(), std::string("drafts/request.txt"), std::string("/etc/passwd"),
                                  std::string("."), std::string(".."), std::string(256, 'n'),
                                  std::string("request\n.txt"), std::string("bad\xFF.txt")}) {
    v1::ThreadEvent e = ValidDraft();
    e.mutable_draft()->set_name(name);
    ExpectRefused(e, "a draft's name must be a plain file name");
  }
  v1::ThreadEvent longest = ValidDraft();
  longest.mutable_draft()->set_name(std::string(255, 'n'));
  ExpectAccepted(longest);
  v1::ThreadEvent dotted = ValidDraft();
  dotted.mutable_draft()->set_name("..request v2 (final).txt");
  ExpectAccepted(dotted);
}

TEST(ThreadCheckEvent, RefusesOtherBadDraftFields) {
  v1::ThreadEvent unnumbered = ValidDraft();
  unnumbered.mutable_draft()->set_version(0);
  ExpectRefused(unnumbered, "a draft's version starts at 1");
  for (const std::string& media_type : {std::string(), std::string("text/plain; charset=utf-8"), std::string(256, 't')}) {
    v1::ThreadEvent e = ValidDraft();
    e.mutable_draft()->set_media_type(media_type);
    ExpectRefused(e, "a draft's media type is invalid");
  }
  for (const std::string& note : {std::string(kMaxNoteBytes + 1, 'n'), std::string("bell\a")}) {
    v1::ThreadEvent e = ValidDraft();
    e.mutable_draft()->set_note(note);
    ExpectRefused(e, "a note must be at most 2000 bytes of text");
  }
  v1::ThreadEvent lines = ValidDraft();
  lines.mutable_draft()->set_note(std::string(kMaxNoteBytes - 2, 'n') + "\n\t");
  ExpectAccepted(lines);
}

TEST(ThreadCheckEvent, RefusesAnEmptyOrOversizeComment) {
  for (const std::string& text : {std::string(), std::string(kMaxCommentBytes + 1, 'c')}) {
    v1::ThreadEvent e = ValidComment();
    e.mutable_comment()->set_text(text);
    ExpectRefused(e, "a comment must be 1 to 65536 bytes of text");
  }
  v1::ThreadEvent longest = ValidComment();
  longest.mutable_comment()->set_text(std::string(kMaxCommentBytes, 'c'));
  ExpectAccepted(longest);
}

TEST(ThreadCheckEvent, RefusesACommentWithAControlCharacter) {
  for (const std::string& text :
       {std::string("carriage\rreturn"), std::string("bell\a"), std::string("escape \x1b[31mred"),
        std::string("nul\0byte", 8), std::string("del\x7f"), std::string("c1 \xC2\x85 next line"),
        std::string("line \xE2\x80\xA8 separator"), std::string("isolate \xE2\x81\xA6")}) {
    v1::ThreadEvent e = ValidComment();
    e.mutable_comment()->set_text(text);
    ExpectRefused(e, "a comment must be 1 to 65536 bytes of text");
  }
  v1::ThreadEvent lines = ValidComment();
  lines.mutable_comment()->set_text("First point.\n\tSecond point, indented.\nÚltimo punto.");
  ExpectAccepted(lines);
}

TEST(ThreadCheckEvent, RefusesAnUnknownStatus) {
  for (const char* status : {"", "Agreed", "closed", "executed "}) {
    v1::ThreadEvent e = ValidStatus();
    e.mutable_status()->set_status(status);
    ExpectRefused(e, "unknown status");
  }
  v1::ThreadEvent long_note = ValidStatus();
  long_note.mutable_status()->set_note(std::string(kMaxNoteBytes + 1, 'n'));
  ExpectRefused(long_note, "a note must be at most 2000 bytes of text");
}

TEST(ThreadCheckEvent, RefusesAnEventWithoutParentsButTheOpening) {
  ExpectRefused(StatusTo("agreed"), "an event other than the opening names no parent");
}

TEST(ThreadCheckEvent, RefusesAnEventWithNothingSet) {
  ExpectRefused(Base(kThread, {}), "a thread event of an unknown kind");
}

}  // namespace
}  // namespace comity::service
