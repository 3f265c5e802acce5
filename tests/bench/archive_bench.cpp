// comity-bench archive: speed of the archive (node/archive, SQLCipher) against a baseline of
// plain SQLite with the same schema, pragmas and code path (Archive::OpenRaw with an empty
// key), both filled with the same messages in the same run, batch by batch, alternating which
// goes first so that a shared machine's load falls on both alike. Prints one JSON object.
//
// What it measures:
//   insert  - 1 KiB messages through Archive::AddMessage (row, seen id, search index) inside
//             Archive::Batch, `batch` messages per transaction; messages per second.
//   search  - Archive::Search latency of single-word queries (common, medium, rare words of a
//             Zipf-distributed pseudo-vocabulary, and unique case references), each timed alone
//             with steady_clock, p50/p99/max and pages read, at two sizes (100k and 1M by
//             default); after the timing, every page returned is checked against the obvious
//             query (every match, sorted) on both databases.
//   open    - Archive::OpenRaw of the full database (no Argon2id: it takes the raw key), and
//             the first search after it; Argon2id MODERATE, what Archive::Open adds, on its own.
// Usage: comity-bench archive [--quick] [--messages N] [--dir DIR] [--keep]
#include "archive_bench.h"

#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/sodium.h"
#include "node/archive/archive.h"

namespace comity::bench {
namespace {

using archive::Archive;
using archive::ArchiveStatus;
using archive::MessageRecord;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kSeed = 0xC0417E5EEDULL;
constexpr int kVocabulary = 5000;
constexpr double kZipfExponent = 1.0;
constexpr std::size_t kBodyBytes = 1024;
constexpr std::size_t kEnvelopeOverhead = 256;  // signature, nonce, wrapped key, parties
constexpr int kBatch = 1000;
constexpr int kSearchLimit = 50;  // one page of results
constexpr std::int64_t kEpoch = 1'767'225'600;  // 2026-01-01

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "comity-bench archive: %s\n", what.c_str());
  std::exit(1);
}

// splitmix64: deterministic on every platform, unlike the std distributions.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  std::uint64_t Below(std::uint64_t n) { return Next() % n; }
};

// Pronounceable pseudo-words by frequency rank; frequent words are short, as in real text.
struct Vocabulary {
  std::vector<std::string> words;
  std::vector<double> cdf;

