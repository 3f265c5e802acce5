// Tests of node/archive/archive.h, the repositories: create and open, messages (deduplicated
// by id), threads and draft versions, notices, the outbox, receipts, rosters, attachments
// (content-addressed encrypted blobs), batches (all or nothing) and full-text search.
// Damage, the audit chain, migrations, operations and what reaches the disk have their own
// files (archive_faults_test.cpp, archive_audit_test.cpp, archive_schema_test.cpp,
// archive_operations_test.cpp, archive_disk_test.cpp).
#include "node/archive/archive.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

// ---- create and open ------------------------------------------------------------------------

TEST_F(ArchiveTest, CreateThenOpenRoundTrip) {
  EXPECT_EQ(archive().schema_version(), kSchemaVersion);
  MessageRecord m = Message("m1", kT0, "Request for assistance", "please freeze the account");
  ASSERT_TRUE(AddMessages({m}));
  ASSERT_TRUE(Reopen());
  EXPECT_EQ(archive().schema_version(), kSchemaVersion);
  auto got = archive().GetMessage(m.message_id);
  ASSERT_TRUE(Ok(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->body, m.body);
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 1);
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
}

TEST_F(ArchiveTest, CreateMakesThePrivateFiles) {
  EXPECT_TRUE(Exists(db_path()));
  EXPECT_TRUE(Exists(kdf_path()));
  EXPECT_TRUE(fs::is_directory(blob_dir()));
  EXPECT_EQ(fs::status(db_path()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(kdf_path()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(blob_dir()).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(ArchiveTest, CreateRefusesAnExistingArchive) {
  ASSERT_TRUE(AddMessages({Message("m1", kT0, "s", "b")}));
  archive_.reset();
  const std::string db_before = ReadAll(db_path());
  const std::string kdf_before = ReadAll(kdf_path());

  auto again = Archive::Create(home(), passphrase_, crypto::MinimumKdf());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ArchiveCode::kExists);
  auto other = Archive::Create(home(), ToBytes("another passphrase"), crypto::MinimumKdf());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ArchiveCode::kExists);

  EXPECT_EQ(ReadAll(db_path()), db_before);
  EXPECT_EQ(ReadAll(kdf_path()), kdf_before);
  ASSERT_TRUE(Reopen());
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 1);
}

TEST_F(ArchiveTest, CreateRefusesWhenOnlyOneOfTheFilesExists) {
  archive_.reset();
  for (const std::string& keep : {db_path(), kdf_path()}) {
    SCOPED_TRACE(keep);
    TempDir other;
    fs::copy_file(keep, other.path() + keep.substr(keep.rfind('/')));
    const std::string kept = ReadAll(keep);
    auto created = Archive::Create(other.path(), passphrase_, crypto::MinimumKdf());
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().code, ArchiveCode::kExists);
    EXPECT_EQ(ReadAll(other.path() + keep.substr(keep.rfind('/'))), kept);
  }
}

TEST(ArchiveOpen, HomeWithoutAnArchiveIsMissingAndStaysEmpty) {
  TempDir home;
  auto opened = Archive::Open(home.path(), ToBytes("any passphrase"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ArchiveCode::kMissing);
  EXPECT_TRUE(fs::is_empty(home.path())) << "Open must never create an archive";
}

TEST_F(ArchiveTest, WrongPassphraseIsRefusedAndTouchesNothing) {
  ASSERT_TRUE(AddMessages({Message("m1", kT0, "s", "b")}));
  archive_.reset();
  ASSERT_FALSE(Exists(db_path() + "-wal"));
  ASSERT_FALSE(Exists(db_path() + "-shm"));
  const std::string db_before = ReadAll(db_path());
  const std::string kdf_before = ReadAll(kdf_path());
  ASSERT_FALSE(db_before.empty());

  for (const std::string& wrong : {std::string("correct horse battery stapl"), std::string(""),
                                   std::string("correct horse battery staple ")}) {
    SCOPED_TRACE("passphrase '" + wrong + "'");
    auto opened = Archive::Open(home(), ToBytes(wrong));
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ArchiveCode::kWrongPassphrase);
    EXPECT_EQ(opened.error().message, kWrongPassphraseMessage);
    EXPECT_EQ(ReadAll(db_path()), db_before);
    EXPECT_EQ(ReadAll(kdf_path()), kdf_before);
    EXPECT_FALSE(Exists(db_path() + "-wal"));
    EXPECT_FALSE(Exists(db_path() + "-shm"));
    EXPECT_FALSE(Exists(db_path() + "-journal"));
  }
  ASSERT_TRUE(Reopen());
}

