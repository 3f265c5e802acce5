// Tests of the archive's operations: Backup and Restore (same passphrase, wrong passphrase,
// refusing or setting aside an existing archive, refusing a damaged backup), Rekey (the old
// passphrase stops working, everything stays; an interrupted rekey is finished or undone by the
// next Open) and Purge (what is older goes, with its blobs and search entries, and the audit
// log says so).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

constexpr std::int64_t kOld = kT0 + 100;
constexpr std::int64_t kCut = kT0 + 200;  // Purge's "before"
constexpr std::int64_t kNew = kT0 + 300;
const std::string kOldContent = Content(80'000, 1);
const std::string kNewContent = Content(3'000, 2);

// An archive with one old (before kCut) and one new item of every kind, plus one exactly at kCut.
class ArchiveOperationsTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
      for (const MessageRecord& m : {Message("m-old", kOld, "Old request", "aardvark hearing"),
                                     Message("m-new", kNew, "New request", "badger hearing"),
                                     Message("m-cut", kCut, "Boundary", "cormorant hearing")}) {
        auto added = archive().AddMessage(m);
        if (!added) return added.error();
      }
      if (auto s = archive().PutThread(Thread("t1", "Extradition", kOld)); !s) return s;
      if (auto s = archive().AddDraft(Draft("t1", 1, "dingo wording", kOld)); !s) return s;
      if (auto s = archive().AddDraft(Draft("t1", 2, "echidna wording", kNew)); !s) return s;
      if (auto s = archive().AddNotice(Notice("n-old", "Notice", "ferret notice", kOld)); !s) return s;
      if (auto s = archive().AddNotice(Notice("n-new", "Notice", "gecko notice", kNew)); !s) return s;
      if (auto s = archive().AddReceipt(Receipt(IdOf("m-old"), "bob", "delivered", kOld)); !s) return s;
      if (auto s = archive().AddReceipt(Receipt(IdOf("m-old"), "bob", "read", kNew)); !s) return s;
      if (auto s = archive().Enqueue({0, IdOf("m-new"), "bob@x", ToBytes("env"), kNew, 0, 0}); !s) return s;
      return archive().Audit(kT0, "clerk", "seed", "test rows");
    }));
    auto old_attachment = Attach(kOldContent, "old.pdf", kOld);
    ASSERT_TRUE(Ok(old_attachment));
    auto new_attachment = Attach(kNewContent, "new.pdf", kNew);
    ASSERT_TRUE(Ok(new_attachment));
    old_hash_ = old_attachment->content_hash;
    new_hash_ = new_attachment->content_hash;
  }

  std::int64_t Count(const std::string& table) {
    auto s = archive().db().Prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(Ok(s));
    if (!s) return -1;
    auto row = (*s)->Reset().Step();
    EXPECT_TRUE(Ok(row));
    std::int64_t n = (*s)->Int(0);
    (*s)->Reset();
    return n;
  }

  std::size_t Hits(const std::string& word) {
    auto hits = archive().Search(word, 100);
    EXPECT_TRUE(Ok(hits));
    return hits ? hits->size() : 0;
  }

  // Everything SetUp stored is there, read through the archive's own API.
  void ExpectSeededRows() {
    auto count = archive().MessageCount();
    ASSERT_TRUE(Ok(count));
    EXPECT_EQ(*count, 3);
    auto m = archive().GetMessage(IdOf("m-old"));
    ASSERT_TRUE(Ok(m));
    ASSERT_TRUE(m->has_value());
    EXPECT_EQ((*m)->body, "aardvark hearing");
    auto drafts = archive().Drafts("t1");
    ASSERT_TRUE(Ok(drafts));
    EXPECT_EQ(drafts->size(), 2u);
    auto receipts = archive().Receipts(IdOf("m-old"));
    ASSERT_TRUE(Ok(receipts));
    EXPECT_EQ(receipts->size(), 2u);
    auto due = archive().DueOutbox(kNew, 10);
    ASSERT_TRUE(Ok(due));
    EXPECT_EQ(due->size(), 1u);
    EXPECT_EQ(Hits("hearing"), 3u);
    EXPECT_EQ(Hits("ferret"), 1u);
    EXPECT_EQ(Count("notices"), 2);
  }

  std::string ReadBlob(const Bytes& hash, ArchiveStatus* st) {
    std::ostringstream out;
    *st = archive().ReadAttachment(hash, out);
    return out.str();
  }

  Bytes old_hash_, new_hash_;
  TempDir elsewhere_;  // backups and other homes
};

