// Tests of what the archive leaves on disk: a unique marker stored in every kind of content
// (messages, drafts, notices, receipts, the outbox, attachments, the audit log) must appear in
// no file under the home, whether the archive is open (database, -wal, -shm, blobs, kdf, a
// backup made into the home) or closed; temporary tables stay in memory; and what was
// committed survives the process dying (a copy of the files taken while open), while what was
// not committed does not appear.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

class ArchiveDiskTest : public ArchiveTest {
 protected:
  // Every regular file under the home whose bytes (or path) contain `needle`.
  std::vector<std::string> FilesContaining(const std::string& needle) {
    std::vector<std::string> found;
    const auto files = FilesUnder(home());
    EXPECT_FALSE(files.empty());
    for (const std::string& f : files) {
      if (f.find(needle) != std::string::npos || ReadAll(f).find(needle) != std::string::npos) found.push_back(f);
    }
    return found;
  }

  // The random part alone is searched for too: it is what no other file can hold by chance.
  const std::string secret_ = crypto::ToHex(crypto::RandomBytes(12));
  const std::string marker_ = "ComityMarker" + secret_;
};

TEST_F(ArchiveDiskTest, NoContentIsReadableInAnyFileOfTheHome) {
  const std::string& mk = marker_;
  MessageRecord m = Message("m1", kT0, "Subject " + mk, "Body " + mk + " and more body");
  m.content = ToBytes("content " + mk);
  m.envelope = ToBytes("envelope " + mk);
  m.recipients = "bob@x," + mk + "@x";
  std::string blob = Content(200'000, 5);
  for (std::size_t at : {std::size_t{0}, std::size_t{65'530}, std::size_t{131'070}, blob.size() - mk.size()}) {
    blob.replace(at, mk.size(), mk);
  }
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto added = archive().AddMessage(m);
    if (!added) return added.error();
    if (auto s = archive().PutThread(Thread("t1", "Thread " + mk, kT0)); !s) return s;
    if (auto s = archive().AddDraft(Draft("t1", 1, "Draft " + mk, kT0)); !s) return s;
    NoticeRecord n = Notice("n1", "Notice " + mk, "Notice body " + mk, kT0);
    n.use_conditions = "conditions " + mk;
    if (auto s = archive().AddNotice(n); !s) return s;
    ReceiptRecord r = Receipt(m.message_id, "bob@x", "read", kT0);
    r.signed_receipt = ToBytes("receipt " + mk);
    if (auto s = archive().AddReceipt(r); !s) return s;
    if (auto s = archive().Enqueue({0, m.message_id, "bob@x", ToBytes("outbox " + mk), kT0, 0, 0}); !s) return s;
    return archive().Audit(kT0, "clerk", "receive", "detail " + mk);
  }));
  auto attached = Attach(blob, "file " + mk + ".pdf", kT0);
  ASSERT_TRUE(Ok(attached));

  // The marker really is in the archive, readable through it.
  auto hits = archive().Search(mk, 10);
  ASSERT_TRUE(Ok(hits));
  EXPECT_EQ(hits->size(), 3u);  // the message, the draft, the notice
  std::ostringstream back;
  ASSERT_TRUE(Ok(archive().ReadAttachment(attached->content_hash, back)));
  ASSERT_TRUE(back.str() == blob);

  // A purge of nothing (checkpoints the WAL), then more content left in the WAL, and a backup
  // written into the home.
  auto purge = archive().Purge(kT0 - 1000, kT0, "clerk");
  ASSERT_TRUE(Ok(purge));
  ASSERT_TRUE(AddMessages({Message("m2", kT0 + 1, "Later " + mk, "Later body " + mk)}));
  ASSERT_TRUE(Ok(archive().Backup(home() + "/archive.backup")));
  std::error_code ec;
  EXPECT_GT(fs::file_size(db_path() + "-wal", ec), 0u) << "the scan should see a WAL holding content";

  // The control: the scan does read the files (a backup starts with its magic).
  EXPECT_EQ(FilesContaining("COMITYB1"), std::vector<std::string>{home() + "/archive.backup"});
  for (const std::string& needle : {marker_, secret_}) {
    EXPECT_EQ(FilesContaining(needle), std::vector<std::string>{}) << "readable while open: " << needle;
  }
  archive_.reset();
  for (const std::string& needle : {marker_, secret_}) {
    EXPECT_EQ(FilesContaining(needle), std::vector<std::string>{}) << "readable after close: " << needle;
  }

  // And after purging all of it and closing again.
  ASSERT_TRUE(Reopen());
  auto all = archive().Purge(kT0 + 1'000'000, kT0 + 1'000'001, "clerk");
  ASSERT_TRUE(Ok(all));
  archive_.reset();
  for (const std::string& needle : {marker_, secret_}) {
    EXPECT_EQ(FilesContaining(needle), std::vector<std::string>{}) << "readable after purge: " << needle;
  }
}