TEST(ArchiveKey, DeriveArchiveKeyRefusesAWrongPassphraseWithTheOperatorMessage) {
  TempDir home;
  {
    auto created = Archive::Create(home.path(), ToBytes("right"), crypto::MinimumKdf());
    ASSERT_TRUE(Ok(created));
  }
  const std::string kdf = ReadAll(home.path() + "/archive.kdf");
  EXPECT_TRUE(Ok(DeriveArchiveKey(ToBytes("right"), kdf)));
  auto wrong = DeriveArchiveKey(ToBytes("wrong"), kdf);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ArchiveCode::kWrongPassphrase);
  EXPECT_EQ(wrong.error().message, kWrongPassphraseMessage);
  auto garbage = DeriveArchiveKey(ToBytes("right"), "\xff\xff\xff\xff");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ArchiveCode::kDamaged);
}

// ---- messages -------------------------------------------------------------------------------

TEST_F(ArchiveTest, AddMessageStoresAnIdOnce) {
  MessageRecord m = Message("m1", kT0, "Request", "text");
  std::vector<bool> added;
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    for (int i = 0; i < 2; ++i) {
      auto r = archive().AddMessage(m);
      if (!r) return r.error();
      added.push_back(*r);
    }
    return {};
  }));
  EXPECT_EQ(added, (std::vector<bool>{true, false}));

  // A later batch, and a duplicate whose other fields differ, are still recognised.
  MessageRecord changed = m;
  changed.body = "something else entirely";
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto r = archive().AddMessage(changed);
    if (!r) return r.error();
    added.push_back(*r);
    return {};
  }));
  EXPECT_EQ(added.back(), false);
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 1);
  auto got = archive().GetMessage(m.message_id);
  ASSERT_TRUE(Ok(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->body, "text");
  auto hits = archive().Search("entirely", 10);
  ASSERT_TRUE(Ok(hits));
  EXPECT_TRUE(hits->empty());
}

void ExpectSameMessage(const MessageRecord& got, const MessageRecord& want) {
  EXPECT_EQ(got.message_id, want.message_id);
  EXPECT_EQ(got.direction, want.direction);
  EXPECT_EQ(got.sender, want.sender);
  EXPECT_EQ(got.recipients, want.recipients);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.stored_at, want.stored_at);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.envelope, want.envelope);
  EXPECT_EQ(got.content, want.content);
  EXPECT_EQ(got.thread_uid, want.thread_uid);
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.body, want.body);
}

TEST_F(ArchiveTest, GetMessageReturnsExactlyWhatWasStored) {
  MessageRecord binary = Message("binary", kT0, "Sujet: entraide pénale", "Corps\nwith ünïcode and 'quotes'");
  binary.direction = "out";
  binary.thread_uid = "thread-7";
  binary.envelope = crypto::RandomBytes(3000);
  binary.envelope[0] = 0;
  binary.envelope[1500] = 0;
  binary.content = Bytes{0, 1, 2, 0, 255, 0};
  MessageRecord empty = Message("empty", kT0 + 5, "", "");
  empty.content = {};
  empty.recipients = "";
  ASSERT_TRUE(AddMessages({binary, empty}));
  ASSERT_TRUE(Reopen());
  for (const MessageRecord* m : {&binary, &empty}) {
    auto got = archive().GetMessage(m->message_id);
    ASSERT_TRUE(Ok(got));
    ASSERT_TRUE(got->has_value());
    ExpectSameMessage(**got, *m);
  }
  auto none = archive().GetMessage(IdOf("never stored"));
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());
}

// ---- threads and drafts ---------------------------------------------------------------------