// ---- backup and restore ---------------------------------------------------------------------

TEST_F(ArchiveOperationsTest, BackupRestoresIntoAFreshHome) {
  const std::string backup = elsewhere_.path() + "/archive.backup";
  ASSERT_TRUE(Ok(archive().Backup(backup)));
  ASSERT_TRUE(Exists(backup));
  EXPECT_EQ(fs::status(backup).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  for (const std::string& f : FilesUnder(elsewhere_.path())) EXPECT_EQ(f, backup) << "left behind by Backup";
  const std::string bytes = ReadAll(backup);
  for (const char* clear : {"aardvark", "dingo", "ferret", "Extradition"}) {
    EXPECT_EQ(bytes.find(clear), std::string::npos) << clear << " is readable in the backup";
  }
  const std::int64_t audits = AuditCount();

  TempDir fresh;
  ASSERT_TRUE(Ok(Restore(fresh.path(), backup, passphrase_, false, kT0)));
  EXPECT_TRUE(Exists(fresh.path() + "/archive.db"));
  EXPECT_TRUE(Exists(fresh.path() + "/archive.kdf"));
  EXPECT_FALSE(Exists(fresh.path() + "/archive.db.restoring"));
  auto restored = Archive::Open(fresh.path(), passphrase_);
  ASSERT_TRUE(Ok(restored));
  archive_ = std::move(restored).value();  // the fixture's helpers now read the restored copy
  ExpectSeededRows();
  EXPECT_EQ(AuditCount(), audits);
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  // Attachments are not in a backup (OPERATIONS.md: copy blobs/ alongside): Verify finds the
  // database and the audit chain whole and reports the blobs that were not copied.
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->checked.size(), 2u);
  EXPECT_NE(report->first_break.find("is missing"), std::string::npos) << report->first_break;
}

TEST_F(ArchiveOperationsTest, RestoredArchiveWithItsBlobsCopiedVerifies) {
  const std::string backup = elsewhere_.path() + "/archive.backup";
  ASSERT_TRUE(Ok(archive().Backup(backup)));
  TempDir fresh;
  fs::copy(blob_dir(), fresh.path() + "/blobs", fs::copy_options::recursive);
  ASSERT_TRUE(Ok(Restore(fresh.path(), backup, passphrase_, false, kT0)));
  auto restored = Archive::Open(fresh.path(), passphrase_);
  ASSERT_TRUE(Ok(restored));
  auto report = (*restored)->Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
  std::ostringstream out;
  ASSERT_TRUE(Ok((*restored)->ReadAttachment(old_hash_, out)));
  EXPECT_TRUE(out.str() == kOldContent);
}

TEST_F(ArchiveOperationsTest, RestoreWithAWrongPassphraseWritesNothing) {
  const std::string backup = elsewhere_.path() + "/archive.backup";
  ASSERT_TRUE(Ok(archive().Backup(backup)));
  TempDir fresh;
  auto st = Restore(fresh.path(), backup, ToBytes("not it"), false, kT0);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kWrongPassphrase);
  EXPECT_EQ(st.error().message, kWrongPassphraseMessage);
  EXPECT_TRUE(fs::is_empty(fresh.path()));
}

TEST_F(ArchiveOperationsTest, RestoreOntoAnExistingArchiveNeedsForceAndKeepsTheOldOneAside) {
  const std::string backup = elsewhere_.path() + "/archive.backup";
  ASSERT_TRUE(Ok(archive().Backup(backup)));
  // The home now moves on: a message the backup does not have.
  ASSERT_TRUE(AddMessages({Message("after-backup", kNew + 5, "Later", "hippo")}));
  archive_.reset();
  const std::string db_before = ReadAll(db_path());
  const std::string kdf_before = ReadAll(kdf_path());
  const auto files_before = FilesUnder(home());

  auto refused = Restore(home(), backup, passphrase_, false, kT0 + 7);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ArchiveCode::kExists);
  EXPECT_TRUE(ReadAll(db_path()) == db_before);
  EXPECT_EQ(ReadAll(kdf_path()), kdf_before);
  EXPECT_EQ(FilesUnder(home()), files_before) << "a refused restore leaves nothing behind";

  ASSERT_TRUE(Ok(Restore(home(), backup, passphrase_, true, kT0 + 7)));
  const std::string aside_db = db_path() + ".before-restore-" + std::to_string(kT0 + 7);
  const std::string aside_kdf = kdf_path() + ".before-restore-" + std::to_string(kT0 + 7);
  ASSERT_TRUE(Exists(aside_db));
  ASSERT_TRUE(Exists(aside_kdf));
  EXPECT_TRUE(ReadAll(aside_db) == db_before);
  EXPECT_EQ(ReadAll(aside_kdf), kdf_before);
  EXPECT_FALSE(Exists(db_path() + ".restoring"));

  ASSERT_TRUE(Reopen());
  ExpectSeededRows();
  auto later = archive().GetMessage(IdOf("after-backup"));
  ASSERT_TRUE(Ok(later));
  EXPECT_FALSE(later->has_value()) << "the restored archive is the backup's";
}

