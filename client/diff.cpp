// The line diff: common first and last lines set aside, lines interned to numbers, lines
// found in one text only marked changed (they cannot be common), then Myers' middle-snake
// search in linear space on what is left (after GNU diff's diffseq.h, with its cut-off for
// expensive searches and a total work budget), and the marks printed as unified hunks.
#include "client/diff.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace comity::client {
namespace {

using Index = std::int32_t;  // a line's position in the sequences Myers compares
constexpr Index kNoIndex = std::numeric_limits<Index>::max();

// The line that starts at `pos` of `text` (pos < text.size()), its '\n' included.
std::string_view LineAt(std::string_view text, std::size_t pos) {
  const std::size_t nl = text.find('\n', pos);
  return text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl + 1 - pos);
}

// The line that ends at `end` of `text` (begin < end), its '\n' included: it starts after the
// last '\n' before end - 1, and no earlier than `begin` (a line start).
std::string_view LineBefore(std::string_view text, std::size_t begin, std::size_t end) {
  std::size_t start = end - 1;
  while (start > begin && text[start - 1] != '\n') --start;
  return text.substr(start, end - start);
}

// Line texts to small numbers, equal lines to equal numbers: open addressing over the
// numbers given so far, grown at half load.
class LineNumbers {
 public:
  std::uint32_t Of(std::string_view line) {
    if ((lines_.size() + 1) * 2 > slots_.size()) Grow();
    const std::size_t h = std::hash<std::string_view>{}(line);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      if (slots_[i] == 0) {
        lines_.push_back(line);
        hashes_.push_back(h);
        slots_[i] = static_cast<std::uint32_t>(lines_.size());
        return slots_[i] - 1;
      }
      const std::uint32_t id = slots_[i] - 1;
      if (hashes_[id] == h && lines_[id] == line) return id;
    }
  }
  std::size_t size() const { return lines_.size(); }

 private:
  void Grow() {
    std::vector<std::uint32_t> slots(std::max<std::size_t>(64, slots_.size() * 2), 0);
    const std::size_t mask = slots.size() - 1;
    for (std::size_t id = 0; id < lines_.size(); ++id) {
      std::size_t i = hashes_[id] & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = static_cast<std::uint32_t>(id + 1);
    }
    slots_ = std::move(slots);
  }

  std::vector<std::uint32_t> slots_;  // a line's number + 1; 0: free
  std::vector<std::string_view> lines_;
  std::vector<std::size_t> hashes_;
};

struct Partition {
  Index xmid = 0;
  Index ymid = 0;
  bool lo_minimal = false;  // whether the part before the split must be compared exactly
  bool hi_minimal = false;
};

// Myers' comparison of two sequences of line numbers, marking the elements of each that are
// not in the common subsequence found.
class Comparison {
 public:
  Comparison(const std::vector<std::uint32_t>& x, const std::vector<std::uint32_t>& y, std::size_t max_work)
      : xv_(x.data()), yv_(y.data()), xchanged_(x.size(), 0), ychanged_(y.size(), 0), max_work_(max_work) {
    const std::size_t diagonals = x.size() + y.size() + 3;
    diagonals_.assign(2 * diagonals, 0);
    fd_ = diagonals_.data() + y.size() + 1;
    bd_ = diagonals_.data() + diagonals + y.size() + 1;
    // As GNU diff: give up on a shortest edit past about the square root of the lengths.
    Index expensive = 1;
    for (std::size_t d = diagonals; d != 0; d >>= 2) expensive <<= 1;
    too_expensive_ = std::max<Index>(4096, expensive);
  }

  void Run() {
    struct Part {
      Index xoff, xlim, yoff, ylim;
      bool minimal;
    };
    std::vector<Part> todo{{0, static_cast<Index>(xchanged_.size()), 0, static_cast<Index>(ychanged_.size()), false}};
    while (!todo.empty()) {
      Part p = todo.back();
      todo.pop_back();
      while (p.xoff < p.xlim && p.yoff < p.ylim && xv_[p.xoff] == yv_[p.yoff]) ++p.xoff, ++p.yoff;
      while (p.xoff < p.xlim && p.yoff < p.ylim && xv_[p.xlim - 1] == yv_[p.ylim - 1]) --p.xlim, --p.ylim;
      if (p.xoff == p.xlim || p.yoff == p.ylim || work_ > max_work_) {
        std::fill(xchanged_.begin() + p.xoff, xchanged_.begin() + p.xlim, 1);
        std::fill(ychanged_.begin() + p.yoff, ychanged_.begin() + p.ylim, 1);
        continue;
      }
      const Partition part = Diag(p.xoff, p.xlim, p.yoff, p.ylim, p.minimal);
      todo.push_back({part.xmid, p.xlim, part.ymid, p.ylim, part.hi_minimal});
      todo.push_back({p.xoff, part.xmid, p.yoff, part.ymid, part.lo_minimal});
    }
  }

