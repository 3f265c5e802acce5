// Tests of what Archive::Open and Verify do with a damaged home: a truncated, emptied or
// overwritten archive.db, a missing or damaged archive.kdf, a database from a newer build.
// Each must be reported (kDamaged, or Verify().ok false) with the file's path, and the
// damaged file must be left exactly as it was: never recreated, repaired or overwritten.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

constexpr std::size_t kPage = 4096;

struct FileIdentity {
  ino_t inode = 0;
  off_t size = -1;
};
FileIdentity IdentityOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_ino, st.st_size};
}

// An archive of a few hundred pages (messages, audit entries, search index), compacted and
// closed, so that archive.db holds everything, every page in use, and no -wal is beside it.
class ArchiveFaultsTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    if (HasFatalFailure()) return;
    for (int batch = 0; batch < 10; ++batch) {
      ASSERT_TRUE(InBatch([&]() -> ArchiveStatus {
        for (int i = 0; i < 30; ++i) {
          const int n = batch * 30 + i;
          std::string body = "letter rogatory number " + std::to_string(n);
          for (int w = 0; w < 60; ++w) body += " word" + std::to_string((n * 31 + w) % 997);
          const std::string tag = std::to_string(n);
          auto added = archive().AddMessage(Message("m" + tag, kT0 + n, "subject " + tag, body));
          if (!added) return added.error();
          if (auto st = archive().Audit(kT0 + n, "clerk", "receive", "message " + std::to_string(n)); !st) return st;
        }
        return {};
      }));
    }
    // Every page in use: full-text merges free pages, and integrity_check reads only pages in
    // use (damage to a free page loses nothing; it is overwritten when the page is reused).
    ASSERT_TRUE(Ok(archive().db().Exec("VACUUM")));
    auto free_pages = archive().db().Prepare("PRAGMA freelist_count");
    ASSERT_TRUE(Ok(free_pages));
    ASSERT_TRUE(Ok((*free_pages)->Reset().Step()));
    ASSERT_EQ((*free_pages)->Int(0), 0);
    (*free_pages)->Reset();
    archive_.reset();
    ASSERT_FALSE(Exists(db_path() + "-wal"));
    original_ = ReadAll(db_path());
    ASSERT_GE(original_.size(), 64 * kPage) << "the test needs a database of many pages";
    ASSERT_EQ(original_.size() % kPage, 0u);
  }

  // Replaces archive.db's content in place (same inode), as a disk fault would.
  void Damage(const std::function<void(std::string&)>& change) {
    std::string bytes = original_;
    change(bytes);
    ASSERT_NE(bytes, original_);
    ASSERT_TRUE(WriteAll(db_path(), bytes));
    damaged_ = bytes;
  }

  // Open must fail with kDamaged naming archive.db, or open and then Verify must fail naming
  // it; either way archive.db is left byte for byte as the damage left it.
  void ExpectReportedAndUntouched() {
    const FileIdentity before = IdentityOf(db_path());
    for (int attempt = 0; attempt < 2; ++attempt) {
      SCOPED_TRACE("attempt " + std::to_string(attempt));
      {
        auto opened = Archive::Open(home(), passphrase_);
        if (!opened.ok()) {
          EXPECT_EQ(opened.error().code, ArchiveCode::kDamaged) << opened.error().message;
          EXPECT_NE(opened.error().message.find(db_path()), std::string::npos)
              << "the error must name the file: " << opened.error().message;
        } else {
          auto report = (*opened)->Verify();
          if (report.ok()) {
            EXPECT_FALSE(report->ok) << "damage went unnoticed by Open and Verify";
            EXPECT_NE(report->first_break.find(db_path()), std::string::npos)
                << "the report must name the file: " << report->first_break;
          } else {
            EXPECT_NE(report.error().message.find(db_path()), std::string::npos) << report.error().message;
          }
        }
      }
      const FileIdentity after = IdentityOf(db_path());
      EXPECT_EQ(after.inode, before.inode) << "archive.db was replaced";
      EXPECT_EQ(after.size, before.size) << "archive.db changed size";
      EXPECT_TRUE(ReadAll(db_path()) == damaged_) << "archive.db was written to";
    }
  }

  std::string original_;
  std::string damaged_;
};