  Vocabulary() {
    static const char* const kOnsets[] = {"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
                                          "v", "w", "z", "br", "ch", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st",
                                          "th", "tr"};
    static const char* const kVowels[] = {"a", "e", "i", "o", "u", "ai", "ea", "ie", "ou"};
    static const char* const kCodas[] = {"", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"};
    Rng rng(kSeed);
    std::unordered_set<std::string> seen;
    while (words.size() < static_cast<std::size_t>(kVocabulary)) {
      const std::size_t rank = words.size();
      const int syllables = 1 + (rank >= 50) + (rank >= 800) + (rank >= 3000 && rng.Below(2) == 0);
      std::string w;
      for (int i = 0; i < syllables; ++i) {
        w += kOnsets[rng.Below(std::size(kOnsets))];
        w += kVowels[rng.Below(std::size(kVowels))];
        if (i == syllables - 1) w += kCodas[rng.Below(std::size(kCodas))];
      }
      if (seen.insert(w).second) words.push_back(std::move(w));
    }
    double h = 0;
    for (int k = 1; k <= kVocabulary; ++k) {
      h += 1.0 / std::pow(k, kZipfExponent);
      cdf.push_back(h);
    }
    for (double& c : cdf) c /= h;
  }
  const std::string& Draw(Rng& rng) const {
    auto it = std::lower_bound(cdf.begin(), cdf.end(), rng.Uniform());
    return words[std::min<std::size_t>(static_cast<std::size_t>(it - cdf.begin()), words.size() - 1)];
  }
};

std::string Reference(std::int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ref%08lld", static_cast<long long>(n));
  return buf;
}

// Message n, the same in every run: a case reference and five words as subject, 1 KiB of
// words as body (the decrypted content is that text), an envelope-sized incompressible blob.
void MakeMessage(std::int64_t n, const Vocabulary& vocab, MessageRecord& m) {
  Rng rng(kSeed ^ (static_cast<std::uint64_t>(n) * 0x100000001b3ULL));
  m.direction = n % 3 == 0 ? "out" : "in";
  m.sender = "M" + std::to_string(10 + n % 40) + "@Bench";
  m.recipients = "M" + std::to_string(10 + (n + 7) % 40) + "@Bench";
  // One message every 30 s, stamped by its sender: most arrive within a minute of it, one in
  // ten up to six hours late (an outbox catching up), so arrival and created_at orders differ.
  m.created_at = kEpoch + n * 30 - static_cast<std::int64_t>(rng.Below(n % 10 == 7 ? 6 * 3600 : 60));
  m.stored_at = m.created_at + 2;
  // A message id as docs/PROTOCOL.md 6.3 makes it: created_at big-endian, then 24 bytes of hash.
  m.message_id.assign(32, 0);
  for (int i = 0; i < 8; ++i) m.message_id[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(m.created_at) >> (56 - 8 * i));
  for (int i = 1; i < 4; ++i) {
    std::uint64_t v = rng.Next();
    std::memcpy(m.message_id.data() + 8 * i, &v, 8);
  }
  m.content_type = "text/plain; charset=utf-8";
  m.thread_uid = n % 4 == 0 ? "" : "thread-" + std::to_string(n / 20);
  m.subject = Reference(n);
  for (int i = 0; i < 5; ++i) (m.subject += ' ') += vocab.Draw(rng);
  m.body.clear();
  for (;;) {
    const std::string& w = vocab.Draw(rng);
    if (m.body.size() + 1 + w.size() > kBodyBytes) break;
    if (!m.body.empty()) m.body += ' ';
    m.body += w;
  }
  m.body.resize(kBodyBytes, ' ');
  m.content.assign(m.body.begin(), m.body.end());
  m.envelope.resize(kBodyBytes + kEnvelopeOverhead);
  for (std::size_t i = 0; i < m.envelope.size(); i += 8) {
    std::uint64_t v = rng.Next();
    std::memcpy(m.envelope.data() + i, &v, std::min<std::size_t>(8, m.envelope.size() - i));
  }
}

// ---- the temporary directory, removed at exit and on SIGINT, SIGTERM, SIGHUP, SIGPIPE -------

std::vector<std::string> g_files;  // removed in order; directories last
char g_cleanup[16][512];           // the same, for the signal handler (no allocation there)
int g_cleanup_n = 0;

void Cleanup() {
  for (const auto& f : g_files) {
    if (::unlink(f.c_str()) != 0) ::rmdir(f.c_str());
  }
}

extern "C" void OnSignal(int sig) {
  for (int i = 0; i < g_cleanup_n; ++i) {
    if (::unlink(g_cleanup[i]) != 0) ::rmdir(g_cleanup[i]);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void RemoveAtExit(const std::string& path) {
  g_files.push_back(path);
  if (g_cleanup_n < 16 && path.size() < sizeof g_cleanup[0]) std::strcpy(g_cleanup[g_cleanup_n++], path.c_str());
}

std::string TempBase(const std::string& requested) {
  if (!requested.empty()) return requested;
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') return t;
  struct statfs fs {};
  // A tmpfs /tmp is memory: the benchmark wants the disk, so it goes to /var/tmp instead.
  if (::statfs("/tmp", &fs) == 0 && fs.f_type == 0x01021994) return "/var/tmp";
  return "/tmp";
}

bool OnTmpfs(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == 0x01021994;
}

double FreeBytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return 0;
  return static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize);
}

double FileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.2f, %.2f, %.2f]", a, b, c);
  return buf;
}