  const std::vector<char>& xchanged() const { return xchanged_; }
  const std::vector<char>& ychanged() const { return ychanged_; }

 private:
  // Where a shortest edit of x[xoff, xlim) into y[yoff, ylim) crosses its middle (the first
  // elements of each differ, as do the last); when that costs too much, a point on the
  // furthest-reaching path found so far.
  Partition Diag(Index xoff, Index xlim, Index yoff, Index ylim, bool find_minimal) {
    Index* const fd = fd_;
    Index* const bd = bd_;
    const Index dmin = xoff - ylim;
    const Index dmax = xlim - yoff;
    const Index fmid = xoff - yoff;
    const Index bmid = xlim - ylim;
    Index fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
    const bool odd = ((fmid - bmid) & 1) != 0;
    fd[fmid] = xoff;
    bd[bmid] = xlim;
    for (Index cost = 1;; ++cost) {
      if (fmin > dmin) {
        fd[--fmin - 1] = -1;
      } else {
        ++fmin;
      }
      if (fmax < dmax) {
        fd[++fmax + 1] = -1;
      } else {
        --fmax;
      }
      for (Index d = fmax; d >= fmin; d -= 2) {
        const Index tlo = fd[d - 1];
        const Index thi = fd[d + 1];
        const Index x0 = tlo < thi ? thi : tlo + 1;
        Index x = x0;
        Index y = x0 - d;
        while (x < xlim && y < ylim && xv_[x] == yv_[y]) ++x, ++y;
        work_ += 1 + static_cast<std::size_t>(x - x0);
        fd[d] = x;
        if (odd && bmin <= d && d <= bmax && bd[d] <= x) return {x, y, true, true};
      }
      if (bmin > dmin) {
        bd[--bmin - 1] = kNoIndex;
      } else {
        ++bmin;
      }
      if (bmax < dmax) {
        bd[++bmax + 1] = kNoIndex;
      } else {
        --bmax;
      }
      for (Index d = bmax; d >= bmin; d -= 2) {
        const Index tlo = bd[d - 1];
        const Index thi = bd[d + 1];
        const Index x0 = tlo < thi ? tlo : thi - 1;
        Index x = x0;
        Index y = x0 - d;
        while (xoff < x && yoff < y && xv_[x - 1] == yv_[y - 1]) --x, --y;
        work_ += 1 + static_cast<std::size_t>(x0 - x);
        bd[d] = x;
        if (!odd && fmin <= d && d <= fmax && x <= fd[d]) return {x, y, true, true};
      }
      const bool over_budget = work_ > max_work_;
      if (!over_budget && (find_minimal || cost < too_expensive_)) continue;

      // Give up: split at the better of the forward path that got furthest (largest x + y)
      // and the backward one that did.
      Index fxybest = -1, fxbest = 0;
      for (Index d = fmax; d >= fmin; d -= 2) {
        Index x = std::min(fd[d], xlim);
        Index y = x - d;
        if (ylim < y) x = ylim + d, y = ylim;
        if (fxybest < x + y) fxybest = x + y, fxbest = x;
      }
      Index bxybest = kNoIndex, bxbest = 0;
      for (Index d = bmax; d >= bmin; d -= 2) {
        Index x = std::max(xoff, bd[d]);
        Index y = x - d;
        if (y < yoff) x = yoff + d, y = yoff;
        if (x + y < bxybest) bxybest = x + y, bxbest = x;
      }
      if ((xlim + ylim) - bxybest < fxybest - (xoff + yoff)) return {fxbest, fxybest - fxbest, true, false};
      return {bxbest, bxybest - bxbest, false, true};
    }
  }