TEST_F(ArchiveTest, PutThreadInsertsThenUpdates) {
  ASSERT_TRUE(InBatch([&] { return archive().PutThread(Thread("t1", "MLA to Lisbon", kT0)); }));
  auto got = archive().GetThread("t1");
  ASSERT_TRUE(Ok(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->status, "draft");
  EXPECT_EQ((*got)->subject, "MLA to Lisbon");

  ThreadRecord agreed = Thread("t1", "MLA to Lisbon (agreed)", kT0 + 999);
  agreed.status = "agreed";
  agreed.kind = "extradition";  // the kind is fixed at creation
  agreed.updated_at = kT0 + 100;
  ASSERT_TRUE(InBatch([&] { return archive().PutThread(agreed); }));
  got = archive().GetThread("t1");
  ASSERT_TRUE(Ok(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->status, "agreed");
  EXPECT_EQ((*got)->subject, "MLA to Lisbon (agreed)");
  EXPECT_EQ((*got)->updated_at, kT0 + 100);
  EXPECT_EQ((*got)->created_at, kT0);
  EXPECT_EQ((*got)->kind, "mla-request");

  auto none = archive().GetThread("t2");
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());
}

TEST_F(ArchiveTest, DraftsComeBackInVersionOrder) {
  ASSERT_TRUE(InBatch([&] { return archive().PutThread(Thread("t1", "MLA", kT0)); }));
  // Stored out of order, in separate batches.
  for (std::int64_t v : {1, 3, 2}) {
    const DraftVersion d = Draft("t1", v, "text of version " + std::to_string(v), kT0 + v);
    ASSERT_TRUE(InBatch([&] { return archive().AddDraft(d); }));
  }
  ASSERT_TRUE(Reopen());
  auto drafts = archive().Drafts("t1");
  ASSERT_TRUE(Ok(drafts));
  ASSERT_EQ(drafts->size(), 3u);
  for (std::int64_t v = 1; v <= 3; ++v) {
    const DraftVersion& d = (*drafts)[static_cast<std::size_t>(v - 1)];
    DraftVersion want = Draft("t1", v, "text of version " + std::to_string(v), kT0 + v);
    EXPECT_EQ(d.thread_uid, want.thread_uid);
    EXPECT_EQ(d.version, want.version);
    EXPECT_EQ(d.message_id, want.message_id);
    EXPECT_EQ(d.author, want.author);
    EXPECT_EQ(d.text, want.text);
    EXPECT_EQ(d.created_at, want.created_at);
  }
  auto other = archive().Drafts("unknown");
  ASSERT_TRUE(Ok(other));
  EXPECT_TRUE(other->empty());
}

TEST_F(ArchiveTest, DraftForAnUnknownThreadIsInvalid) {
  const std::int64_t audits = AuditCount();
  auto st = archive().Batch([&]() -> ArchiveStatus {
    if (auto a = archive().Audit(kT0, "bob", "draft", "v1"); !a) return a;
    return archive().AddDraft(Draft("no-such-thread", 1, "orphan words", kT0));
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kInvalid);
  EXPECT_NE(st.error().message.find("no-such-thread"), std::string::npos) << st.error().message;
  EXPECT_EQ(AuditCount(), audits);
  auto hits = archive().Search("orphan", 10);
  ASSERT_TRUE(Ok(hits));
  EXPECT_TRUE(hits->empty());
}

TEST_F(ArchiveTest, DuplicateDraftVersionFailsAndRollsBackTheWholeBatch) {
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    if (auto st = archive().PutThread(Thread("t1", "MLA", kT0)); !st) return st;
    return archive().AddDraft(Draft("t1", 1, "first wording", kT0 + 1));
  }));
  const std::int64_t audits = AuditCount();
  auto st = archive().Batch([&]() -> ArchiveStatus {
    if (auto s = archive().AddDraft(Draft("t1", 2, "second wording", kT0 + 2)); !s) return s;
    if (auto s = archive().Audit(kT0 + 2, "bob", "draft", "v2"); !s) return s;
    return archive().AddDraft(Draft("t1", 1, "first wording again", kT0 + 3));
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kInvalid) << st.error().message;

  auto drafts = archive().Drafts("t1");
  ASSERT_TRUE(Ok(drafts));
  ASSERT_EQ(drafts->size(), 1u);
  EXPECT_EQ((*drafts)[0].text, "first wording");
  EXPECT_EQ(AuditCount(), audits);
  for (const char* word : {"second", "again"}) {
    auto hits = archive().Search(word, 10);
    ASSERT_TRUE(Ok(hits));
    EXPECT_TRUE(hits->empty()) << word;
  }
  // The archive is still usable: version 2 goes in now.
  ASSERT_TRUE(InBatch([&] { return archive().AddDraft(Draft("t1", 2, "second wording", kT0 + 2)); }));
  drafts = archive().Drafts("t1");
  ASSERT_TRUE(Ok(drafts));
  EXPECT_EQ(drafts->size(), 2u);
}

// ---- batches --------------------------------------------------------------------------------

TEST_F(ArchiveTest, FailedBatchLeavesNothingBehind) {
  ASSERT_TRUE(AddMessages({Message("before", kT0, "kept", "kept")}));
  const std::int64_t audits = AuditCount();
  MessageRecord m = Message("doomed", kT0 + 1, "doomed subject", "doomed body");
  auto st = archive().Batch([&]() -> ArchiveStatus {
    auto added = archive().AddMessage(m);
    if (!added) return added.error();
    if (auto s = archive().Audit(kT0, "bob", "receive", "doomed"); !s) return s;
    if (auto s = archive().PutThread(Thread("doomed-thread", "doomed", kT0)); !s) return s;
    if (auto s = archive().AddNotice(Notice("doomed notice", "doomed", "doomed", kT0)); !s) return s;
    if (auto s = archive().AddReceipt(Receipt(m.message_id, "carol", "delivered", kT0)); !s) return s;
    if (auto s = archive().Enqueue({0, m.message_id, "carol@x", ToBytes("env"), kT0, 0, 0}); !s) return s;
    if (auto s = archive().RecordRoster("net", 1, ToBytes("roster"), kT0); !s) return s;
    return Fail(ArchiveCode::kInvalid, "the body gave up halfway");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "the body gave up halfway");

  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(AuditCount(), audits);
  auto got = archive().GetMessage(m.message_id);
  ASSERT_TRUE(Ok(got));
  EXPECT_FALSE(got->has_value());
  auto thread = archive().GetThread("doomed-thread");
  ASSERT_TRUE(Ok(thread));
  EXPECT_FALSE(thread->has_value());
  auto receipts = archive().Receipts(m.message_id);
  ASSERT_TRUE(Ok(receipts));
  EXPECT_TRUE(receipts->empty());
  auto due = archive().DueOutbox(kT0 + 1000, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_TRUE(due->empty());
  auto rosters = archive().RosterCount();
  ASSERT_TRUE(Ok(rosters));
  EXPECT_EQ(*rosters, 0);
  auto hits = archive().Search("doomed", 10);
  ASSERT_TRUE(Ok(hits));
  EXPECT_TRUE(hits->empty());

  // The id was not remembered as seen either: the message can still arrive.
  bool added_again = false;
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto added = archive().AddMessage(m);
    if (!added) return added.error();
    added_again = *added;
    return {};
  }));
  EXPECT_TRUE(added_again);
}