// ---- the two databases ----------------------------------------------------------------------

struct Side {
  const char* name;  // "ours" (SQLCipher, keyed) or "baseline" (plain SQLite)
  std::string path;
  std::string blobs;
  crypto::SecretBytes key;
  std::unique_ptr<Archive> a;
  std::vector<double> batch_seconds;  // every insert batch, in order
  double insert_cpu = 0;              // CPU seconds of this thread in those batches (user + system)
};

void Open(Side& s) {
  auto a = Archive::OpenRaw(s.path, s.blobs, s.key);
  if (!a) Die(std::string("cannot open the ") + s.name + " database: " + a.error().message);
  s.a = std::move(a).value();
}

double ThreadCpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double InsertBatch(Side& s, const std::vector<MessageRecord>& batch) {
  auto start = Clock::now();
  const double cpu = ThreadCpu();
  ArchiveStatus st = s.a->Batch([&]() -> ArchiveStatus {
    for (const MessageRecord& m : batch) {
      auto added = s.a->AddMessage(m);
      if (!added) return added.error();
      if (!*added) return archive::Fail(archive::ArchiveCode::kInvalid, "a generated message id repeated");
    }
    return {};
  });
  s.insert_cpu += ThreadCpu() - cpu;
  double t = Seconds(start, Clock::now());
  if (!st) Die(std::string("insert into the ") + s.name + " database failed: " + st.error().message);
  s.batch_seconds.push_back(t);
  return t;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}
double Sum(const std::vector<double>& v, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  double t = 0;
  const std::size_t end = std::min(to, v.size());  // hoisted: GCC 12 -O3 misreads the bound otherwise
  for (std::size_t i = from; i < end; ++i) t += v[i];
  return t;
}

struct Query {
  std::string cls;   // common, medium, rare, reference
  std::string text;
  std::int64_t matches = 0;  // documents matching in the whole index
};

std::int64_t CountMatches(Archive& a, const std::string& word) {
  auto n = a.CountMatches(word);
  if (!n) Die("counting matches of " + word + " failed: " + n.error().message);
  return *n;
}

// `per_class` queries of each class, shuffled: ten words of each frequency band, each asked
// per_class/10 times, and per_class distinct references of messages already stored.
std::vector<Query> MakeQueries(const Vocabulary& vocab, std::int64_t stored, int per_class, Rng& rng) {
  std::vector<Query> q;
  const struct {
    const char* cls;
    int first_rank, step;
  } bands[] = {{"common", 0, 1}, {"medium", 100, 100}, {"rare", 4000, 100}};
  const int repeats = std::max(1, per_class / 10);
  for (const auto& band : bands) {
    for (int w = 0; w < 10; ++w) {
      for (int r = 0; r < repeats; ++r) q.push_back({band.cls, vocab.words[band.first_rank + w * band.step], 0});
    }
  }
  for (int i = 0; i < 10 * repeats; ++i) {
    q.push_back({"reference", Reference(static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(stored)))), 0});
  }
  for (std::size_t i = q.size(); i > 1; --i) std::swap(q[i - 1], q[rng.Below(i)]);
  return q;
}

struct Latencies {
  std::vector<double> all;
  std::vector<std::pair<std::string, std::vector<double>>> by_class;
  std::vector<std::pair<std::string, std::int64_t>> pages_by_class;  // pages read into the page cache
  std::int64_t& Pages(const std::string& c) {
    for (auto& [name, n] : pages_by_class) {
      if (name == c) return n;
    }
    pages_by_class.emplace_back(c, 0);
    return pages_by_class.back().second;
  }
  std::vector<double>& Class(const std::string& c) {
    for (auto& [name, v] : by_class) {
      if (name == c) return v;
    }
    by_class.emplace_back(c, std::vector<double>());
    return by_class.back().second;
  }
};