  const std::uint32_t* xv_;
  const std::uint32_t* yv_;
  std::vector<char> xchanged_;
  std::vector<char> ychanged_;
  std::vector<Index> diagonals_;  // the forward and the backward furthest x per diagonal
  Index* fd_ = nullptr;           // indexed by diagonal x - y, from -(|y| + 1) to |x| + 1
  Index* bd_ = nullptr;
  Index too_expensive_ = 4096;
  std::size_t work_ = 0;
  const std::size_t max_work_;
};

// The lines of text[begin, end), each numbered.
std::vector<std::uint32_t> NumberLines(std::string_view text, std::size_t begin, std::size_t end,
                                       LineNumbers& numbers) {
  std::vector<std::uint32_t> out;
  for (std::size_t pos = begin; pos < end;) {
    const std::string_view line = LineAt(text.substr(0, end), pos);
    out.push_back(numbers.Of(line));
    pos += line.size();
  }
  return out;
}

std::size_t CountLines(std::string_view text) {
  std::size_t n = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

// Marks, for each line of the differing middles a and b, whether it is changed.
void MarkChanges(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b, std::size_t numbers,
                 const DiffOptions& options, std::vector<char>& a_changed, std::vector<char>& b_changed) {
  // A line found in one text only is changed in any edit; the rest is compared.
  std::vector<std::uint8_t> in_a(numbers, 0), in_b(numbers, 0);
  for (std::uint32_t n : a) in_a[n] = 1;
  for (std::uint32_t n : b) in_b[n] = 1;
  std::vector<std::uint32_t> x, y, x_at, y_at;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (in_b[a[i]] != 0) x.push_back(a[i]), x_at.push_back(static_cast<std::uint32_t>(i));
  }
  for (std::size_t j = 0; j < b.size(); ++j) {
    if (in_a[b[j]] != 0) y.push_back(b[j]), y_at.push_back(static_cast<std::uint32_t>(j));
  }
  a_changed.assign(a.size(), 1);
  b_changed.assign(b.size(), 1);
  if (x.empty() || y.empty()) return;
  Comparison comparison(x, y, options.max_work);
  comparison.Run();
  for (std::size_t k = 0; k < x.size(); ++k) a_changed[x_at[k]] = comparison.xchanged()[k];
  for (std::size_t k = 0; k < y.size(); ++k) b_changed[y_at[k]] = comparison.ychanged()[k];
}

// Reads a text's lines front to back.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  void SkipTo(std::size_t line) {
    while (index_ < line && pos_ < text_.size()) Next(nullptr);
  }
  std::string_view Next(bool* no_newline) {
    const std::string_view line = LineAt(text_, pos_);
    pos_ += line.size();
    ++index_;
    const bool has_newline = !line.empty() && line.back() == '\n';
    if (no_newline != nullptr) *no_newline = !has_newline;
    return has_newline ? line.substr(0, line.size() - 1) : line;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t index_ = 0;
};

// A run of changed lines: old [i0, i1) removed, new [j0, j1) added.
struct Block {
  std::size_t i0, i1, j0, j1;
};

// "start,count" as diff -u writes it, from a 0-based start.
std::string Range(std::size_t start, std::size_t count) {
  if (count == 0) return std::to_string(start) + ",0";
  if (count == 1) return std::to_string(start + 1);
  return std::to_string(start + 1) + "," + std::to_string(count);
}

class HunkWriter {
 public:
  HunkWriter(std::string_view old_text, std::string_view new_text, const DiffOptions& options, std::string& out)
      : old_(old_text), new_(new_text), options_(options), out_(out) {}

  // Writes the hunk of `blocks`, `before` and `after` unchanged lines around them.
  void Write(const std::vector<Block>& blocks, std::size_t before, std::size_t after) {
    const std::size_t old_start = blocks.front().i0 - before;
    const std::size_t new_start = blocks.front().j0 - before;
    const std::size_t old_end = blocks.back().i1 + after;
    const std::size_t new_end = blocks.back().j1 + after;
    out_ += "@@ -" + Range(old_start, old_end - old_start) + " +" + Range(new_start, new_end - new_start) + " @@\n";
    old_.SkipTo(old_start);
    new_.SkipTo(new_start);
    std::size_t i = old_start;
    for (const Block& b : blocks) {
      for (; i < b.i0; ++i) Unchanged();
      for (; i < b.i1; ++i) Line('-', old_);
      for (std::size_t j = b.j0; j < b.j1; ++j) Line('+', new_);
    }
    for (; i < old_end; ++i) Unchanged();
  }

