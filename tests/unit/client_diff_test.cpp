// client/diff.cpp: the unified diff of `comity thread diff`, against what `diff -u` (GNU
// diffutils 3.8) prints for the same files, and, on random and pathological texts, that the
// diff applies back to the new text, is a shortest edit, and stays bounded.
#include "client/diff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace comity::client {
namespace {

std::string Diff(std::string_view a, std::string_view b, const DiffOptions& options = {}) {
  return UnifiedDiff(a, b, "v1 request.txt", "v2 request.txt", options);
}

constexpr const char* kHeader = "--- v1 request.txt\n+++ v2 request.txt\n";

TEST(UnifiedDiff, IdenticalTextsGiveNothing) {
  EXPECT_EQ(Diff("", ""), "");
  EXPECT_EQ(Diff("a\nb\nc\n", "a\nb\nc\n"), "");
  EXPECT_EQ(Diff("a\nb", "a\nb"), "");
}

TEST(UnifiedDiff, InsertionInTheMiddle) {
  EXPECT_EQ(Diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nnew\n5\n6\n7\n8\n"),
            std::string(kHeader) + "@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n");
}

TEST(UnifiedDiff, DeletionInTheMiddle) {
  EXPECT_EQ(Diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\n6\n7\n8\n9\n"),
            std::string(kHeader) + "@@ -2,7 +2,6 @@\n 2\n 3\n 4\n-5\n 6\n 7\n 8\n");
}

TEST(UnifiedDiff, ChangeAtTheStart) {
  EXPECT_EQ(Diff("a\nb\nc\nd\ne\nf\n", "A\nb\nc\nd\ne\nf\n"),
            std::string(kHeader) + "@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n");
}

TEST(UnifiedDiff, ChangeAtTheEnd) {
  EXPECT_EQ(Diff("a\nb\nc\nd\ne\nf\n", "a\nb\nc\nd\ne\nF\n"),
            std::string(kHeader) + "@@ -3,4 +3,4 @@\n c\n d\n e\n-f\n+F\n");
}

TEST(UnifiedDiff, OneLineRangesLeaveOutTheCount) {
  EXPECT_EQ(Diff("a\n", "b\n"), std::string(kHeader) + "@@ -1 +1 @@\n-a\n+b\n");
}

TEST(UnifiedDiff, FromAndToEmpty) {
  EXPECT_EQ(Diff("", "a\nb\n"), std::string(kHeader) + "@@ -0,0 +1,2 @@\n+a\n+b\n");
  EXPECT_EQ(Diff("a\nb\n", ""), std::string(kHeader) + "@@ -1,2 +0,0 @@\n-a\n-b\n");
  EXPECT_EQ(Diff("", "a\nb"), std::string(kHeader) + "@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, AppendedLinesAreAddedAfterTheLineBefore) {
  EXPECT_EQ(Diff("a\nb\n", "a\nb\nc\n"), std::string(kHeader) + "@@ -1,2 +1,3 @@\n a\n b\n+c\n");
}

TEST(UnifiedDiff, NoNewlineAtTheEndOfOneText) {
  // The same last line, once with and once without its newline, are different lines.
  EXPECT_EQ(Diff("a\nb", "a\nb\n"),
            std::string(kHeader) + "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
  EXPECT_EQ(Diff("a\nb\n", "a\nb"),
            std::string(kHeader) + "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, NoNewlineAtTheEndOfBothTexts) {
  EXPECT_EQ(Diff("a\nb\nc", "A\nb\nc"),
            std::string(kHeader) + "@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n");
  EXPECT_EQ(Diff("a\nb\nc", "a\nb\nC"),
            std::string(kHeader) +
                "@@ -1,3 +1,3 @@\n a\n b\n-c\n\\ No newline at end of file\n+C\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, ChangesSixLinesApartShareAHunkAndSevenDoNot) {
  EXPECT_EQ(Diff("x\n1\n2\n3\n4\n5\n6\ny\n", "X\n1\n2\n3\n4\n5\n6\nY\n"),
            std::string(kHeader) + "@@ -1,8 +1,8 @@\n-x\n+X\n 1\n 2\n 3\n 4\n 5\n 6\n-y\n+Y\n");
  EXPECT_EQ(Diff("x\n1\n2\n3\n4\n5\n6\n7\ny\n", "X\n1\n2\n3\n4\n5\n6\n7\nY\n"),
            std::string(kHeader) + "@@ -1,4 +1,4 @@\n-x\n+X\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-y\n+Y\n");
}

TEST(UnifiedDiff, RemovedLinesComeBeforeAddedOnesInABlock) {
  EXPECT_EQ(Diff("a\nb\nc\nd\n", "a\nB\nC\nd\n"),
            std::string(kHeader) + "@@ -1,4 +1,4 @@\n a\n-b\n-c\n+B\n+C\n d\n");
}

TEST(UnifiedDiff, ContextCanBeZero) {
  DiffOptions options;
  options.context = 0;
  EXPECT_EQ(Diff("a\nb\nc\n", "a\nB\nc\n", options), std::string(kHeader) + "@@ -2 +2 @@\n-b\n+B\n");
  EXPECT_EQ(Diff("a\nb\n", "a\nx\nb\n", options), std::string(kHeader) + "@@ -1,0 +2 @@\n+x\n");
}

TEST(UnifiedDiff, LinesArePrintedThroughShown) {
  DiffOptions options;
  options.shown = [](std::string_view line) { return "<" + std::string(line) + ">"; };
  EXPECT_EQ(Diff("a\nb\n", "a\nc\n", options), std::string(kHeader) + "@@ -1,2 +1,2 @@\n <a>\n-<b>\n+<c>\n");
}

TEST(UnifiedDiff, LabelsArePrintedAsGiven) {
  EXPECT_EQ(UnifiedDiff("a\n", "b\n", "v3 draft.txt", "v7 draft-final.txt"),
            "--- v3 draft.txt\n+++ v7 draft-final.txt\n@@ -1 +1 @@\n-a\n+b\n");
}

// ---- properties ----------------------------------------------------------------------------

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

struct Applied {
  std::string text;
  std::size_t changed = 0;  // lines removed plus lines added
  bool ok = true;
};

// Applies a unified diff to `old_text`, checking its headers, hunk ranges and every
// unchanged and removed line against the old text.
Applied Apply(const std::string& old_text, const std::string& diff) {
  const std::vector<std::string> old_lines = SplitLines(old_text);
  const std::vector<std::string> lines = SplitLines(diff);
  if (lines.empty()) return {old_text, 0, true};
  if (lines.size() < 3 || lines[0].rfind("--- ", 0) != 0 || lines[1].rfind("+++ ", 0) != 0) return {"", 0, false};
  struct Record {
    char op;
    std::string line;  // as in the text: without its newline before a "\ No newline" marker
  };
  std::vector<Record> records;
  for (std::size_t k = 2; k < lines.size(); ++k) {
    if (lines[k] == "\\ No newline at end of file\n") {
      if (records.empty() || records.back().op == '@') return {"", 0, false};
      records.back().line.pop_back();
    } else if (lines[k].rfind("@@ -", 0) == 0) {
      records.push_back({'@', lines[k]});
    } else {
      records.push_back({lines[k][0], lines[k].substr(1)});
    }
  }
  Applied out;
  std::size_t next_old = 0;  // old lines used so far
  for (const Record& r : records) {
    if (r.op == '@') {
      const std::size_t minus = 4, comma = r.line.find_first_of(", ", minus);
      const std::size_t start = std::stoul(r.line.substr(minus, comma - minus));
      const bool empty = r.line[comma] == ',' && r.line.compare(comma, 3, ",0 ") == 0;
      const std::size_t first = empty ? start : start - 1;  // 0-based first old line of the hunk
      if (first < next_old || first > old_lines.size()) return {"", 0, false};
      for (; next_old < first; ++next_old) out.text += old_lines[next_old];
      continue;
    }
    if (r.op == ' ' || r.op == '-') {
      if (next_old >= old_lines.size() || old_lines[next_old] != r.line) return {"", 0, false};
      ++next_old;
    }
    if (r.op == ' ' || r.op == '+') out.text += r.line;
    if (r.op == '-' || r.op == '+') ++out.changed;
    if (r.op != ' ' && r.op != '-' && r.op != '+') return {"", 0, false};
  }
  for (; next_old < old_lines.size(); ++next_old) out.text += old_lines[next_old];
  return out;
}

std::size_t LongestCommonSubsequence(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::vector<std::size_t>> t(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t[a.size()][b.size()];
}

std::string RandomText(std::mt19937& rng, std::size_t max_lines, int alphabet) {
  std::uniform_int_distribution<std::size_t> count(0, max_lines);
  std::uniform_int_distribution<int> letter(0, alphabet - 1);
  std::string text;
  const std::size_t n = count(rng);
  for (std::size_t i = 0; i < n; ++i) text += std::string(1, static_cast<char>('a' + letter(rng))) + "\n";
  if (!text.empty() && letter(rng) == 0) text.pop_back();
  return text;
}

TEST(UnifiedDiff, RandomTextsGetAShortestDiffThatAppliesBack) {
  std::mt19937 rng(20240517);
  for (int round = 0; round < 3000; ++round) {
    const int alphabet = 2 + round % 6;
    const std::string a = RandomText(rng, 30, alphabet);
    const std::string b = round % 3 == 0 ? a.substr(0, a.size() / 2) + RandomText(rng, 5, alphabet) + a.substr(a.size() / 2)
                                         : RandomText(rng, 30, alphabet);
    const std::string diff = Diff(a, b);
    const Applied applied = Apply(a, diff);
    ASSERT_TRUE(applied.ok) << "a:\n" << a << "\nb:\n" << b << "\ndiff:\n" << diff;
    ASSERT_EQ(applied.text, b) << "a:\n" << a << "\nb:\n" << b << "\ndiff:\n" << diff;
    const std::vector<std::string> la = SplitLines(a), lb = SplitLines(b);
    ASSERT_EQ(applied.changed, la.size() + lb.size() - 2 * LongestCommonSubsequence(la, lb))
        << "a:\n" << a << "\nb:\n" << b << "\ndiff:\n" << diff;
  }
}

TEST(UnifiedDiff, ASmallWorkBudgetStillGivesACorrectDiff) {
  std::mt19937 rng(7);
  DiffOptions options;
  options.max_work = 50;
  for (int round = 0; round < 300; ++round) {
    const std::string a = RandomText(rng, 200, 3);
    const std::string b = RandomText(rng, 200, 3);
    const Applied applied = Apply(a, Diff(a, b, options));
    ASSERT_TRUE(applied.ok);
    ASSERT_EQ(applied.text, b);
  }
}

TEST(UnifiedDiff, TooManyDifferingLinesAreComparedInBlocks) {
  DiffOptions options;
  options.max_lines = 3;
  EXPECT_EQ(Diff("a\nb\nc\nd\n", "a\nc\nb\nd\n", options),
            std::string(kHeader) + "@@ -1,4 +1,4 @@\n a\n-b\n-c\n+c\n+b\n d\n");
}

// Two 8 MiB drafts (the largest a thread carries) that share most lines, in an order that makes
// a shortest edit expensive: the search stops at its work budget (DiffOptions::max_work) and
// the diff is still correct. How long it takes is not asserted here (no timed tests on shared
// machines): about a second in an optimised build.
TEST(UnifiedDiff, EightMebibyteTextsStayBounded) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> letter(0, 7);
  std::string a, b;
  while (a.size() < (std::size_t{8} << 20) - 2) a += std::string(1, static_cast<char>('a' + letter(rng))) + "\n";
  while (b.size() < (std::size_t{8} << 20) - 2) b += std::string(1, static_cast<char>('a' + letter(rng))) + "\n";
  const std::string diff = Diff(a, b);
  const Applied applied = Apply(a, diff);
  ASSERT_TRUE(applied.ok);
  EXPECT_TRUE(applied.text == b);
}

TEST(UnifiedDiff, OneChangeInAnEightMebibyteTextIsOneHunk) {
  std::string a;
  for (int i = 0; a.size() < (std::size_t{8} << 20) - 16; ++i) a += "line " + std::to_string(i) + "\n";
  std::string b = a;
  const std::size_t at = b.find("line 300000\n");
  ASSERT_NE(at, std::string::npos);
  b.replace(at, 12, "line 300000 (amended)\n");
  EXPECT_EQ(Diff(a, b), std::string(kHeader) +
                            "@@ -299998,7 +299998,7 @@\n line 299997\n line 299998\n line 299999\n-line 300000\n"
                            "+line 300000 (amended)\n line 300001\n line 300002\n line 300003\n");
}

}  // namespace
}  // namespace comity::client