TEST_F(ArchiveOperationsTest, RestoreRefusesWhatIsNotABackup) {
  TempDir fresh;
  const std::string junk = elsewhere_.path() + "/junk";
  for (const std::string& content : {std::string(), std::string("COMITYB1"), std::string("not a backup at all"),
                                     std::string("COMITYB1\xff\xff\x00\x00", 12)}) {
    ASSERT_TRUE(WriteAll(junk, content));
    auto st = Restore(fresh.path(), junk, passphrase_, true, kT0);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ArchiveCode::kDamaged) << st.error().message;
    EXPECT_TRUE(fs::is_empty(fresh.path()));
  }
}

// A backup whose database part is damaged (after the 12-byte header and the kdf).
class ArchiveDamagedBackupTest : public ArchiveOperationsTest {
 protected:
  std::string DamagedBackup(const std::function<void(std::string& db_part)>& damage) {
    const std::string backup = elsewhere_.path() + "/archive.backup";
    EXPECT_TRUE(Ok(archive().Backup(backup)));
    std::string bytes = ReadAll(backup);
    // Header: 8 bytes of magic, then the kdf's length, little-endian in 4 bytes.
    std::size_t kdf_len = 0;
    for (std::size_t i = 4; i-- > 0;) kdf_len = kdf_len << 8 | static_cast<std::uint8_t>(bytes[8 + i]);
    std::string db_part = bytes.substr(12 + kdf_len);
    damage(db_part);
    EXPECT_TRUE(WriteAll(backup, bytes.substr(0, 12 + kdf_len) + db_part));
    return backup;
  }

  // Restore with force onto the fixture's home: refused, the live archive untouched.
  void ExpectRefused(const std::string& backup) {
    archive_.reset();
    const std::string db_before = ReadAll(db_path());
    const auto files_before = FilesUnder(home());
    auto st = Restore(home(), backup, passphrase_, true, kT0 + 9);
    ASSERT_FALSE(st.ok()) << "a damaged backup was installed";
    EXPECT_EQ(st.error().code, ArchiveCode::kDamaged) << st.error().message;
    EXPECT_NE(st.error().message.find(backup), std::string::npos) << st.error().message;
    EXPECT_TRUE(ReadAll(db_path()) == db_before);
    EXPECT_EQ(FilesUnder(home()), files_before);
    ASSERT_TRUE(Reopen());
    ExpectSeededRows();
  }
};

TEST_F(ArchiveDamagedBackupTest, GarbageFirstPageIsRefused) {
  ExpectRefused(DamagedBackup([](std::string& db) { db[200] = static_cast<char>(db[200] ^ 0x40); }));
}

TEST_F(ArchiveDamagedBackupTest, GarbagePageInTheMiddleIsRefused) {
  ExpectRefused(DamagedBackup([](std::string& db) {
    const std::size_t at = db.size() / 4096 / 2 * 4096 + 300;
    db[at] = static_cast<char>(db[at] ^ 0x40);
  }));
}

TEST_F(ArchiveDamagedBackupTest, TruncatedDatabaseIsRefused) {
  ExpectRefused(DamagedBackup([](std::string& db) { db.resize(db.size() / 2); }));
}

TEST_F(ArchiveOperationsTest, BackupNeedsAnArchiveOpenedFromAHome) {
  TempDir dir;
  auto raw = Archive::OpenRaw(dir.path() + "/a.db", dir.path() + "/blobs", RandomKey());
  ASSERT_TRUE(Ok(raw));
  auto st = (*raw)->Backup(dir.path() + "/backup");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ArchiveCode::kInvalid);
}