TEST_F(ArchiveDiskTest, TemporaryTablesStayInMemory) {
  auto s = archive().db().Prepare("PRAGMA temp_store");
  ASSERT_TRUE(Ok(s));
  ASSERT_TRUE(Ok((*s)->Reset().Step()));
  const std::int64_t temp_store = (*s)->Int(0);
  (*s)->Reset();
  auto opts = archive().db().Prepare("PRAGMA compile_options");
  ASSERT_TRUE(Ok(opts));
  (*opts)->Reset();
  int compiled = 1;  // SQLite's default: files
  for (;;) {
    auto row = (*opts)->Step();
    ASSERT_TRUE(Ok(row));
    if (!*row) break;
    const std::string o = (*opts)->Text(0);
    if (o.rfind("TEMP_STORE=", 0) == 0) compiled = std::stoi(o.substr(11));
  }
  // 0 follows the compile-time default; 2 is memory; 3 is memory whatever the pragma says.
  const bool memory = compiled == 3 || temp_store == 2 || (temp_store == 0 && compiled == 2);
  EXPECT_TRUE(memory) << "temp_store " << temp_store << ", compiled TEMP_STORE=" << compiled;
}

// What a crash leaves: the files as they are at one instant while the archive is open.
TEST_F(ArchiveDiskTest, CommittedRowsSurviveACrashAndUncommittedOnesDoNot) {
  ASSERT_TRUE(AddMessages({Message("committed", kT0, "Committed", "kept")}));
  TempDir crash;
  auto snapshot = [&] {
    fs::copy_file(kdf_path(), crash.path() + "/archive.kdf", fs::copy_options::overwrite_existing);
    fs::copy_file(db_path(), crash.path() + "/archive.db", fs::copy_options::overwrite_existing);
    if (Exists(db_path() + "-wal")) {
      fs::copy_file(db_path() + "-wal", crash.path() + "/archive.db-wal", fs::copy_options::overwrite_existing);
    }
  };
  ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
    auto added = archive().AddMessage(Message("in-flight", kT0 + 1, "In flight", "not yet"));
    if (!added) return added.error();
    snapshot();  // the process dies here, before COMMIT
    return {};
  }));
  auto after_crash = Archive::Open(crash.path(), passphrase_);
  ASSERT_TRUE(Ok(after_crash));
  auto committed = (*after_crash)->GetMessage(IdOf("committed"));
  ASSERT_TRUE(Ok(committed));
  EXPECT_TRUE(committed->has_value());
  auto in_flight = (*after_crash)->GetMessage(IdOf("in-flight"));
  ASSERT_TRUE(Ok(in_flight));
  EXPECT_FALSE(in_flight->has_value());
  auto report = (*after_crash)->Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
  // The live archive has both.
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 2);
}

TEST_F(ArchiveDiskTest, ArchiveJustCreatedSurvivesACrash) {
  // Right after Create, before any checkpoint, archive.db is not empty (Open refuses an empty
  // one as damage) and the copy opens.
  std::error_code ec;
  EXPECT_GT(fs::file_size(db_path(), ec), 0u);
  TempDir crash;
  for (const char* name : {"/archive.kdf", "/archive.db", "/archive.db-wal"}) {
    if (Exists(home() + name)) fs::copy_file(home() + name, crash.path() + name);
  }
  auto opened = Archive::Open(crash.path(), passphrase_);
  ASSERT_TRUE(Ok(opened));
  EXPECT_EQ((*opened)->schema_version(), kSchemaVersion);
}

}  // namespace
}  // namespace comity::archive::test