TEST_F(ArchiveTest, BatchRollsBackWhenAStatementFailsMidway) {
  const std::int64_t audits = AuditCount();
  MessageRecord good = Message("good", kT0, "fine", "fine");
  MessageRecord bad = Message("bad", kT0, "broken", "broken");
  bad.direction = "sideways";  // refused by the schema's CHECK
  auto st = archive().Batch([&]() -> ArchiveStatus {
    if (auto s = archive().Audit(kT0, "bob", "receive", "two messages"); !s) return s;
    for (const MessageRecord* m : {&good, &bad}) {
      auto added = archive().AddMessage(*m);
      if (!added) return added.error();
    }
    return {};
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kInvalid) << st.error().message;
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(AuditCount(), audits);
  ASSERT_TRUE(Reopen());
  count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 0);
}

// ---- search ---------------------------------------------------------------------------------

// A received notice is indexed by its subject only; once accepted, by subject and body as one
// item: a search may name words of both, finds the notice once, and shows its subject.
TEST_F(ArchiveTest, AnAcceptedNoticeIsFoundOnceBySubjectAndBody) {
  NoticeRecord n = Notice("n-in", "Courier seized in Dakar", "", kT0);
  n.direction = "in";
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus { return archive().AddNotice(n); }));
  auto before = archive().Search("passports", 10);
  ASSERT_TRUE(Ok(before));
  EXPECT_TRUE(before->empty());
  auto listed = archive().Notices();
  ASSERT_TRUE(Ok(listed));
  ASSERT_EQ(listed->size(), 1u);
  const std::int64_t number = listed->front().number;
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    return archive().AcceptNotice(number, kT0 + 60, "A courier carrying forged passports was stopped.");
  }));

  for (const char* query : {"courier", "passports", "Dakar passports"}) {
    auto hits = archive().Search(query, 10);
    ASSERT_TRUE(Ok(hits));
    ASSERT_EQ(hits->size(), 1u) << query;
    EXPECT_EQ((*hits)[0].kind, "notice");
    EXPECT_EQ((*hits)[0].subject, "Courier seized in Dakar") << query;
    EXPECT_EQ((*hits)[0].message_id, IdOf("n-in"));
    auto count = archive().CountMatches(query);
    ASSERT_TRUE(Ok(count));
    EXPECT_EQ(*count, 1) << query;
  }
}

TEST_F(ArchiveTest, SearchFindsMessagesDraftsAndNoticesNewestFirst) {
  MessageRecord oldest = Message("m-old", kT0 + 100, "Extradition request", "first contact");
  MessageRecord newest = Message("m-new", kT0 + 400, "Follow-up", "the extradition hearing is set");
  oldest.thread_uid = "t1";
  ASSERT_TRUE(AddMessages({newest, oldest}));  // stored in the other order
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    if (auto s = archive().PutThread(Thread("t1", "Extradition of J. Doe", kT0)); !s) return s;
    if (auto s = archive().AddDraft(Draft("t1", 1, "draft wording", kT0 + 300)); !s) return s;
    return archive().AddNotice(Notice("n1", "Notice", "extradition treaty amended", kT0 + 200));
  }));
  ASSERT_TRUE(AddMessages({Message("unrelated", kT0 + 500, "Other", "nothing to see")}));

  auto hits = archive().Search("extradition", 10);
  ASSERT_TRUE(Ok(hits));
  ASSERT_EQ(hits->size(), 4u);
  std::vector<std::int64_t> times;
  std::vector<std::string> kinds;
  for (const SearchHit& h : *hits) {
    times.push_back(h.created_at);
    kinds.push_back(h.kind);
  }
  EXPECT_EQ(times, (std::vector<std::int64_t>{kT0 + 400, kT0 + 300, kT0 + 200, kT0 + 100}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"message", "draft", "notice", "message"}));
  EXPECT_EQ((*hits)[0].message_id, newest.message_id);
  EXPECT_EQ((*hits)[0].subject, "Follow-up");
  EXPECT_EQ((*hits)[0].sender, newest.sender);
  EXPECT_EQ((*hits)[1].thread_uid, "t1");
  EXPECT_EQ((*hits)[1].subject, "Extradition of J. Doe");  // a draft is found under its thread's subject
  EXPECT_EQ((*hits)[1].message_id, Draft("t1", 1, "", 0).message_id);
  EXPECT_EQ((*hits)[2].message_id, IdOf("n1"));
  EXPECT_EQ((*hits)[3].thread_uid, "t1");

  auto two = archive().Search("extradition", 2);
  ASSERT_TRUE(Ok(two));
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].created_at, kT0 + 400);
  EXPECT_EQ((*two)[1].created_at, kT0 + 300);

  auto one = archive().Search("hearing", 10);  // a body word
  ASSERT_TRUE(Ok(one));
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].message_id, newest.message_id);

  auto none = archive().Search("absent", 10);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
}