TEST_F(ArchiveFaultsTest, TruncatedToHalfIsReported) {
  Damage([](std::string& b) { b.resize(b.size() / 2 / kPage * kPage); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, TruncatedInsideAPageIsReported) {
  Damage([](std::string& b) { b.resize(b.size() / 2 + 1000); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, LastFewBytesCutIsReported) {
  Damage([](std::string& b) { b.resize(b.size() - 100); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, TruncatedToOnePageIsReported) {
  Damage([](std::string& b) { b.resize(kPage); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, EmptiedFileIsReportedNotRecreated) {
  Damage([](std::string& b) { b.clear(); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, GarbagePageInTheMiddleIsReported) {
  Damage([](std::string& b) {
    const std::size_t page = b.size() / kPage / 2;
    Bytes garbage = crypto::RandomBytes(kPage);
    std::copy(garbage.begin(), garbage.end(), b.begin() + static_cast<std::ptrdiff_t>(page * kPage));
  });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, ZeroedPageInTheMiddleIsReported) {
  Damage([](std::string& b) {
    const std::size_t page = b.size() / kPage / 2;
    std::fill_n(b.begin() + static_cast<std::ptrdiff_t>(page * kPage), kPage, '\0');
  });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, OneFlippedBitInTheLastPageIsReported) {
  Damage([](std::string& b) { b[b.size() - kPage + 100] = static_cast<char>(b[b.size() - kPage + 100] ^ 0x10); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, GarbageFirstPageIsReported) {
  Damage([](std::string& b) {
    Bytes garbage = crypto::RandomBytes(kPage);
    std::copy(garbage.begin(), garbage.end(), b.begin());
  });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, ZeroedFirstPageIsReported) {
  Damage([](std::string& b) { std::fill_n(b.begin(), kPage, '\0'); });
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, PlainSqliteFileInPlaceOfTheArchiveIsReported) {
  {
    ASSERT_TRUE(fs::remove(db_path()));
    auto plain = Archive::OpenRaw(db_path(), blob_dir(), crypto::SecretBytes());
    ASSERT_TRUE(Ok(plain));
  }
  ASSERT_FALSE(Exists(db_path() + "-wal"));
  damaged_ = ReadAll(db_path());
  ExpectReportedAndUntouched();
}

TEST_F(ArchiveFaultsTest, UndamagedArchiveStillOpensAndVerifies) {
  // The control for every test above: the same archive, untouched, is fine.
  ASSERT_TRUE(Reopen());
  auto report = archive().Verify();
  ASSERT_TRUE(Ok(report));
  EXPECT_TRUE(report->ok) << report->first_break;
  auto count = archive().MessageCount();
  ASSERT_TRUE(Ok(count));
  EXPECT_EQ(*count, 300);
}

// ---- archive.kdf ----------------------------------------------------------------------------

TEST_F(ArchiveFaultsTest, MissingKdfBesideTheDatabaseIsDamage) {
  ASSERT_TRUE(fs::remove(kdf_path()));
  auto opened = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ArchiveCode::kDamaged);
  EXPECT_NE(opened.error().message.find(kdf_path()), std::string::npos) << opened.error().message;
  EXPECT_TRUE(ReadAll(db_path()) == original_);
  EXPECT_FALSE(Exists(kdf_path())) << "a kdf file must not be made up";
}

TEST_F(ArchiveFaultsTest, DamagedKdfIsDamage) {
  for (const std::string& kdf : {std::string("\xff\xff\xff\xff\xff", 5), std::string()}) {
    ASSERT_TRUE(WriteAll(kdf_path(), kdf));
    auto opened = Archive::Open(home(), passphrase_);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ArchiveCode::kDamaged) << opened.error().message;
    EXPECT_NE(opened.error().message.find("archive.kdf"), std::string::npos) << opened.error().message;
    EXPECT_TRUE(ReadAll(db_path()) == original_);
    EXPECT_EQ(ReadAll(kdf_path()), kdf);
  }
}

TEST_F(ArchiveFaultsTest, KdfWithoutTheDatabaseIsDamageAndCreatesNothing) {
  ASSERT_TRUE(fs::remove(db_path()));
  auto opened = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ArchiveCode::kDamaged);
  EXPECT_NE(opened.error().message.find(db_path()), std::string::npos) << opened.error().message;
  EXPECT_FALSE(Exists(db_path()));
  EXPECT_FALSE(Exists(db_path() + "-wal"));
}

TEST_F(ArchiveFaultsTest, WrongPassphraseOnALargeArchiveTouchesNothing) {
  auto opened = Archive::Open(home(), ToBytes("not the passphrase"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ArchiveCode::kWrongPassphrase);
  EXPECT_EQ(opened.error().message, kWrongPassphraseMessage);
  EXPECT_TRUE(ReadAll(db_path()) == original_);
  EXPECT_FALSE(Exists(db_path() + "-wal"));
  EXPECT_FALSE(Exists(db_path() + "-shm"));
}

// ---- a newer schema -------------------------------------------------------------------------

TEST_F(ArchiveFaultsTest, DatabaseFromANewerBuildIsRefusedAndLeftAlone) {
  ASSERT_TRUE(Reopen());
  ASSERT_TRUE(Ok(archive().db().Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1))));
  archive_.reset();
  const std::string newer = ReadAll(db_path());
  auto opened = Archive::Open(home(), passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ArchiveCode::kInvalid) << opened.error().message;
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find(db_path()), std::string::npos) << opened.error().message;
  EXPECT_TRUE(ReadAll(db_path()) == newer);
}

}  // namespace
}  // namespace comity::archive::test