// ---- rekey ----------------------------------------------------------------------------------

const Bytes kNewPassphrase = ToBytes("a brand new passphrase");

TEST_F(ArchiveOperationsTest, RekeyRetiresTheOldPassphraseAndKeepsEverything) {
  archive_.reset();
  const std::string old_kdf = ReadAll(kdf_path());
  ASSERT_TRUE(Reopen());
  const std::int64_t audits = AuditCount();
  ASSERT_TRUE(Ok(archive().Rekey(kNewPassphrase, crypto::MinimumKdf(), kT0 + 1000, "clerk@court")));
  EXPECT_FALSE(Exists(kdf_path() + ".new"));
  EXPECT_NE(ReadAll(kdf_path()), old_kdf);
  // The open archive carries on under the new key.
  ASSERT_TRUE(AddMessages({Message("after-rekey", kNew + 1, "After", "ibis")}));
  ArchiveStatus st;
  EXPECT_TRUE(ReadBlob(old_hash_, &st) == kOldContent);
  EXPECT_TRUE(Ok(st));
  archive_.reset();

  auto with_old = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(with_old.ok());
  EXPECT_EQ(with_old.error().code, ArchiveCode::kWrongPassphrase);
  EXPECT_EQ(with_old.error().message, kWrongPassphraseMessage);

  // The database itself was re-encrypted: the old key does not open a copy of it.
  auto old_key = DeriveArchiveKey(passphrase_, old_kdf);
  ASSERT_TRUE(Ok(old_key));
  TempDir copy;
  fs::copy_file(db_path(), copy.path() + "/archive.db");
  auto stale = Archive::OpenRaw(copy.path() + "/archive.db", copy.path() + "/blobs", *old_key);
  EXPECT_FALSE(stale.ok()) << "the old key still opens the database";

  ASSERT_TRUE(Reopen(kNewPassphrase));
  auto m = archive().GetMessage(IdOf("after-rekey"));
  ASSERT_TRUE(Ok(m));
  EXPECT_TRUE(m->has_value());
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 4);
  EXPECT_EQ(Hits("hearing"), 3u);
  EXPECT_TRUE(ReadBlob(new_hash_, &st) == kNewContent);
  EXPECT_TRUE(Ok(st));
  // The change is recorded as begun, then completed (a failed one shows as begun only).
  auto tail = archive().AuditTail(2);
  ASSERT_TRUE(Ok(tail));
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].action, "rekey");
  EXPECT_EQ((*tail)[0].detail, "passphrase change completed");
  EXPECT_EQ((*tail)[1].action, "rekey");
  EXPECT_EQ((*tail)[1].detail, "passphrase change begun");
  EXPECT_EQ((*tail)[0].actor, "clerk@court");
  EXPECT_EQ(AuditCount(), audits + 2);
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;

  // A backup made after the rekey restores with the new passphrase only.
  const std::string backup = elsewhere_.path() + "/after-rekey.backup";
  ASSERT_TRUE(Ok(archive().Backup(backup)));
  TempDir fresh;
  auto wrong = Restore(fresh.path(), backup, passphrase_, false, kT0);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ArchiveCode::kWrongPassphrase);
  ASSERT_TRUE(Ok(Restore(fresh.path(), backup, kNewPassphrase, false, kT0)));
  EXPECT_TRUE(Ok(Archive::Open(fresh.path(), kNewPassphrase)));
}

// Interrupted rekeys, made from a finished one: a copy of the home is rekeyed, then its
// database and/or kdf are put back beside the original's as archive.kdf.new, which is what a
// crash between Rekey's steps leaves.
class ArchiveInterruptedRekeyTest : public ArchiveOperationsTest {
 protected:
  void SetUp() override {
    ArchiveOperationsTest::SetUp();
    if (HasFatalFailure()) return;
    archive_.reset();
    old_db_ = ReadAll(db_path());
    old_kdf_ = ReadAll(kdf_path());
    const std::string copy = elsewhere_.path() + "/rekeyed";
    fs::copy(home(), copy, fs::copy_options::recursive);
    {
      auto a = Archive::Open(copy, passphrase_);
      ASSERT_TRUE(Ok(a));
      ASSERT_TRUE(Ok((*a)->Rekey(kNewPassphrase, crypto::MinimumKdf(), kT0 + 1000, "clerk")));
    }
    ASSERT_FALSE(Exists(copy + "/archive.db-wal"));
    new_db_ = ReadAll(copy + "/archive.db");
    new_kdf_ = ReadAll(copy + "/archive.kdf");
    ASSERT_NE(new_kdf_, old_kdf_);
  }