TEST_F(ArchiveTest, SearchLimitHoldsAcrossManyHits) {
  std::vector<MessageRecord> ms;
  for (int i = 0; i < 30; ++i) ms.push_back(Message("m" + std::to_string(i), kT0 + (i * 7919) % 30, "rogatory", "x"));
  ASSERT_TRUE(AddMessages(ms));
  auto hits = archive().Search("rogatory", 12);
  ASSERT_TRUE(Ok(hits));
  ASSERT_EQ(hits->size(), 12u);
  for (std::size_t i = 0; i < hits->size(); ++i) {
    EXPECT_EQ((*hits)[i].created_at, kT0 + 29 - static_cast<std::int64_t>(i));
  }
}

TEST_F(ArchiveTest, MalformedSearchQueryIsInvalidNotACrash) {
  ASSERT_TRUE(AddMessages({Message("m1", kT0, "freezing order", "assets")}));
  // Malformed in FTS4's standard query syntax (this SQLCipher has no parenthesis syntax).
  for (const std::string& bad : {std::string("\"freezing"), std::string("-freezing"), std::string("OR freezing"),
                                  std::string("freezing OR")}) {
    SCOPED_TRACE(bad);
    auto hits = archive().Search(bad, 10);
    ASSERT_FALSE(hits.ok()) << "a malformed query must be refused";
    EXPECT_EQ(hits.error().code, ArchiveCode::kInvalid) << hits.error().message;
  }
  // The next search, and a write, still work.
  auto good = archive().Search("freezing", 10);
  ASSERT_TRUE(Ok(good));
  EXPECT_EQ(good->size(), 1u);
  ASSERT_TRUE(AddMessages({Message("m2", kT0 + 1, "freezing again", "x")}));
}

// ---- outbox ---------------------------------------------------------------------------------

