// Tests of the archive's audit log: an append-only chain where each entry holds the hash of
// the one before and the head is recorded apart. Verify must find every edit, deletion
// (in the middle or at the end) and reordering made behind the archive's back with raw SQL,
// and name the entry where the chain breaks.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

constexpr int kEntries = 6;

class ArchiveAuditTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 1; i <= kEntries; ++i) {
      ASSERT_TRUE(InBatch([&] {
        return archive().Audit(kT0 + i, "clerk@court", "action-" + std::to_string(i), "detail " + std::to_string(i));
      }));
    }
  }

  VerifyReport VerifyNow() {
    auto report = archive().Verify();
    EXPECT_TRUE(Ok(report));
    return report ? *report : VerifyReport{false, {}, "Verify itself failed"};
  }

  void Sql(const std::string& sql) { ASSERT_TRUE(Ok(archive().db().Exec(sql))) << sql; }
};

TEST_F(ArchiveAuditTest, IntactChainVerifies) {
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.first_break;
  EXPECT_TRUE(report.first_break.empty());
  bool counted = false;
  for (const std::string& line : report.checked) {
    counted |= line.find(std::to_string(kEntries) + " entries") != std::string::npos;
  }
  EXPECT_TRUE(counted) << "the report says how many entries it checked";
  ASSERT_TRUE(Reopen());
  report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.first_break;
}

TEST_F(ArchiveAuditTest, EachEntryHoldsTheHashOfThePrevious) {
  auto tail = archive().AuditTail(100);
  ASSERT_TRUE(Ok(tail));
  ASSERT_EQ(tail->size(), static_cast<std::size_t>(kEntries));
  // Newest first.
  for (int i = 0; i < kEntries; ++i) {
    const AuditEntry& e = (*tail)[static_cast<std::size_t>(i)];
    EXPECT_EQ(e.seq, kEntries - i);
    EXPECT_EQ(e.at, kT0 + kEntries - i);
    EXPECT_EQ(e.actor, "clerk@court");
    EXPECT_EQ(e.action, "action-" + std::to_string(kEntries - i));
    EXPECT_EQ(e.hash.size(), 32u);
    if (i + 1 < kEntries) {
      EXPECT_EQ(e.prev_hash, (*tail)[static_cast<std::size_t>(i + 1)].hash);
    }
  }
  EXPECT_EQ(tail->back().prev_hash, Bytes(32, 0));
  auto last2 = archive().AuditTail(2);
  ASSERT_TRUE(Ok(last2));
  ASSERT_EQ(last2->size(), 2u);
  EXPECT_EQ((*last2)[0].seq, kEntries);
}

TEST_F(ArchiveAuditTest, EntriesAppendedAfterReopenContinueTheChain) {
  ASSERT_TRUE(Reopen());
  ASSERT_TRUE(InBatch([&] { return archive().Audit(kT0 + 100, "clerk@court", "later", "after reopen"); }));
  auto tail = archive().AuditTail(2);
  ASSERT_TRUE(Ok(tail));
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].seq, kEntries + 1);
  EXPECT_EQ((*tail)[0].prev_hash, (*tail)[1].hash);
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.first_break;
}

TEST_F(ArchiveAuditTest, AuditInAFailedBatchIsRolledBackWithIt) {
  auto st = archive().Batch([&]() -> ArchiveStatus {
    if (auto a = archive().Audit(kT0, "clerk", "x", "y"); !a) return a;
    return Fail(ArchiveCode::kInvalid, "no");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(AuditCount(), kEntries);
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.first_break;
}

// One way to tamper with the log behind the archive's back, and the words Verify must use.
struct Tampering {
  const char* name;
  std::vector<std::string> sql;
  std::string expected;  // a substring of first_break
};

void PrintTo(const Tampering& t, std::ostream* os) { *os << t.name; }

class ArchiveAuditTamperTest : public ArchiveAuditTest, public ::testing::WithParamInterface<Tampering> {};

TEST_P(ArchiveAuditTamperTest, BreaksTheChainAtTheNamedEntry) {
  for (const std::string& sql : GetParam().sql) Sql(sql);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok) << GetParam().name << " went unnoticed";
  EXPECT_NE(report.first_break.find(GetParam().expected), std::string::npos)
      << "first_break: '" << report.first_break << "', expected it to contain '" << GetParam().expected << "'";
  // Still broken after the archive is closed and opened again.
  ASSERT_TRUE(Reopen());
  VerifyReport again = VerifyNow();
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.first_break, report.first_break);
}

INSTANTIATE_TEST_SUITE_P(
    Tampering, ArchiveAuditTamperTest,
    ::testing::Values(
        Tampering{"EditedDetail", {"UPDATE audit_log SET detail = 'detail 3, amended' WHERE seq = 3"}, "entry 3"},
        Tampering{"EditedActor", {"UPDATE audit_log SET actor = 'someone else' WHERE seq = 1"}, "entry 1"},
        Tampering{"EditedTime", {"UPDATE audit_log SET at = at + 1 WHERE seq = 5"}, "entry 5"},
        Tampering{"EditedAction", {"UPDATE audit_log SET action = 'nothing' WHERE seq = 6"}, "entry 6"},
        Tampering{"DeletedMiddle", {"DELETE FROM audit_log WHERE seq = 3"}, "entry 3"},
        Tampering{"DeletedFirst", {"DELETE FROM audit_log WHERE seq = 1"}, "entry 1"},
        Tampering{"SwappedTwo",
                  {"UPDATE audit_log SET seq = -2 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 4",
                   "UPDATE audit_log SET seq = 4 WHERE seq = -2"},
                  "entry 2"},
        Tampering{"SwappedNeighbours",
                  {"UPDATE audit_log SET seq = -4 WHERE seq = 4", "UPDATE audit_log SET seq = 4 WHERE seq = 5",
                   "UPDATE audit_log SET seq = 5 WHERE seq = -4"},
                  "entry 4"},
        Tampering{"DeletedLast", {"DELETE FROM audit_log WHERE seq = 6"},
                  "entries after " + std::to_string(kEntries - 1)},
        Tampering{"DeletedLastTwo", {"DELETE FROM audit_log WHERE seq >= 5"},
                  "entries after " + std::to_string(kEntries - 2)},
        Tampering{"DeletedAll", {"DELETE FROM audit_log"}, "entries after 0"},
        Tampering{"DeletedHead", {"DELETE FROM meta WHERE name = 'audit_head'"}, "at its end"},
        Tampering{"ReplacedHash",
                  {"UPDATE audit_log SET hash = (SELECT hash FROM audit_log WHERE seq = 1) WHERE seq = 2"}, "entry 2"},
        Tampering{"RenumberedLast", {"UPDATE audit_log SET seq = 9 WHERE seq = 6"}, "entry 6"}),
    [](const ::testing::TestParamInfo<Tampering>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace comity::archive::test