// What Search must return, computed the slow and obvious way: every match in every full-text
// partition, sorted.
std::vector<crypto::Bytes> ExpectedPage(Archive& a, const std::string& word) {
  auto parts = a.db().Prepare("SELECT part FROM search_parts ORDER BY part");
  if (!parts) Die(parts.error().message);
  std::string sql;
  (*parts)->Reset();
  for (;;) {
    auto row = (*parts)->Step();
    if (!row) Die("listing the full-text partitions failed: " + row.error().message);
    if (!*row) break;
    const std::string t = "search_text_" + std::to_string((*parts)->Int(0));
    sql += (sql.empty() ? "" : " UNION ALL ") + std::string("SELECT s.ref, s.created_at, s.id FROM ") + t +
           " JOIN search_items s ON s.id = " + t + ".docid WHERE " + t + " MATCH ?1";
  }
  (*parts)->Reset();
  auto s = a.db().Prepare(sql + " ORDER BY 2 DESC, 3 DESC LIMIT ?2");
  if (!s) Die(s.error().message);
  (*s)->Reset().Bind(1, word).Bind(2, static_cast<std::int64_t>(kSearchLimit));
  std::vector<crypto::Bytes> refs;
  for (;;) {
    auto row = (*s)->Step();
    if (!row) Die("the reference query for " + word + " failed: " + row.error().message);
    if (!*row) break;
    refs.push_back((*s)->Blob(0));
  }
  (*s)->Reset();
  return refs;
}

// Times one Search (failing the run if it fails); its hits' ids go to `got`, and with `pages`
// the pages SQLite read into its cache for it (each one a decryption in our database).
double TimedSearch(Side& s, const Query& q, std::vector<crypto::Bytes>* got = nullptr, std::int64_t* pages = nullptr) {
  int misses = 0, high = 0;
  sqlite3_db_status(s.a->db().raw(), SQLITE_DBSTATUS_CACHE_MISS, &misses, &high, 1);
  auto start = Clock::now();
  auto hits = s.a->Search(q.text, kSearchLimit);
  double t = Seconds(start, Clock::now());
  sqlite3_db_status(s.a->db().raw(), SQLITE_DBSTATUS_CACHE_MISS, &misses, &high, 0);
  if (!hits) Die(std::string("search in the ") + s.name + " database failed: " + hits.error().message);
  if (pages != nullptr) *pages += misses;
  if (got != nullptr) {
    got->clear();
    for (const auto& h : *hits) got->push_back(h.message_id);
  }
  return t;
}