OutboxEntry Outgoing(std::string_view tag, std::string recipient, std::int64_t next_attempt_at) {
  return OutboxEntry{0, IdOf(tag), std::move(recipient), ToBytes("envelope " + std::string(tag)), next_attempt_at, 0,
                     next_attempt_at + 86'400};
}

std::vector<std::string> Recipients(const std::vector<OutboxEntry>& due) {
  std::vector<std::string> out;
  for (const auto& e : due) out.push_back(e.recipient);
  return out;
}

TEST_F(ArchiveTest, DueOutboxRespectsTimeOrderAndLimit) {
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    for (const OutboxEntry& e : {Outgoing("a", "late@x", kT0 + 50), Outgoing("b", "now@x", kT0),
                                 Outgoing("c", "early@x", kT0 - 50), Outgoing("d", "future@x", kT0 + 1000),
                                 Outgoing("e", "now-too@x", kT0)}) {
      if (auto s = archive().Enqueue(e); !s) return s;
    }
    return {};
  }));
  auto due = archive().DueOutbox(kT0, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(Recipients(*due), (std::vector<std::string>{"early@x", "now@x", "now-too@x"}));
  due = archive().DueOutbox(kT0 + 100, 2);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(Recipients(*due), (std::vector<std::string>{"early@x", "now@x"}));
  due = archive().DueOutbox(kT0 - 51, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_TRUE(due->empty());

  due = archive().DueOutbox(kT0 + 1000, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 5u);
  const OutboxEntry& first = (*due)[0];
  EXPECT_EQ(first.message_id, IdOf("c"));
  EXPECT_EQ(first.envelope, ToBytes("envelope c"));
  EXPECT_EQ(first.next_attempt_at, kT0 - 50);
  EXPECT_EQ(first.attempts, 0);
  EXPECT_EQ(first.expires_at, kT0 - 50 + 86'400);
  EXPECT_GT(first.id, 0);
}

TEST_F(ArchiveTest, RecordAttemptCountsAndPostpones) {
  ASSERT_TRUE(InBatch([&] { return archive().Enqueue(Outgoing("a", "bob@x", kT0)); }));
  ASSERT_TRUE(InBatch([&] { return archive().Enqueue(Outgoing("b", "carol@x", kT0 + 10)); }));
  auto due = archive().DueOutbox(kT0, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u);
  const std::int64_t id = (*due)[0].id;

  ASSERT_TRUE(InBatch([&] { return archive().RecordAttempt(id, kT0 + 60); }));
  due = archive().DueOutbox(kT0 + 59, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(Recipients(*due), (std::vector<std::string>{"carol@x"}));
  ASSERT_TRUE(InBatch([&] { return archive().RecordAttempt(id, kT0 + 120); }));
  due = archive().DueOutbox(kT0 + 120, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[1].id, id);  // now after carol's, which is due earlier
  EXPECT_EQ((*due)[1].attempts, 2);
  EXPECT_EQ((*due)[1].next_attempt_at, kT0 + 120);
  EXPECT_EQ((*due)[0].attempts, 0);

  bool removed = false;
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto r = archive().RemoveFromOutbox(id);
    if (!r) return r.error();
    removed = *r;
    return {};
  }));
  EXPECT_TRUE(removed);
  // A second removal finds nothing: the caller learns that it was settled already.
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto r = archive().RemoveFromOutbox(id);
    if (!r) return r.error();
    removed = *r;
    return {};
  }));
  EXPECT_FALSE(removed);
  due = archive().DueOutbox(kT0 + 10'000, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(Recipients(*due), (std::vector<std::string>{"carol@x"}));
  ASSERT_TRUE(Reopen());
  due = archive().DueOutbox(kT0 + 10'000, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(Recipients(*due), (std::vector<std::string>{"carol@x"}));
}

TEST_F(ArchiveTest, EnqueueingTheSameMessageForTheSameRecipientTwiceIsInvalid) {
  ASSERT_TRUE(InBatch([&] { return archive().Enqueue(Outgoing("a", "bob@x", kT0)); }));
  auto st = archive().Batch([&] { return archive().Enqueue(Outgoing("a", "bob@x", kT0 + 5)); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kInvalid);
  ASSERT_TRUE(InBatch([&] { return archive().Enqueue(Outgoing("a", "carol@x", kT0)); }));
  auto due = archive().DueOutbox(kT0 + 100, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(due->size(), 2u);
}

// What the daemon asks of the outbox: a relay's queue-once, retries apart from first tries,
// making a returning member's entries due, finding an entry, and the depths per recipient
// (with what is held for others, whose message this archive does not have).
TEST_F(ArchiveTest, OutboxForTheDaemonRelayQueueRetriesAndDepths) {
  ASSERT_TRUE(AddMessages({Message("own", kT0, "own", "own message")}));
  auto queued = archive().Batch([&]() -> ArchiveStatus {
    if (auto s = archive().Enqueue(Outgoing("own", "bob@x", kT0)); !s) return s;
    for (const char* tag : {"relayed-1", "relayed-2"}) {
      auto once = archive().EnqueueOnce(Outgoing(tag, "bob@x", kT0 + 10));
      if (!once) return once.error();
      if (!*once) return Fail(ArchiveCode::kInvalid, "first EnqueueOnce said duplicate");
    }
    auto again = archive().EnqueueOnce(Outgoing("relayed-1", "bob@x", kT0 + 20));
    if (!again) return again.error();
    if (*again) return Fail(ArchiveCode::kInvalid, "second EnqueueOnce queued it again");
    return archive().EnqueueOnce(Outgoing("relayed-1", "carol@x", kT0 + 20)).ok()
               ? ArchiveStatus{}
               : Fail(ArchiveCode::kIo, "EnqueueOnce for another recipient failed");
  });
  ASSERT_TRUE(Ok(queued));
  auto count = archive().OutboxCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 4);
  auto depths = archive().OutboxDepths();
  ASSERT_TRUE(Ok(depths));
  using Depth = std::tuple<std::string, std::int64_t, std::int64_t>;
  EXPECT_EQ(*depths, (std::vector<Depth>{{"bob@x", 3, 2}, {"carol@x", 1, 1}}));

  auto found = archive().FindInOutbox(IdOf("relayed-2"), "bob@x");
  ASSERT_TRUE(Ok(found));
  ASSERT_TRUE(found->has_value());
  auto none = archive().FindInOutbox(IdOf("relayed-2"), "carol@x");
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());

  // One sent (a retry from then on), the others never sent.
  ASSERT_TRUE(InBatch([&] { return archive().RecordAttempt(**found, kT0 + 500); }));
  auto retries = archive().DueOutboxOf(kT0 + 1000, 10, true);
  auto firsts = archive().DueOutboxOf(kT0 + 1000, 10, false);
  ASSERT_TRUE(Ok(retries) && Ok(firsts));
  ASSERT_EQ(retries->size(), 1u);
  EXPECT_EQ((*retries)[0].message_id, IdOf("relayed-2"));
  EXPECT_EQ(firsts->size(), 3u);
  retries = archive().DueOutboxOf(kT0 + 499, 10, true);
  ASSERT_TRUE(Ok(retries));
  EXPECT_TRUE(retries->empty());

  // bob comes back: what waits for him is due now, and nobody else's.
  ASSERT_TRUE(InBatch([&] { return archive().ExpediteOutbox("bob@x", kT0 + 1); }));
  retries = archive().DueOutboxOf(kT0 + 1, 10, true);
  ASSERT_TRUE(Ok(retries));
  EXPECT_EQ(retries->size(), 1u);
  firsts = archive().DueOutboxOf(kT0 + 1, 10, false);
  ASSERT_TRUE(Ok(firsts));
  EXPECT_EQ(Recipients(*firsts), (std::vector<std::string>{"bob@x", "bob@x"}));  // carol's is still at kT0 + 20
}

// ---- receipts and rosters -------------------------------------------------------------------

TEST_F(ArchiveTest, ReceiptsIgnoreDuplicatesAndListInArrivalOrder) {
  const Bytes id = IdOf("m1");
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    for (const ReceiptRecord& r : {Receipt(id, "carol", "custody", kT0), Receipt(id, "carol", "delivered", kT0 + 1),
                                   Receipt(id, "carol", "custody", kT0 + 2), Receipt(id, "dave", "read", kT0 + 3),
                                   Receipt(IdOf("m2"), "carol", "read", kT0 + 4)}) {
      if (auto s = archive().AddReceipt(r); !s) return s;
    }
    return {};
  }));
  ASSERT_TRUE(InBatch([&] { return archive().AddReceipt(Receipt(id, "dave", "read", kT0 + 9)); }));
  auto rs = archive().Receipts(id);
  ASSERT_TRUE(Ok(rs));
  ASSERT_EQ(rs->size(), 3u);
  EXPECT_EQ((*rs)[0].party, "carol");
  EXPECT_EQ((*rs)[0].kind, "custody");
  EXPECT_EQ((*rs)[0].received_at, kT0);  // the first one counts
  EXPECT_EQ((*rs)[0].signed_receipt, ToBytes("signed custody"));
  EXPECT_EQ((*rs)[0].message_id, id);
  EXPECT_EQ((*rs)[1].kind, "delivered");
  EXPECT_EQ((*rs)[2].party, "dave");
  EXPECT_EQ((*rs)[2].received_at, kT0 + 3);
  auto other = archive().Receipts(IdOf("m2"));
  ASSERT_TRUE(Ok(other));
  EXPECT_EQ(other->size(), 1u);
  auto none = archive().Receipts(IdOf("m3"));
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
}