  std::string old_db_, old_kdf_, new_db_, new_kdf_;
};

TEST_F(ArchiveInterruptedRekeyTest, DatabaseRekeyedButKdfNotReplacedIsFinishedByOpen) {
  ASSERT_TRUE(WriteAll(db_path(), new_db_));
  ASSERT_TRUE(WriteAll(kdf_path() + ".new", new_kdf_));

  // The old passphrase no longer opens the database: a wrong passphrase, not damage, and the
  // pending kdf is kept for the new one.
  auto with_old = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(with_old.ok());
  EXPECT_EQ(with_old.error().code, ArchiveCode::kWrongPassphrase) << with_old.error().message;
  EXPECT_TRUE(ReadAll(db_path()) == new_db_);
  EXPECT_EQ(ReadAll(kdf_path()), old_kdf_);
  EXPECT_EQ(ReadAll(kdf_path() + ".new"), new_kdf_);

  ASSERT_TRUE(Reopen(kNewPassphrase));
  EXPECT_FALSE(Exists(kdf_path() + ".new"));
  EXPECT_EQ(ReadAll(kdf_path()), new_kdf_);
  ExpectSeededRows();
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
  archive_.reset();

  auto again_old = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(again_old.ok());
  EXPECT_EQ(again_old.error().code, ArchiveCode::kWrongPassphrase);
  ASSERT_TRUE(Reopen(kNewPassphrase));
}

TEST_F(ArchiveInterruptedRekeyTest, KdfWrittenButDatabaseNotRekeyedIsUndoneByOpen) {
  ASSERT_TRUE(WriteAll(kdf_path() + ".new", new_kdf_));

  // The new passphrase never took effect: it is a wrong passphrase, and nothing is touched.
  auto with_new = Archive::Open(home(), kNewPassphrase);
  ASSERT_FALSE(with_new.ok());
  EXPECT_EQ(with_new.error().code, ArchiveCode::kWrongPassphrase) << with_new.error().message;
  EXPECT_TRUE(ReadAll(db_path()) == old_db_);
  EXPECT_EQ(ReadAll(kdf_path()), old_kdf_);

  ASSERT_TRUE(Reopen(passphrase_));
  EXPECT_FALSE(Exists(kdf_path() + ".new")) << "the rekey that never happened is forgotten";
  EXPECT_EQ(ReadAll(kdf_path()), old_kdf_);
  ExpectSeededRows();
  archive_.reset();
  auto new_again = Archive::Open(home(), kNewPassphrase);
  ASSERT_FALSE(new_again.ok());
  EXPECT_EQ(new_again.error().code, ArchiveCode::kWrongPassphrase);
}

// ---- purge ----------------------------------------------------------------------------------