std::string Ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds * 1e3);
  return buf;
}
std::string Num(double v, const char* fmt = "%.3f") {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Runs the query set on both sides; returns the JSON object for this size.
std::string SearchAt(Side& ours, Side& base, const Vocabulary& vocab, std::int64_t stored, int per_class, Rng& rng,
                     double* ours_p99, double* p99_ratio) {
  std::vector<Query> queries = MakeQueries(vocab, stored, per_class, rng);
  Latencies lat[2];
  for (Latencies& l : lat) {
    for (const char* c : {"common", "medium", "rare", "reference"}) l.Class(c);  // report in this order
  }
  std::vector<std::vector<crypto::Bytes>> got[2];  // each query's hits, for the check below
  for (auto& g : got) g.resize(queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    Side* order[2] = {&ours, &base};
    if (i % 2 == 1) std::swap(order[0], order[1]);
    for (Side* s : order) {
      const int side = s == &ours ? 0 : 1;
      Latencies& l = lat[side];
      double t = TimedSearch(*s, queries[i], &got[side][i], &l.Pages(queries[i].cls));
      l.all.push_back(t);
      l.Class(queries[i].cls).push_back(t);
    }
  }
  // Only now, so that no timed query met a cache warmed by them, and on both databases alike:
  // how many messages match each word, and the page it must give, the slow and obvious way.
  // Every answer timed above must be that page.
  std::vector<std::pair<std::string, std::int64_t>> counted;
  std::vector<std::vector<crypto::Bytes>> pages;  // beside `counted`
  for (std::size_t i = 0; i < queries.size(); ++i) {
    Query& q = queries[i];
    auto it = std::find_if(counted.begin(), counted.end(), [&](const auto& c) { return c.first == q.text; });
    if (it == counted.end()) {
      const std::int64_t n = CountMatches(*base.a, q.text);
      pages.push_back(ExpectedPage(*base.a, q.text));
      if (CountMatches(*ours.a, q.text) != n || ExpectedPage(*ours.a, q.text) != pages.back()) {
        Die("the two databases disagree about '" + q.text + "'");
      }
      counted.emplace_back(q.text, n);
      it = counted.end() - 1;
    }
    q.matches = it->second;
    const std::vector<crypto::Bytes>& want = pages[static_cast<std::size_t>(it - counted.begin())];
    for (int side = 0; side < 2; ++side) {
      if (got[side][i] != want) {
        Die(std::string("search '") + q.text + "' in the " + (side == 0 ? ours.name : base.name) +
            " database returned the wrong page");
      }
    }
  }
  *ours_p99 = Percentile(lat[0].all, 0.99);
  *p99_ratio = *ours_p99 / Percentile(lat[1].all, 0.99);
  std::string j = "{\"at_messages\": " + std::to_string(stored) + ", \"queries\": " + std::to_string(queries.size()) +
                  ", \"limit\": " + std::to_string(kSearchLimit);
  j += ", \"ours_p50_ms\": " + Ms(Percentile(lat[0].all, 0.5)) + ", \"ours_p99_ms\": " + Ms(*ours_p99) +
       ", \"ours_max_ms\": " + Ms(Percentile(lat[0].all, 1.0));
  j += ", \"baseline_p50_ms\": " + Ms(Percentile(lat[1].all, 0.5)) +
       ", \"baseline_p99_ms\": " + Ms(Percentile(lat[1].all, 0.99)) +
       ", \"baseline_max_ms\": " + Ms(Percentile(lat[1].all, 1.0));
  j += ", \"ratio_p50\": " + Num(Percentile(lat[0].all, 0.5) / Percentile(lat[1].all, 0.5)) +
       ", \"ratio_p99\": " + Num(*p99_ratio) + ",\n      \"classes\": [";
  for (std::size_t c = 0; c < lat[0].by_class.size(); ++c) {
    const std::string& cls = lat[0].by_class[c].first;
    std::vector<double>& o = lat[0].by_class[c].second;
    std::vector<double>& b = lat[1].Class(cls);
    std::string words;
    std::int64_t lo = INT64_MAX, hi = 0;
    int distinct = 0;
    for (const auto& [text, n] : counted) {
      auto q = std::find_if(queries.begin(), queries.end(), [&t = text](const Query& x) { return x.text == t; });
      if (q->cls != cls) continue;
      if (distinct++ < 10) words += (words.empty() ? "" : " ") + text + ":" + std::to_string(n);
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    if (distinct > 10) words += " ...";
    j += std::string(c == 0 ? "" : ",") + "\n        {\"class\": \"" + cls + "\", \"queries\": " +
         std::to_string(o.size()) + ", \"distinct\": " + std::to_string(distinct) +
         ", \"matches_min\": " + std::to_string(lo) + ", \"matches_max\": " + std::to_string(hi) +
         ", \"ours_p50_ms\": " + Ms(Percentile(o, 0.5)) + ", \"ours_p99_ms\": " + Ms(Percentile(o, 0.99)) +
         ", \"baseline_p50_ms\": " + Ms(Percentile(b, 0.5)) + ", \"baseline_p99_ms\": " + Ms(Percentile(b, 0.99)) +
         ", \"ours_pages_read_per_query\": " + Num(static_cast<double>(lat[0].Pages(cls)) / static_cast<double>(o.size()), "%.1f") +
         ", \"baseline_pages_read_per_query\": " + Num(static_cast<double>(lat[1].Pages(cls)) / static_cast<double>(b.size()), "%.1f") +
         ", \"words\": \"" + words + "\"}";
  }
  j += "]}";
  return j;
}

}  // namespace

int RunArchiveBench(int argc, char** argv) {
  bool quick = false;
  std::int64_t messages = 0;
  std::string dir_arg;
  bool keep = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--messages" && i + 1 < argc) {
      messages = std::atoll(argv[++i]);
      if (messages < 10 * kBatch) Die("--messages must be at least " + std::to_string(10 * kBatch));
    } else if (a == "--dir" && i + 1 < argc) {
      dir_arg = argv[++i];
    } else if (a == "--keep") {
      keep = true;  // leave the databases for inspection (their directory goes to stderr)
    } else {
      std::fprintf(stderr, "usage: comity-bench archive [--quick] [--messages N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  if (messages == 0) messages = quick ? 10'000 : 1'000'000;
  messages = messages / kBatch * kBatch;
  const std::int64_t first_size = std::max<std::int64_t>(kBatch, std::min<std::int64_t>(100'000, messages / 5) / kBatch * kBatch);
  const std::vector<std::int64_t> sizes = {first_size, messages};
  const int per_class = quick ? 10 : 50;  // 4 classes: 40 or 200 queries per size
  const int open_rounds = quick ? 3 : 7;
  const int kdf_rounds = quick ? 1 : 3;
  crypto::EnsureSodium();
  const auto run_start = Clock::now();
  const std::string load_start = LoadAverage();

  // Where the databases go, and whether they fit: measured at about 4.9 KB per message in each
  // database (the envelope, the content, the indexed text and its full-text index), asked for
  // with a margin for the WAL and the index merges.
  const std::string base_dir = TempBase(dir_arg);
  std::string tmpl = base_dir + "/comity-bench-archive-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) Die("cannot create a directory under " + base_dir + ": " + std::strerror(errno));
  const std::string dir = tmpl;
  const double need = static_cast<double>(messages) * 2 * 8192 + (1u << 30);
  const double free_bytes = FreeBytes(dir);
  if (free_bytes < need) {
    ::rmdir(dir.c_str());
    Die("needs about " + Num(need / 1e9, "%.1f") + " GB free in " + base_dir + ", has " + Num(free_bytes / 1e9, "%.1f") +
        " GB (use --dir or --messages)");
  }
  Side ours{"ours", dir + "/keyed.db", dir + "/keyed-blobs", {}, nullptr, {}};
  Side base{"baseline", dir + "/plain.db", dir + "/plain-blobs", {}, nullptr, {}};
  for (Side* s : {&ours, &base}) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) RemoveAtExit(s->path + suffix);
  }
  RemoveAtExit(dir);
  if (keep) {
    g_files.clear();
    g_cleanup_n = 0;
  }
  else std::atexit(Cleanup);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, OnSignal);

  // What Archive::Open spends before it reaches OpenRaw: Argon2id at MODERATE. Its output
  // keys our database.
  std::vector<double> kdf_times;
  {
    const std::string passphrase = "correct horse battery staple";
    crypto::Bytes salt(16, 0x5a);
    for (int r = 0; r < kdf_rounds; ++r) {
      auto start = Clock::now();
      auto key = crypto::DeriveKey(crypto::AsBytes(passphrase), salt, crypto::ModerateKdf());
      kdf_times.push_back(Seconds(start, Clock::now()));
      if (!key) Die("Argon2id failed: " + key.error().message);
      ours.key = std::move(key).value();
    }
  }
  Open(ours);
  Open(base);
  std::fprintf(stderr, "comity-bench archive: %lld messages into %s (free %.1f GB), load %s\n",
               static_cast<long long>(messages), dir.c_str(), free_bytes / 1e9, load_start.c_str());

  const Vocabulary vocab;
  Rng query_rng(kSeed + 1);
  std::vector<MessageRecord> batch(kBatch);
  std::vector<std::string> search_json;
  std::vector<std::size_t> phase_end_batch;  // batch count at the end of each size
  double largest_p99 = 0, largest_p99_ratio = 0;
  std::int64_t stored = 0;
  std::size_t batches = 0;
  for (std::int64_t size : sizes) {
    auto phase_start = Clock::now();
    while (stored < size) {
      for (int i = 0; i < kBatch; ++i) MakeMessage(stored + i, vocab, batch[i]);
      // Alternate which database goes first, so that neither always meets a warmer cache.
      if (batches % 2 == 0) {
        InsertBatch(ours, batch);
        InsertBatch(base, batch);
      } else {
        InsertBatch(base, batch);
        InsertBatch(ours, batch);
      }
      stored += kBatch;
      ++batches;
      if (stored % 100'000 == 0) {
        const std::size_t from = batches - std::min<std::size_t>(batches, 100);
        std::fprintf(stderr, "  %lld stored: last 100k ours %.0f/s, baseline %.0f/s, load %s\n",
                     static_cast<long long>(stored), 100.0 * kBatch / Sum(ours.batch_seconds, from),
                     100.0 * kBatch / Sum(base.batch_seconds, from), LoadAverage().c_str());
      }
    }
    phase_end_batch.push_back(batches);
    for (Side* s : {&ours, &base}) {
      auto n = s->a->MessageCount();
      if (!n || *n != stored) Die(std::string("the ") + s->name + " database lost messages");
    }
    std::fprintf(stderr, "  %lld stored in %.1f s; searching\n", static_cast<long long>(stored),
                 Seconds(phase_start, Clock::now()));
    search_json.push_back(SearchAt(ours, base, vocab, stored, per_class, query_rng, &largest_p99, &largest_p99_ratio));
  }

  // Open: close both (the WAL is checkpointed away), then reopen each several times.
  ours.a.reset();
  base.a.reset();
  const double ours_bytes = FileBytes(ours.path), base_bytes = FileBytes(base.path);
  std::vector<double> open_times[2];
  for (int r = 0; r < open_rounds; ++r) {
    Side* order[2] = {&ours, &base};
    if (r % 2 == 1) std::swap(order[0], order[1]);
    for (Side* s : order) {
      auto start = Clock::now();
      Open(*s);
      open_times[s == &ours ? 0 : 1].push_back(Seconds(start, Clock::now()));
      if (r + 1 < open_rounds) s->a.reset();
    }
  }
  // The first search on a fresh connection (SQLite's page cache empty; the OS cache is warm).
  Query first{"medium", vocab.words[300], 0};
  const double ours_first = TimedSearch(ours, first), base_first = TimedSearch(base, first);
  ours.a.reset();
  base.a.reset();

  // ---- JSON ----
  const double ours_insert = Sum(ours.batch_seconds), base_insert = Sum(base.batch_seconds);
  const double ours_rate = static_cast<double>(stored) / ours_insert;
  const double insert_ratio = ours_insert / base_insert;
  const double kdf = Percentile(kdf_times, 0.5);
  const double total = Seconds(run_start, Clock::now());
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"archive\",\n  \"quick\": %s,\n", quick ? "true" : "false");
  std::printf("  \"sqlcipher\": \"%s\",\n  \"libsodium\": \"%s\",\n", sqlite3_libversion(), sodium_version_string());
  std::printf("  \"dir\": \"%s\",\n  \"dir_on_tmpfs\": %s,\n", base_dir.c_str(), OnTmpfs(dir) ? "true" : "false");
  std::printf("  \"load_average_start\": %s,\n  \"load_average_end\": %s,\n", load_start.c_str(), LoadAverage().c_str());
  std::printf("  \"messages\": %lld,\n  \"message\": {\"body_bytes\": %zu, \"envelope_bytes\": %zu, \"vocabulary\": %d, "
              "\"zipf_exponent\": %.1f, \"seed\": %llu},\n",
              static_cast<long long>(stored), kBodyBytes, kBodyBytes + kEnvelopeOverhead, kVocabulary, kZipfExponent,
              static_cast<unsigned long long>(kSeed));
  std::printf("  \"insert\": {\"batch\": %d, \"ours_msgs_per_s\": %.0f, \"baseline_msgs_per_s\": %.0f, \"ratio\": %.3f, "
              "\"ours_batch_p50_ms\": %s, \"ours_batch_p99_ms\": %s, \"baseline_batch_p50_ms\": %s, \"baseline_batch_p99_ms\": %s,\n"
              "    \"ours_cpu_us_per_msg\": %.1f, \"baseline_cpu_us_per_msg\": %.1f, \"ours_cpu_share\": %.2f, \"baseline_cpu_share\": %.2f,\n"
              "    \"phases\": [",
              kBatch, ours_rate, static_cast<double>(stored) / base_insert, insert_ratio,
              Ms(Percentile(ours.batch_seconds, 0.5)).c_str(), Ms(Percentile(ours.batch_seconds, 0.99)).c_str(),
              Ms(Percentile(base.batch_seconds, 0.5)).c_str(), Ms(Percentile(base.batch_seconds, 0.99)).c_str(),
              ours.insert_cpu / static_cast<double>(stored) * 1e6, base.insert_cpu / static_cast<double>(stored) * 1e6,
              ours.insert_cpu / ours_insert, base.insert_cpu / base_insert);
  for (std::size_t p = 0; p < phase_end_batch.size(); ++p) {
    const std::size_t from = p == 0 ? 0 : phase_end_batch[p - 1], to = phase_end_batch[p];
    const double n = static_cast<double>((to - from) * kBatch);
    const double o = Sum(ours.batch_seconds, from, to), b = Sum(base.batch_seconds, from, to);
    std::printf("%s{\"from\": %zu, \"to\": %zu, \"ours_msgs_per_s\": %.0f, \"baseline_msgs_per_s\": %.0f, \"ratio\": %.3f}",
                p == 0 ? "" : ", ", from * kBatch, to * kBatch, n / o, n / b, o / b);
  }
  std::printf("]},\n  \"search\": [");
  for (std::size_t i = 0; i < search_json.size(); ++i) std::printf("%s\n    %s", i == 0 ? "" : ",", search_json[i].c_str());
  std::printf("\n  ],\n");
  std::printf("  \"open\": {\"at_messages\": %lld, \"rounds\": %d, \"ours_ms\": %s, \"baseline_ms\": %s, \"ratio\": %.3f, "
              "\"ours_first_search_ms\": %s, \"baseline_first_search_ms\": %s, \"ours_db_MB\": %.0f, \"baseline_db_MB\": %.0f},\n",
              static_cast<long long>(stored), open_rounds, Ms(Percentile(open_times[0], 0.5)).c_str(),
              Ms(Percentile(open_times[1], 0.5)).c_str(), Percentile(open_times[0], 0.5) / Percentile(open_times[1], 0.5),
              Ms(ours_first).c_str(), Ms(base_first).c_str(), ours_bytes / 1e6, base_bytes / 1e6);
  std::printf("  \"argon2id_moderate_ms\": %s,\n", Ms(kdf).c_str());
  std::printf("  \"goals\": {\"insert_at_least_20000_per_s\": %s, \"search_p99_under_50ms_at_largest\": %s, "
              "\"encryption_overhead_under_1_5x\": %s, \"largest\": %lld},\n",
              ours_rate >= 20000 ? "true" : "false", largest_p99 < 0.050 ? "true" : "false",
              insert_ratio < 1.5 && largest_p99_ratio < 1.5 ? "true" : "false", static_cast<long long>(stored));
  std::printf("  \"seconds_total\": %.1f\n}\n", total);
  return 0;
}

}  // namespace comity::bench