TEST_F(ArchiveTest, RostersAreRecordedOncePerVersion) {
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    if (auto s = archive().RecordRoster("net-a", 1, ToBytes("r1"), kT0); !s) return s;
    if (auto s = archive().RecordRoster("net-a", 2, ToBytes("r2"), kT0); !s) return s;
    if (auto s = archive().RecordRoster("net-a", 1, ToBytes("r1 again"), kT0); !s) return s;
    return archive().RecordRoster("net-b", 1, ToBytes("b1"), kT0);
  }));
  auto n = archive().RosterCount();
  ASSERT_TRUE(Ok(n));
  EXPECT_EQ(*n, 3);
}

// ---- attachments ----------------------------------------------------------------------------

std::string BlobOf(Archive& a, const Bytes& hash, ArchiveStatus* status) {
  std::ostringstream out;
  *status = a.ReadAttachment(hash, out);
  return out.str();
}

TEST_F(ArchiveTest, AttachmentsRoundTripAtEverySize) {
  const std::vector<std::size_t> sizes = {0, 1, 100, 4096, 65535, 65536, 65537, 3 * 65536 + 17};
  std::vector<AttachmentRecord> recs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(sizes[i]);
    const std::string content = Content(sizes[i], static_cast<int>(i));
    auto rec = Attach(content, "file-" + std::to_string(i) + ".pdf", kT0);
    ASSERT_TRUE(Ok(rec));
    EXPECT_EQ(rec->size, sizes[i]);
    EXPECT_EQ(rec->content_hash, crypto::Blake2b(crypto::AsBytes(content), 32));
    EXPECT_EQ(rec->name, "file-" + std::to_string(i) + ".pdf");
    recs.push_back(*rec);
  }
  ASSERT_TRUE(Reopen());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(sizes[i]);
    ArchiveStatus st;
    std::string back = BlobOf(archive(), recs[i].content_hash, &st);
    ASSERT_TRUE(Ok(st));
    EXPECT_EQ(back, Content(sizes[i], static_cast<int>(i)));
  }
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
}