TEST_F(ArchiveOperationsTest, PurgeRemovesOlderItemsAndAuditsEachOne) {
  const std::int64_t audits = AuditCount();
  ASSERT_EQ(FilesUnder(blob_dir()).size(), 2u);
  auto report = archive().Purge(kCut, kT0 + 5000, "clerk@court");
  ASSERT_TRUE(Ok(report));
  EXPECT_EQ(report->messages, 1);
  EXPECT_EQ(report->drafts, 1);
  EXPECT_EQ(report->notices, 1);
  EXPECT_EQ(report->receipts, 1);
  EXPECT_EQ(report->attachments, 1);

  auto check = [&] {
    auto old = archive().GetMessage(IdOf("m-old"));
    ASSERT_TRUE(Ok(old));
    EXPECT_FALSE(old->has_value());
    for (const char* kept : {"m-new", "m-cut"}) {  // created at or after the cut
      auto m = archive().GetMessage(IdOf(kept));
      ASSERT_TRUE(Ok(m));
      EXPECT_TRUE(m->has_value()) << kept;
    }
    auto drafts = archive().Drafts("t1");
    ASSERT_TRUE(Ok(drafts));
    ASSERT_EQ(drafts->size(), 1u);
    EXPECT_EQ((*drafts)[0].version, 2);
    auto thread = archive().GetThread("t1");
    ASSERT_TRUE(Ok(thread));
    EXPECT_TRUE(thread->has_value());
    EXPECT_EQ(Count("notices"), 1);
    auto receipts = archive().Receipts(IdOf("m-old"));
    ASSERT_TRUE(Ok(receipts));
    ASSERT_EQ(receipts->size(), 1u);
    EXPECT_EQ((*receipts)[0].kind, "read");
    ArchiveStatus st;
    ReadBlob(old_hash_, &st);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ArchiveCode::kMissing);
    EXPECT_TRUE(ReadBlob(new_hash_, &st) == kNewContent);
    EXPECT_TRUE(Ok(st));
    EXPECT_EQ(FilesUnder(blob_dir()).size(), 1u) << "the purged attachment's blob file must go";
    for (const char* gone : {"aardvark", "dingo", "ferret"}) EXPECT_EQ(Hits(gone), 0u) << gone;
    for (const char* kept : {"badger", "cormorant", "echidna", "gecko"}) EXPECT_EQ(Hits(kept), 1u) << kept;
    EXPECT_EQ(Hits("hearing"), 2u);
    // The full-text index forgot the purged texts too, not only the items it points at.
    for (const char* gone : {"aardvark", "dingo", "ferret"}) {
      auto indexed = archive().CountMatches(gone);
      ASSERT_TRUE(Ok(indexed));
      EXPECT_EQ(*indexed, 0) << gone;
    }
    auto hearing = archive().CountMatches("hearing");
    ASSERT_TRUE(Ok(hearing));
    EXPECT_EQ(*hearing, 2);
  };
  check();

  auto tail = archive().AuditTail(100);
  ASSERT_TRUE(Ok(tail));
  ASSERT_EQ(static_cast<std::int64_t>(tail->size()), audits + 6);
  EXPECT_EQ((*tail)[0].action, "purge");
  EXPECT_EQ((*tail)[0].actor, "clerk@court");
  EXPECT_EQ((*tail)[0].at, kT0 + 5000);
  EXPECT_NE((*tail)[0].detail.find("1 messages"), std::string::npos) << (*tail)[0].detail;
  std::vector<std::string> actions;
  for (std::size_t i = 5; i >= 1; --i) actions.push_back((*tail)[i].action);
  EXPECT_EQ(actions, (std::vector<std::string>{"purge-message", "purge-draft", "purge-notice", "purge-receipt",
                                               "purge-attachment"}));
  EXPECT_NE((*tail)[5].detail.find(crypto::ToHex(IdOf("m-old"))), std::string::npos) << (*tail)[5].detail;
  EXPECT_NE((*tail)[1].detail.find(crypto::ToHex(old_hash_)), std::string::npos) << (*tail)[1].detail;
  for (std::size_t i = 0; i <= 5; ++i) {
    EXPECT_EQ((*tail)[i].detail.find("aardvark"), std::string::npos) << "the audit log keeps no content";
  }

  auto verified = archive().Verify();
  ASSERT_TRUE(Ok(verified));
  EXPECT_TRUE(verified->ok) << verified->first_break;
  ASSERT_TRUE(Reopen());
  check();
  verified = archive().Verify();
  ASSERT_TRUE(Ok(verified));
  EXPECT_TRUE(verified->ok) << verified->first_break;
}

TEST_F(ArchiveOperationsTest, PurgeOfNothingOnlyAuditsTheSummary) {
  const std::int64_t audits = AuditCount();
  auto report = archive().Purge(kT0 - 1, kT0 + 5000, "clerk");
  ASSERT_TRUE(Ok(report));
  EXPECT_EQ(report->messages + report->drafts + report->notices + report->receipts + report->attachments, 0);
  EXPECT_EQ(AuditCount(), audits + 1);
  ExpectSeededRows();
  EXPECT_EQ(FilesUnder(blob_dir()).size(), 2u);
  auto verified = archive().Verify();
  ASSERT_TRUE(Ok(verified));
  EXPECT_TRUE(verified->ok) << verified->first_break;
}

TEST_F(ArchiveOperationsTest, PurgeLeavesTheWalEmpty) {
  auto report = archive().Purge(kCut, kT0 + 5000, "clerk");
  ASSERT_TRUE(Ok(report));
  // The checkpoint took the old page images out of the WAL.
  std::error_code ec;
  const auto wal = fs::file_size(db_path() + "-wal", ec);
  if (!ec) {
    EXPECT_EQ(wal, 0u);
  }
}

}  // namespace
}  // namespace comity::archive::test
