// Search across the full-text partitions (SearchIndex): with partitions of a few items, every
// page Search returns is checked against the obvious answer computed here from what was
// stored (every match, newest first by created_at then insertion order), for messages that
// arrive out of created_at order, across purges that empty and drop partitions, and after a
// reopen.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "node/archive/archive.h"
#include "tests/unit/archive_test_support.h"

namespace comity::archive::test {
namespace {

constexpr std::int64_t kPartSize = 16;
const char* const kWords[] = {"alpha", "bravo", "charlie", "delta", "echo"};

struct Stored {
  std::int64_t order;  // insertion order: ties in created_at go to the later one first
  std::int64_t created_at;
  Bytes id;
  std::vector<std::string> words;
};

class ArchiveSearchTest : public ArchiveTest {
 protected:
  // Message n: created about 10 s after n-1, one in five arriving up to 15 minutes late; its
  // words are chosen by n, "alpha" in nearly all, "echo" in few; "refN" is its own.
  Stored Make(std::int64_t n, MessageRecord& m) {
    const std::int64_t late = n % 5 == 3 ? ((n * 7919) % 900) : (n * 31) % 20;
    Stored s{n, kT0 + 10 * n - late, {}, {}};
    const int every[] = {1, 2, 3, 5, 11};  // "alpha" in all but every seventh
    for (int w = 0; w < 5; ++w) {
      if (n % every[w] == 0 && !(w == 0 && n % 7 == 0)) s.words.push_back(kWords[w]);
    }
    std::string body;
    for (const std::string& w : s.words) body += w + " ";
    m = Message("search-" + std::to_string(n), s.created_at, "ref" + std::to_string(n), body);
    s.id = m.message_id;
    return s;
  }

  ::testing::AssertionResult Store(std::int64_t from, std::int64_t to) {
    std::vector<MessageRecord> ms;
    for (std::int64_t n = from; n < to; ++n) {
      MessageRecord m;
      stored_.push_back(Make(n, m));
      ms.push_back(std::move(m));
    }
    return AddMessages(ms);
  }

  std::vector<Bytes> Expected(const std::string& word, int limit) const {
    std::vector<const Stored*> hits;
    for (const Stored& s : stored_) {
      if (std::find(s.words.begin(), s.words.end(), word) != s.words.end()) hits.push_back(&s);
    }
    std::sort(hits.begin(), hits.end(), [](const Stored* a, const Stored* b) {
      return std::tie(a->created_at, a->order) > std::tie(b->created_at, b->order);
    });
    std::vector<Bytes> out;
    for (const Stored* s : hits) {
      if (limit >= 0 && static_cast<int>(out.size()) >= limit) break;
      out.push_back(s->id);
    }
    return out;
  }

  void ExpectEveryPageRight() {
    for (const char* word : kWords) {
      for (int limit : {0, 1, 5, 17, 50, -1}) {
        SCOPED_TRACE(std::string(word) + " limit " + std::to_string(limit));
        auto hits = archive().Search(word, limit);
        ASSERT_TRUE(Ok(hits));
        std::vector<Bytes> got;
        for (const SearchHit& h : *hits) got.push_back(h.message_id);
        EXPECT_EQ(got, Expected(word, limit));
      }
      auto count = archive().CountMatches(word);
      ASSERT_TRUE(Ok(count));
      EXPECT_EQ(*count, static_cast<std::int64_t>(Expected(word, -1).size())) << word;
    }
  }

  std::int64_t Partitions() {
    auto s = archive().db().Prepare("SELECT count(*) FROM search_parts");
    EXPECT_TRUE(Ok(s));
    if (!s) return -1;
    EXPECT_TRUE(Ok((*s)->Reset().Step()));
    std::int64_t n = (*s)->Int(0);
    (*s)->Reset();
    return n;
  }

  std::vector<Stored> stored_;
};

TEST_F(ArchiveSearchTest, PagesAreRightAcrossPartitions) {
  archive().SetSearchPartitionSize(kPartSize);
  ASSERT_TRUE(Store(0, 40));
  ASSERT_TRUE(Store(40, 150));  // a second batch, so partitions also begin mid-batch
  EXPECT_EQ(Partitions(), (150 + kPartSize - 1) / kPartSize);
  ExpectEveryPageRight();
  // A unique reference in the oldest partition is found from the newest.
  auto ref = archive().Search("ref3", 10);
  ASSERT_TRUE(Ok(ref));
  ASSERT_EQ(ref->size(), 1u);
  EXPECT_EQ((*ref)[0].message_id, stored_[3].id);
}

TEST_F(ArchiveSearchTest, AVeryLateMessageInTheNewestPartitionSortsLast) {
  archive().SetSearchPartitionSize(kPartSize);
  ASSERT_TRUE(Store(0, 100));
  // Written last, created before everything else: Search must still place it by created_at.
  MessageRecord m = Message("straggler", kT0 - 1000, "straggler", "alpha echo");
  stored_.push_back({100, m.created_at, m.message_id, {"alpha", "echo"}});
  ASSERT_TRUE(AddMessages({m}));
  ExpectEveryPageRight();
}

TEST_F(ArchiveSearchTest, PurgeDropsThePartitionsItEmptiesAndKeepsTheNewest) {
  archive().SetSearchPartitionSize(kPartSize);
  ASSERT_TRUE(Store(0, 100));
  const std::int64_t before = Partitions();
  ASSERT_EQ(before, 7);
  // Everything created before message 60 goes: the partitions of items 1..48 are empty
  // then except for late arrivals, so only some of them can go.
  const std::int64_t cut = kT0 + 10 * 60;
  auto report = archive().Purge(cut, kT0 + 5000, "clerk");
  ASSERT_TRUE(Ok(report));
  std::erase_if(stored_, [&](const Stored& s) { return s.created_at < cut; });
  EXPECT_LT(Partitions(), before);
  ExpectEveryPageRight();
  // Purging everything keeps the newest partition, which takes the next items.
  ASSERT_TRUE(Ok(archive().Purge(kT0 + 100000, kT0 + 100000, "clerk")));
  stored_.clear();
  EXPECT_EQ(Partitions(), 1);
  ExpectEveryPageRight();
  ASSERT_TRUE(Store(100, 140));
  ExpectEveryPageRight();
  auto verified = archive().Verify();
  ASSERT_TRUE(Ok(verified));
  EXPECT_TRUE(verified->ok) << verified->first_break;
}

TEST_F(ArchiveSearchTest, PartitionsSurviveAReopenAndAFailedBatch) {
  archive().SetSearchPartitionSize(kPartSize);
  ASSERT_TRUE(Store(0, 30));
  // A batch that would open a new partition fails: the partition goes with it.
  const std::int64_t parts = Partitions();
  auto st = archive().Batch([&]() -> ArchiveStatus {
    for (int n = 0; n < 20; ++n) {
      auto added = archive().AddMessage(Message("doomed-" + std::to_string(n), kT0 + 5000 + n, "doomed", "alpha"));
      if (!added) return added.error();
    }
    return Fail(ArchiveCode::kInvalid, "the batch fails on purpose");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(Partitions(), parts);
  ExpectEveryPageRight();
  ASSERT_TRUE(Reopen());
  archive().SetSearchPartitionSize(kPartSize);
  ExpectEveryPageRight();
  ASSERT_TRUE(Store(30, 70));
  EXPECT_EQ(Partitions(), (70 + kPartSize - 1) / kPartSize);
  ExpectEveryPageRight();
}

}  // namespace
}  // namespace comity::archive::test