TEST_F(ArchiveTest, SameContentTwiceIsStoredAsOneBlob) {
  const std::string content = Content(100'000, 3);
  auto a = Attach(content, "a.pdf", kT0);
  ASSERT_TRUE(Ok(a));
  auto b = Attach(content, "copy of a.pdf", kT0 + 5);
  ASSERT_TRUE(Ok(b));
  EXPECT_EQ(a->content_hash, b->content_hash);
  auto files = FilesUnder(blob_dir());
  ASSERT_EQ(files.size(), 1u) << "one blob file for one content";
  auto c = Attach(Content(100'000, 4), "c.pdf", kT0);
  ASSERT_TRUE(Ok(c));
  EXPECT_EQ(FilesUnder(blob_dir()).size(), 2u);
  ArchiveStatus st;
  EXPECT_EQ(BlobOf(archive(), a->content_hash, &st), content);
  EXPECT_TRUE(Ok(st));
}

TEST_F(ArchiveTest, BlobFileNamesDoNotRevealTheContentHash) {
  std::vector<Bytes> hashes;
  for (int i = 0; i < 5; ++i) {
    auto rec = Attach(Content(1000 + static_cast<std::size_t>(i), i), "f" + std::to_string(i), kT0);
    ASSERT_TRUE(Ok(rec));
    hashes.push_back(rec->content_hash);
  }
  auto files = FilesUnder(blob_dir());
  ASSERT_EQ(files.size(), hashes.size());
  for (const std::string& f : files) {
    const std::string rel = f.substr(blob_dir().size());
    EXPECT_EQ(rel.find("incoming"), std::string::npos) << "temporary file left behind: " << f;
    for (const Bytes& h : hashes) {
      const std::string hex = crypto::ToHex(h);
      EXPECT_EQ(rel.find(hex.substr(0, 16)), std::string::npos) << rel << " reveals content hash " << hex;
    }
  }
}

TEST_F(ArchiveTest, UnknownAttachmentIsMissing) {
  std::ostringstream out;
  auto st = archive().ReadAttachment(IdOf("nothing"), out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kMissing);
}

TEST_F(ArchiveTest, VerifyReportsATamperedBlob) {
  auto rec = Attach(Content(70'000, 1), "evidence.pdf", kT0);
  ASSERT_TRUE(Ok(rec));
  auto files = FilesUnder(blob_dir());
  ASSERT_EQ(files.size(), 1u);
  std::string blob = ReadAll(files[0]);
  ASSERT_GT(blob.size(), 1000u);
  blob[blob.size() / 2] = static_cast<char>(blob[blob.size() / 2] ^ 0x01);
  ASSERT_TRUE(WriteAll(files[0], blob));

  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_FALSE(report->ok);
  EXPECT_NE(report->first_break.find(files[0]), std::string::npos) << report->first_break;
  std::ostringstream out;
  auto st = archive().ReadAttachment(rec->content_hash, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kDamaged);
}

TEST_F(ArchiveTest, VerifyReportsAMissingBlob) {
  auto rec = Attach(Content(10, 1), "evidence.pdf", kT0);
  ASSERT_TRUE(Ok(rec));
  auto files = FilesUnder(blob_dir());
  ASSERT_EQ(files.size(), 1u);
  ASSERT_TRUE(fs::remove(files[0]));
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_FALSE(report->ok);
  EXPECT_NE(report->first_break.find("missing"), std::string::npos) << report->first_break;
  EXPECT_NE(report->first_break.find(files[0]), std::string::npos) << report->first_break;
}

TEST_F(ArchiveTest, VerifyReportsABlobSwappedForAnother) {
  auto a = Attach(Content(5000, 1), "a", kT0);
  ASSERT_TRUE(Ok(a));
  auto files_a = FilesUnder(blob_dir());
  ASSERT_EQ(files_a.size(), 1u);
  auto b = Attach(Content(5000, 2), "b", kT0);
  ASSERT_TRUE(Ok(b));
  std::string path_b;
  for (const std::string& f : FilesUnder(blob_dir())) {
    if (f != files_a[0]) path_b = f;
  }
  ASSERT_FALSE(path_b.empty());
  // Each blob has its own key, so b's file under a's name does not decrypt.
  ASSERT_TRUE(WriteAll(files_a[0], ReadAll(path_b)));
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_FALSE(report->ok);
}

TEST_F(ArchiveTest, AttachmentRolledBackWithItsBatchLeavesNoRow) {
  const std::string content = Content(2000, 9);
  auto st = archive().Batch([&]() -> ArchiveStatus {
    std::istringstream in(content);
    auto rec = archive().AddAttachment(in, "x", "text/plain", IdOf("m"), kT0);
    if (!rec) return rec.error();
    return Fail(ArchiveCode::kInvalid, "changed my mind");
  });
  ASSERT_FALSE(st.ok());
  std::ostringstream out;
  auto read = archive().ReadAttachment(crypto::Blake2b(crypto::AsBytes(content), 32), out);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ArchiveCode::kMissing);
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
  // Adding it again for real works and reads back.
  auto rec = Attach(content, "x", kT0);
  ASSERT_TRUE(Ok(rec));
  ArchiveStatus rs;
  EXPECT_EQ(BlobOf(archive(), rec->content_hash, &rs), content);
  EXPECT_TRUE(Ok(rs));
}

}  // namespace
}  // namespace comity::archive::test
