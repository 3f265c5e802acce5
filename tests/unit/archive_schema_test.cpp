// Tests of node/archive/schema.cpp through Archive::OpenRaw: a database made at every earlier
// schema version, holding the rows that version could hold (written with raw SQL, as that
// build would have), migrates to kSchemaVersion with every row intact and everything written
// before search existed found by Search. A database from a newer build is refused.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/stream.h"
#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

// Rows as the build of each schema version wrote them. Every text holds the word "legacy".
MessageRecord V1Message() {
  MessageRecord m = Message("m-v1", kT0 + 10, "Warrant", "legacy european arrest warrant quokka");
  m.envelope = Bytes{0, 1, 2, 3, 0};
  return m;
}
MessageRecord V2Message() {
  MessageRecord m = Message("m-v2", kT0 + 40, "Hearing", "legacy hearing platypus");
  m.thread_uid = "t-v2";
  return m;
}
DraftVersion V2Draft() { return Draft("t-v2", 1, "legacy draft wombat wording", kT0 + 20); }
NoticeRecord V2Notice() { return Notice("n-v2", "Treaty notice", "legacy numbat amendment", kT0 + 30); }
const std::string kV2Attachment = Content(70'000, 42);

// What the build of schema version 3 added for each text it stored: a search item, and the
// text again in the full-text table (which kept its own copy then).
ArchiveStatus IndexRawV3(Archive& a, const std::string& kind, const Bytes& ref, const std::string& thread_uid,
                         const std::string& sender, const std::string& subject, const std::string& body,
                         std::int64_t created_at) {
  auto item = a.db().Prepare(
      "INSERT INTO search_items (kind, ref, thread_uid, sender, subject, created_at, newest_at) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, max(?6, coalesce((SELECT newest_at FROM search_items ORDER BY id DESC LIMIT 1), ?6)))");
  if (!item) return item.error();
  if (auto st = (*item)->Reset().Bind(1, kind).BindBlob(2, ref).Bind(3, thread_uid).Bind(4, sender).Bind(5, subject)
                    .Bind(6, created_at).Run();
      !st) {
    return st;
  }
  auto text = a.db().Prepare("INSERT INTO search_text (docid, subject, body) VALUES (?1, ?2, ?3)");
  if (!text) return text.error();
  return (*text)->Reset().Bind(1, a.db().LastInsertRowid()).Bind(2, subject).Bind(3, body).Run();
}

ArchiveStatus InsertMessageRaw(Archive& a, const MessageRecord& m, int version) {
  // Version 1 has no thread_uid column.
  const bool threads = version >= 2;
  const std::string sql = std::string(
                              "INSERT INTO messages (message_id, direction, sender, recipients, created_at, stored_at, "
                              "content_type, envelope, content, subject, body") +
                          (threads ? ", thread_uid" : "") + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11" +
                          (threads ? ", ?12" : "") + ")";
  auto s = a.db().Prepare(sql);
  if (!s) return s.error();
  Stmt& q = (*s)->Reset();
  q.BindBlob(1, m.message_id).Bind(2, m.direction).Bind(3, m.sender).Bind(4, m.recipients).Bind(5, m.created_at)
      .Bind(6, m.stored_at).Bind(7, m.content_type).BindBlob(8, m.envelope).BindBlob(9, m.content).Bind(10, m.subject)
      .Bind(11, m.body);
  if (threads) q.Bind(12, m.thread_uid);
  if (auto st = q.Run(); !st) return st;
  auto seen = a.db().Prepare("INSERT INTO seen_ids (message_id, seen_at) VALUES (?1, ?2)");
  if (!seen) return seen.error();
  if (auto st = (*seen)->Reset().BindBlob(1, m.message_id).Bind(2, m.stored_at).Run(); !st) return st;
  if (version < 3) return {};
  return IndexRawV3(a, "message", m.message_id, m.thread_uid, m.sender, m.subject, m.body, m.created_at);
}

// What the build of schema version 1 could store.
ArchiveStatus WriteV1Rows(Archive& a, int version) {
  return a.Batch([&]() -> ArchiveStatus {
    if (auto st = InsertMessageRaw(a, V1Message(), version); !st) return st;
    if (auto st = a.RecordRoster("net-a", 1, ToBytes("signed roster"), kT0); !st) return st;
    if (auto st = a.Enqueue({0, IdOf("m-v1"), "bob@x", ToBytes("env"), kT0, 0, 0}); !st) return st;
    // As versions 1 to 5 stored a receipt: its signed receipt in the row (no evidence_id).
    const ReceiptRecord r = Receipt(IdOf("m-v1"), "bob@x", "delivered", kT0 + 11);
    auto receipt = a.db().Prepare(
        "INSERT INTO receipts (message_id, party, kind, signed_receipt, received_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!receipt) return receipt.error();
    if (auto st = (*receipt)->Reset().BindBlob(1, r.message_id).Bind(2, r.party).Bind(3, r.kind)
                      .BindBlob(4, r.signed_receipt).Bind(5, r.received_at).Run();
        !st) {
      return st;
    }
    return a.Audit(kT0 + 10, "clerk", "receive", "m-v1 at version " + std::to_string(version));
  });
}

// An attachment as the builds of schema versions 2 to 4 stored it: the blob file (named as
// AttachmentRepository::BlobPath names it) and a row without the stream columns of version 5.
ArchiveStatus InsertAttachmentRaw(Archive& a, const std::string& content, crypto::ByteView message_id,
                                  std::int64_t at) {
  auto meta = a.db().Prepare("SELECT value FROM meta WHERE name = 'blob_name_key'");
  if (!meta) return meta.error();
  auto row = (*meta)->Reset().Step();
  if (!row) return row.error();
  if (!*row) return ArchiveError{ArchiveCode::kDamaged, "no blob_name_key"};
  const crypto::Bytes name_key = (*meta)->Blob(0);
  (*meta)->Reset();
  const crypto::Bytes hash = crypto::Blake2b(crypto::AsBytes(content), 32);
  const std::string name = crypto::ToHex(crypto::Blake2bKeyed(name_key, hash, 32));
  const std::string dir = a.blob_dir() + "/" + name.substr(0, 2);
  ::mkdir(a.blob_dir().c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  crypto::SecretBytes key(32);
  randombytes_buf(key.data(), key.size());
  std::istringstream in(content);
  std::ofstream out(dir + "/" + name, std::ios::binary);
  if (!crypto::EncryptStream(key, in, out) || !out.flush()) return ArchiveError{ArchiveCode::kIo, "blob"};
  auto ins = a.db().Prepare(
      "INSERT INTO attachments (content_hash, size, name, media_type, message_id, file_key, stored_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return ins.error();
  return (*ins)->Reset().BindBlob(1, hash).Bind(2, static_cast<std::int64_t>(content.size())).Bind(3, "v2.pdf")
      .Bind(4, "application/pdf").BindBlob(5, message_id).BindBlob(6, key.view()).Bind(7, at).Run();
}

// What the build of schema version 2 (or 3, which also indexed) could store besides.
ArchiveStatus WriteV2Rows(Archive& a, int version) {
  return a.Batch([&]() -> ArchiveStatus {
    // As the build of version 2 wrote it (PutThread writes columns of version 7).
    const ThreadRecord t = Thread("t-v2", "Extradition of X", kT0);
    auto thread = a.db().Prepare(
        "INSERT INTO threads (thread_uid, subject, kind, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!thread) return thread.error();
    if (auto st = (*thread)->Reset().Bind(1, t.thread_uid).Bind(2, t.subject).Bind(3, t.kind).Bind(4, t.status)
                      .Bind(5, t.created_at).Bind(6, t.updated_at).Run();
        !st) {
      return st;
    }
    const DraftVersion d = V2Draft();
    auto draft = a.db().Prepare(
        "INSERT INTO draft_versions (thread_id, version, message_id, author, text, created_at) "
        "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM threads WHERE thread_uid = ?1");
    if (!draft) return draft.error();
    if (auto st = (*draft)->Reset().Bind(1, d.thread_uid).Bind(2, d.version).BindBlob(3, d.message_id)
                      .Bind(4, d.author).Bind(5, d.text).Bind(6, d.created_at).Run();
        !st) {
      return st;
    }
    if (version >= 3) {
      if (auto st = IndexRawV3(a, "draft", d.message_id, d.thread_uid, d.author, "Extradition of X", d.text,
                               d.created_at);
          !st) {
        return st;
      }
    }
    const NoticeRecord n = V2Notice();
    auto notice = a.db().Prepare(
        "INSERT INTO notices (message_id, sender, subject, body, confidentiality, use_conditions, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!notice) return notice.error();
    if (auto st = (*notice)->Reset().BindBlob(1, n.message_id).Bind(2, n.sender).Bind(3, n.subject).Bind(4, n.body)
                      .Bind(5, n.confidentiality).Bind(6, n.use_conditions).Bind(7, n.created_at).Run();
        !st) {
      return st;
    }
    if (version >= 3) {
      if (auto st = IndexRawV3(a, "notice", n.message_id, "", n.sender, n.subject, n.body, n.created_at); !st) return st;
    }
    if (auto st = InsertMessageRaw(a, V2Message(), version); !st) return st;
    if (auto st = InsertAttachmentRaw(a, kV2Attachment, IdOf("m-v2"), kT0 + 40); !st) return st;
    return a.Audit(kT0 + 40, "clerk", "receive", "m-v2");
  });
}

std::vector<std::string> KindsOf(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.kind + "@" + std::to_string(h.created_at - kT0));
  return out;
}

// Everything written at `written_up_to` (1 or 2) is there, at kSchemaVersion, and searchable.
void ExpectMigratedRows(Archive& a, int written_up_to) {
  EXPECT_EQ(a.schema_version(), kSchemaVersion);
  auto m1 = a.GetMessage(IdOf("m-v1"));
  ASSERT_TRUE(Ok(m1));
  ASSERT_TRUE(m1->has_value());
  EXPECT_EQ((*m1)->body, V1Message().body);
  EXPECT_EQ((*m1)->subject, V1Message().subject);
  // Each text is stored once: the full-text table keeps no copy (external content), and
  // messages no longer carry the subject and body themselves.
  auto copies = a.db().Prepare("SELECT count(*) FROM sqlite_master WHERE name GLOB 'search_text*_content'");
  ASSERT_TRUE(Ok(copies));
  ASSERT_TRUE(Ok((*copies)->Reset().Step()));
  EXPECT_EQ((*copies)->Int(0), 0);
  (*copies)->Reset();
  // The migration made the first full-text partition as SearchIndex makes the others.
  auto first = a.db().Prepare("SELECT sql FROM sqlite_master WHERE name = 'search_text_0'");
  ASSERT_TRUE(Ok(first));
  ASSERT_TRUE(Ok((*first)->Reset().Step()));
  EXPECT_EQ((*first)->Text(0), std::string("CREATE VIRTUAL TABLE search_text_0 USING ") + SearchIndex::kPartDefinition);
  (*first)->Reset();
  for (const char* column : {"subject", "body", "envelope"}) {
    EXPECT_FALSE(a.db().Prepare(std::string("SELECT ") + column + " FROM messages").ok()) << column;
  }
  EXPECT_EQ((*m1)->envelope, V1Message().envelope);
  EXPECT_EQ((*m1)->thread_uid, "");
  auto rosters = a.RosterCount();
  ASSERT_TRUE(Ok(rosters));
  EXPECT_EQ(*rosters, 1);
  auto due = a.DueOutbox(kT0, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(due->size(), 1u);
  auto receipts = a.Receipts(IdOf("m-v1"));
  ASSERT_TRUE(Ok(receipts));
  ASSERT_EQ(receipts->size(), 1u);
  // A receipt row from before version 6 keeps its signed receipt in the row itself.
  EXPECT_EQ((*receipts)[0].signed_receipt, Receipt(IdOf("m-v1"), "bob@x", "delivered", kT0 + 11).signed_receipt);

  auto quokka = a.Search("quokka", 10);
  ASSERT_TRUE(Ok(quokka));
  ASSERT_EQ(quokka->size(), 1u) << "a message from before search existed must be found";
  EXPECT_EQ((*quokka)[0].kind, "message");
  EXPECT_EQ((*quokka)[0].message_id, IdOf("m-v1"));
  EXPECT_EQ((*quokka)[0].subject, "Warrant");
  auto warrant = a.Search("warrant", 10);  // subject and body
  ASSERT_TRUE(Ok(warrant));
  EXPECT_EQ(warrant->size(), 1u);

  if (written_up_to >= 2) {
    auto thread = a.GetThread("t-v2");
    ASSERT_TRUE(Ok(thread));
    ASSERT_TRUE(thread->has_value());
    auto drafts = a.Drafts("t-v2");
    ASSERT_TRUE(Ok(drafts));
    ASSERT_EQ(drafts->size(), 1u);
    EXPECT_EQ((*drafts)[0].text, V2Draft().text);
    auto m2 = a.GetMessage(IdOf("m-v2"));
    ASSERT_TRUE(Ok(m2));
    ASSERT_TRUE(m2->has_value());
    EXPECT_EQ((*m2)->thread_uid, "t-v2");
    std::ostringstream out;
    ASSERT_TRUE(Ok(a.ReadAttachment(crypto::Blake2b(crypto::AsBytes(kV2Attachment), 32), out)));
    EXPECT_TRUE(out.str() == kV2Attachment);
    // Version 5 names attachments by their stream too; a row from before gets it on first use.
    auto rec = a.GetAttachment(crypto::Blake2b(crypto::AsBytes(kV2Attachment), 32));
    ASSERT_TRUE(Ok(rec));
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ((*rec)->stream_size, crypto::StreamSizeFor(kV2Attachment.size()));
    auto blob = a.BlobOfStream((*rec)->stream_hash);
    ASSERT_TRUE(Ok(blob));
    ASSERT_TRUE(blob->has_value()) << "the backfilled stream hash finds the blob";
    std::ifstream file(**blob, std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    EXPECT_EQ((*rec)->stream_hash, crypto::Blake2b(crypto::AsBytes(bytes.str()), 32));

    auto platypus = a.Search("platypus", 10);
    ASSERT_TRUE(Ok(platypus));
    ASSERT_EQ(platypus->size(), 1u);
    EXPECT_EQ((*platypus)[0].thread_uid, "t-v2");
    auto wombat = a.Search("wombat", 10);
    ASSERT_TRUE(Ok(wombat));
    ASSERT_EQ(wombat->size(), 1u) << "a draft from before search existed must be found";
    EXPECT_EQ((*wombat)[0].kind, "draft");
    EXPECT_EQ((*wombat)[0].thread_uid, "t-v2");
    EXPECT_EQ((*wombat)[0].subject, "Extradition of X");
    EXPECT_EQ((*wombat)[0].message_id, V2Draft().message_id);
    auto numbat = a.Search("numbat", 10);
    ASSERT_TRUE(Ok(numbat));
    ASSERT_EQ(numbat->size(), 1u) << "a notice from before search existed must be found";
    EXPECT_EQ((*numbat)[0].kind, "notice");
    EXPECT_EQ((*numbat)[0].message_id, IdOf("n-v2"));
    auto legacy = a.Search("legacy", 10);
    ASSERT_TRUE(Ok(legacy));
    EXPECT_EQ(KindsOf(*legacy), (std::vector<std::string>{"message@40", "notice@30", "draft@20", "message@10"}));
  }
  auto report = a.Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
}

class ArchiveSchemaTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/archive.db"; }
  std::string blobs() const { return dir_.path() + "/blobs"; }
  ArchiveResult<std::unique_ptr<Archive>> OpenAt(int version) {
    return Archive::OpenRaw(path(), blobs(), key_, version);
  }

  TempDir dir_;
  crypto::SecretBytes key_ = RandomKey();
};

TEST_F(ArchiveSchemaTest, NewDatabaseIsAtTheNewestVersion) {
  auto a = OpenAt(kSchemaVersion);
  ASSERT_TRUE(Ok(a));
  EXPECT_EQ((*a)->schema_version(), kSchemaVersion);
  EXPECT_EQ(kSchemaVersion, 7);
}

TEST_F(ArchiveSchemaTest, EachVersionOpensAtThatVersion) {
  for (int v = 1; v <= kSchemaVersion; ++v) {
    SCOPED_TRACE(v);
    TempDir dir;
    auto a = Archive::OpenRaw(dir.path() + "/a.db", dir.path() + "/blobs", key_, v);
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ((*a)->schema_version(), v);
  }
}

// A migration path: the versions a database is opened at, in order; rows are written at
// each version along the way that can hold them.
struct MigrationPath {
  const char* name;
  std::vector<int> versions;
};

void PrintTo(const MigrationPath& path, std::ostream* os) { *os << path.name; }

class ArchiveMigrationTest : public ArchiveSchemaTest, public ::testing::WithParamInterface<MigrationPath> {};

TEST_P(ArchiveMigrationTest, RowsSurviveAndBecomeSearchable) {
  int written_up_to = 0;
  for (int v : GetParam().versions) {
    SCOPED_TRACE("opened at version " + std::to_string(v));
    auto a = OpenAt(v);
    ASSERT_TRUE(Ok(a));
    ASSERT_EQ((*a)->schema_version(), v);
    if (v == kSchemaVersion) {
      ExpectMigratedRows(**a, written_up_to);
      continue;
    }
    if (written_up_to < 1) {
      ASSERT_TRUE(Ok(WriteV1Rows(**a, v)));
      written_up_to = 1;
    }
    if (v >= 2 && written_up_to < 2) {
      ASSERT_TRUE(Ok(WriteV2Rows(**a, v)));
      written_up_to = 2;
    }
  }
  // Opening the newest schema again runs no migration and indexes nothing twice.
  auto again = OpenAt(kSchemaVersion);
  ASSERT_TRUE(Ok(again));
  ExpectMigratedRows(**again, written_up_to);
  // And the migrated archive takes new rows, ordered with the old ones.
  ASSERT_TRUE(Ok((*again)->Batch([&]() -> ArchiveStatus {
    auto added = (*again)->AddMessage(Message("m-v3", kT0 + 25, "New", "legacy word in a new message"));
    if (!added) return added.error();
    return {};
  })));
  auto legacy = (*again)->Search("legacy", 10);
  ASSERT_TRUE(Ok(legacy));
  ASSERT_FALSE(legacy->empty());
  EXPECT_EQ(KindsOf(*legacy).size(), written_up_to >= 2 ? 5u : 2u);
  for (std::size_t i = 1; i < legacy->size(); ++i) EXPECT_GE((*legacy)[i - 1].created_at, (*legacy)[i].created_at);
}

INSTANTIATE_TEST_SUITE_P(Paths, ArchiveMigrationTest,
                         ::testing::Values(MigrationPath{"From1", {1, 7}}, MigrationPath{"From2", {2, 7}},
                                           MigrationPath{"From3", {3, 7}}, MigrationPath{"From4", {2, 4, 7}},
                                           MigrationPath{"From5", {2, 5, 7}}, MigrationPath{"From6", {2, 6, 7}},
                                           MigrationPath{"From1Via2", {1, 2, 7}},
                                           MigrationPath{"From1Via2Via3Via4Via5Via6", {1, 2, 3, 4, 5, 6, 7}}),
                         [](const ::testing::TestParamInfo<MigrationPath>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(ArchiveSchemaTest, OpeningAtAnOlderTargetNeverGoesDown) {
  {
    auto a = OpenAt(kSchemaVersion);
    ASSERT_TRUE(Ok(a));
  }
  auto a = OpenAt(1);
  ASSERT_TRUE(Ok(a));
  EXPECT_EQ((*a)->schema_version(), kSchemaVersion);
}

TEST_F(ArchiveSchemaTest, NewerUserVersionIsRefused) {
  {
    auto a = OpenAt(kSchemaVersion);
    ASSERT_TRUE(Ok(a));
    ASSERT_TRUE(Ok((*a)->db().Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1))));
  }
  auto a = OpenAt(kSchemaVersion);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ArchiveCode::kInvalid);
  EXPECT_NE(a.error().message.find("newer"), std::string::npos) << a.error().message;
  EXPECT_NE(a.error().message.find(path()), std::string::npos) << a.error().message;
}

TEST(ArchiveHomeMigration, OpenMigratesAnOlderArchiveInItsHome) {
  TempDir home;
  const Bytes passphrase = ToBytes("migrate me");
  {
    auto created = Archive::Create(home.path(), passphrase, crypto::MinimumKdf());
    ASSERT_TRUE(Ok(created));
  }
  // Replace the new database with one at version 1 under the same key, as an older build left it.
  auto key = DeriveArchiveKey(passphrase, ReadAll(home.path() + "/archive.kdf"));
  ASSERT_TRUE(Ok(key));
  ASSERT_TRUE(fs::remove(home.path() + "/archive.db"));
  {
    auto old = Archive::OpenRaw(home.path() + "/archive.db", home.path() + "/blobs", *key, 1);
    ASSERT_TRUE(Ok(old));
    ASSERT_TRUE(Ok(WriteV1Rows(**old, 1)));
  }
  auto opened = Archive::Open(home.path(), passphrase);
  ASSERT_TRUE(Ok(opened));
  ExpectMigratedRows(**opened, 1);
}

}  // namespace
}  // namespace comity::archive::test