 private:
  void Unchanged() {
    Line(' ', old_);
    new_.Next(nullptr);
  }
  void Line(char op, LineReader& from) {
    bool no_newline = false;
    const std::string_view text = from.Next(&no_newline);
    out_ += op;
    if (options_.shown) {
      out_ += options_.shown(text);
    } else {
      out_.append(text);
    }
    out_ += no_newline ? "\n\\ No newline at end of file\n" : "\n";
  }

  LineReader old_;
  LineReader new_;
  const DiffOptions& options_;
  std::string& out_;
};

}  // namespace

std::string UnifiedDiff(std::string_view old_text, std::string_view new_text, const std::string& old_label,
                        const std::string& new_label, const DiffOptions& options) {
  // The common first lines (old_text[0, a_begin) and new_text[0, b_begin), `first` lines).
  std::size_t a_begin = 0, b_begin = 0, first = 0;
  while (a_begin < old_text.size() && b_begin < new_text.size()) {
    const std::string_view line = LineAt(old_text, a_begin);
    if (line != LineAt(new_text, b_begin)) break;
    a_begin += line.size();
    b_begin += line.size();
    ++first;
  }
  if (a_begin == old_text.size() && b_begin == new_text.size()) return "";
  // The common last lines, after those.
  std::size_t a_end = old_text.size(), b_end = new_text.size();
  while (a_end > a_begin && b_end > b_begin) {
    const std::string_view line = LineBefore(old_text, a_begin, a_end);
    if (line != LineBefore(new_text, b_begin, b_end)) break;
    a_end -= line.size();
    b_end -= line.size();
  }

  std::vector<char> a_changed, b_changed;
  const std::string_view a_middle = old_text.substr(a_begin, a_end - a_begin);
  const std::string_view b_middle = new_text.substr(b_begin, b_end - b_begin);
  const std::size_t middle_lines = CountLines(a_middle) + CountLines(b_middle);
  if (middle_lines > options.max_lines ||
      middle_lines >= static_cast<std::size_t>(std::numeric_limits<Index>::max() / 2)) {
    a_changed.assign(CountLines(a_middle), 1);
    b_changed.assign(CountLines(b_middle), 1);
  } else {
    LineNumbers numbers;
    const std::vector<std::uint32_t> a = NumberLines(old_text, a_begin, a_end, numbers);
    const std::vector<std::uint32_t> b = NumberLines(new_text, b_begin, b_end, numbers);
    MarkChanges(a, b, numbers.size(), options, a_changed, b_changed);
  }

  // Walk the middles: unchanged lines pair up in order; each run of changes is a block.
  // Blocks at most 2 * context apart share a hunk.
  std::string out = "--- " + old_label + "\n+++ " + new_label + "\n";
  HunkWriter writer(old_text, new_text, options, out);
  const std::size_t old_lines = CountLines(old_text);
  const std::size_t context = options.context;
  std::vector<Block> hunk;
  std::size_t hunk_before = 0;  // unchanged lines before the hunk's first block
  std::size_t last_end = 0;     // old line after the previous hunk
  std::size_t i = 0, j = 0;     // in the middles
  while (i < a_changed.size() || j < b_changed.size()) {
    const bool a_change = i < a_changed.size() && a_changed[i] != 0;
    const bool b_change = j < b_changed.size() && b_changed[j] != 0;
    if (!a_change && !b_change) {
      ++i, ++j;
      continue;
    }
    Block block{first + i, 0, first + j, 0};
    while (i < a_changed.size() && a_changed[i] != 0) ++i;
    while (j < b_changed.size() && b_changed[j] != 0) ++j;
    block.i1 = first + i;
    block.j1 = first + j;
    if (!hunk.empty() && block.i0 - hunk.back().i1 > 2 * context) {
      writer.Write(hunk, hunk_before, context);
      last_end = hunk.back().i1 + context;
      hunk.clear();
    }
    if (hunk.empty()) hunk_before = std::min(context, block.i0 - last_end);
    hunk.push_back(block);
  }
  if (!hunk.empty()) writer.Write(hunk, hunk_before, std::min(context, old_lines - hunk.back().i1));
  return out;
}

}  // namespace comity::client
