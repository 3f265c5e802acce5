#include "node/daemon/transfer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <ctime>

namespace comity::node {
namespace {

constexpr auto kWatchEvery = std::chrono::seconds(2);
// No piece for this long: ask again from what is written (the source may have restarted, or
// its link changed).
constexpr auto kStall = std::chrono::seconds(10);
// Asked again this many times without a piece: given up until the envelope comes again.
constexpr int kMaxStalls = 6;
// Partial files nobody has resumed for this long are removed by Sweep.
constexpr std::int64_t kPartialLifetime = 7 * 24 * 3600;
constexpr std::size_t kReadBlock = 1 << 20;

bool WriteAll(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string Be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (56 - 8 * i));
  return s;
}

std::string Be32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
  return s;
}

std::optional<std::uint64_t> FromBe(const std::string& s, std::size_t width) {
  if (s.size() != width) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

std::optional<std::string> ReadPiece(const std::string& path, std::uint64_t offset, std::uint32_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st{};
  if (::fstat(fd, &st) != 0 || length == 0 || offset + length > static_cast<std::uint64_t>(st.st_size)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out(length, '\0');
  std::size_t got = 0;
  while (got < length) {
    const ssize_t r = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (got != length) return std::nullopt;
  return out;
}

// Checks the bytes of one transfer on a thread of its own, so that decrypting and hashing them
// (a full pass over the file) overlaps receiving and writing them: a recipient's
// StreamVerifier (content hash), or a relay's BLAKE2b of the stream. Pieces are handed over in
// order; at most kQueued wait, so memory stays at a few MiB.
class StreamCheck {
 public:
  struct Outcome {
    bool ok = false;
    std::uint64_t plaintext_bytes = 0;
    crypto::Bytes content_hash;  // a recipient's
    crypto::Bytes stream_hash;   // a relay's
  };

  explicit StreamCheck(std::shared_ptr<const crypto::SecretBytes> key) : key_(std::move(key)) {
    if (key_) {
      verifier_ = std::make_unique<crypto::StreamVerifier>(*key_, /*hash_stream=*/false);
    } else {
      hasher_ = std::make_unique<crypto::Blake2bHasher>();
    }
    worker_ = std::thread([this] { Run(); });
  }
  ~StreamCheck() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    ready_.notify_one();
    worker_.join();
  }
  StreamCheck(const StreamCheck&) = delete;
  StreamCheck& operator=(const StreamCheck&) = delete;

  // False once bytes handed over earlier failed the check.
  bool Feed(std::string bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [this] { return queue_.size() < kQueued || failed_; });
    if (failed_) return false;
    queue_.push_back(std::move(bytes));
    lock.unlock();
    ready_.notify_one();
    return true;
  }
  bool Failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }
  // Waits until every piece handed over is checked; false if one failed.
  bool Settle() {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [this] { return (queue_.empty() && !busy_) || failed_; });
    return !failed_;
  }
  Outcome Finish() {
    Outcome out;
    if (!Settle()) return out;
    if (hasher_) {
      out.stream_hash = hasher_->Final();
      out.ok = true;
      return out;
    }
    auto summary = verifier_->Finish();
    if (!summary) return out;
    out.ok = true;
    out.plaintext_bytes = summary->plaintext_bytes;
    out.content_hash = summary->content_hash;
    return out;
  }

 private:
  static constexpr std::size_t kQueued = 8;

  void Run() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return !queue_.empty() || done_; });
      if (queue_.empty()) return;
      std::string bytes = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      const crypto::ByteView view(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      bool ok = true;
      if (hasher_) {
        hasher_->Update(view);
      } else {
        ok = static_cast<bool>(verifier_->Feed(view));
      }
      lock.lock();
      busy_ = false;
      if (!ok) {
        failed_ = true;
        queue_.clear();
      }
      lock.unlock();
      room_.notify_all();
    }
  }

  std::shared_ptr<const crypto::SecretBytes> key_;
  std::unique_ptr<crypto::StreamVerifier> verifier_;  // the worker's alone while it runs
  std::unique_ptr<crypto::Blake2bHasher> hasher_;
  std::deque<std::string> queue_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  bool busy_ = false, failed_ = false, done_ = false;
  std::thread worker_;
};

struct FileFetcher::Transfer {
  WantedFile file;
  FileSource source;
  std::string part, ready;
  int fd = -1;
  std::uint64_t written = 0, asked = 0;
  std::unique_ptr<StreamCheck> check;
  bool resumed = false;        // holds bytes written before this process started it
  bool started_over = false;   // already threw its partial file away once
  int stalls = 0;
  std::chrono::steady_clock::time_point progress{};
  // Pacing: bytes that may be asked for now, refilled at the configured rate.
  double allowance = 0;
  std::chrono::steady_clock::time_point refilled{};
  std::map<std::string, DoneFn> waiters;  // by waiter (a message id and role)

  bool relay() const { return file.key == nullptr; }
  void ResetCheck() {
    check.reset();  // joins the old one's thread first
    check = std::make_unique<StreamCheck>(file.key);
  }
};

FileFetcher::FileFetcher(boost::asio::io_context& io, Logger& log, std::string dir, SendFn send,
                         std::uint64_t bytes_per_second)
    : io_(io), log_(log), dir_(std::move(dir)), send_(std::move(send)), watch_(io),
      bytes_per_second_(bytes_per_second), pace_(io) {}

FileFetcher::~FileFetcher() {
  for (auto& [key, t] : transfers_) {
    if (t->fd >= 0) ::close(t->fd);
  }
}

std::string FileFetcher::FileName(const crypto::Bytes& message_id, const crypto::Bytes& stream_hash, bool relay) {
  return crypto::ToHex(message_id) + "-" + crypto::ToHex(stream_hash) + (relay ? ".relay" : ".in");
}

std::string FileFetcher::Key(const WantedFile& f) const { return FileName(f.message_id, f.stream_hash, f.key == nullptr); }

std::optional<std::string> FileFetcher::ReadyPath(const WantedFile& f) const {
  const std::string path = dir_ + "/" + Key(f);
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == f.stream_size) return path;
  return std::nullopt;
}

void FileFetcher::Fetch(const WantedFile& f, const FileSource& source, const std::string& waiter, DoneFn done) {
  const std::string key = Key(f);
  auto it = transfers_.find(key);
  if (it != transfers_.end()) {
    Transfer& t = *it->second;
    t.waiters[waiter] = std::move(done);
    if (t.source.peer != source.peer || t.source.routing_id != source.routing_id) {
      // The envelope came again, maybe by another way: ask there from now on.
      t.source = source;
      t.asked = t.written;
      Ask(t);
    }
    return;
  }
  std::size_t from_source = 0;
  for (const auto& [k, other] : transfers_) from_source += other->source.peer == source.peer;
  if (transfers_.size() >= kMaxTransfers || from_source >= kMaxTransfersPerPeer) {
    // Each transfer holds a file and a checking thread: beyond this many at once the envelope
    // waits, unacknowledged, for its sender's next try.
    std::int64_t held = 0;
    if (log_.Allow("transfers", std::chrono::seconds(10), &held)) {
      log_.Warn("attachment transfers under way: " + std::to_string(transfers_.size()) + " (" +
                std::to_string(from_source) + " from " + source.peer + "); another waits for its sender's retry");
    }
    return;
  }
  auto t = std::make_unique<Transfer>();
  t->file = f;
  t->source = source;
  t->part = dir_ + "/" + key + ".part";
  t->ready = dir_ + "/" + key;
  t->waiters[waiter] = std::move(done);
  Transfer& ref = *t;
  transfers_[key] = std::move(t);
  if (!Start(ref)) return;
  if (ref.written == ref.file.stream_size) {
    Finish(key);
    return;
  }
  Ask(ref);
  Watch();
}

// Opens the partial file and checks what it holds already (a transfer that a crash cut
// short resumes from there).
bool FileFetcher::Start(Transfer& t) {
  const std::string key = Key(t.file);
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    End(key, false, "cannot create " + dir_ + ": " + std::strerror(errno));
    return false;
  }
  t.fd = ::open(t.part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (t.fd < 0) {
    End(key, false, "cannot open " + t.part + ": " + std::strerror(errno));
    return false;
  }
  t.ResetCheck();
  std::string buf(kReadBlock, '\0');
  std::uint64_t good = 0;
  for (;;) {
    const ssize_t r = ::read(t.fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    const std::size_t n = std::min<std::uint64_t>(static_cast<std::uint64_t>(r), t.file.stream_size - good);
    if (n == 0 || !t.check->Feed(buf.substr(0, n))) {
      good = t.file.stream_size + 1;  // longer than the file, or not checking: see below
      break;
    }
    good += n;
  }
  if (good > t.file.stream_size || !t.check->Settle()) {
    // Bytes that do not check (a crash of the machine before they reached the disk): start over.
    good = 0;
    t.ResetCheck();
  }
  if (::ftruncate(t.fd, static_cast<off_t>(good)) != 0 || ::lseek(t.fd, static_cast<off_t>(good), SEEK_SET) < 0) {
    End(key, false, "cannot prepare " + t.part + ": " + std::strerror(errno));
    return false;
  }
  t.written = t.asked = good;
  t.resumed = good > 0;
  if (t.resumed) {
    ++resumed_;
    log_.Info("resuming " + key.substr(0, 16) + "... at " + std::to_string(good) + " of " +
              std::to_string(t.file.stream_size) + " bytes");
  }
  t.progress = std::chrono::steady_clock::now();
  return true;
}

void FileFetcher::Ask(Transfer& t) {
  const std::string id(t.file.message_id.begin(), t.file.message_id.end());
  const std::string stream(t.file.stream_hash.begin(), t.file.stream_hash.end());
  if (bytes_per_second_ != 0) {
    const auto now = std::chrono::steady_clock::now();
    if (t.refilled == std::chrono::steady_clock::time_point{}) t.refilled = now;
    const double rate = static_cast<double>(bytes_per_second_);
    // A second's worth may wait, and at least one whole piece (a slow pace must not starve it).
    const double cap = std::max(rate, static_cast<double>(kPieceBytes));
    t.allowance = std::min(cap, t.allowance + rate * std::chrono::duration<double>(now - t.refilled).count());
    t.refilled = now;
  }
  // The requests are decided first and sent last: sending may read what waits on that socket,
  // and a piece or a NOFILE read then may end this transfer (`t` is not touched after).
  std::vector<std::vector<std::string>> pulls;
  while (t.asked < t.file.stream_size && t.asked - t.written < std::uint64_t{kPiecesAhead} * kPieceBytes) {
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(kPieceBytes, t.file.stream_size - t.asked));
    if (bytes_per_second_ != 0) {
      if (t.allowance < len) {
        Pace();
        break;
      }
      t.allowance -= len;
    }
    pulls.push_back({"COMITY1", std::string(kPull), id, stream, Be64(t.asked), Be32(len)});
    t.asked += len;
  }
  const FileSource source = t.source;
  for (const auto& frames : pulls) send_(source, frames);
}

std::vector<std::string> FileFetcher::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, t] : transfers_) keys.push_back(key);
  return keys;
}

// Asks again, a little later, for transfers held back by the pace.
void FileFetcher::Pace() {
  if (pacing_) return;
  pacing_ = true;
  pace_.expires_after(std::chrono::milliseconds(50));
  pace_.async_wait([this](const boost::system::error_code& ec) {
    pacing_ = false;
    if (ec) return;
    for (const std::string& key : Keys()) {
      if (auto it = transfers_.find(key); it != transfers_.end()) Ask(*it->second);
    }
  });
}

void FileFetcher::OnPiece(const std::string& peer, const std::string& message_id, const std::string& stream_hash,
                          const std::string& offset_frame, const std::string& data) {
  const auto offset = FromBe(offset_frame, 8);
  if (!offset || message_id.size() != 32 || stream_hash.size() != 32) return;
  const crypto::Bytes id(message_id.begin(), message_id.end()), stream(stream_hash.begin(), stream_hash.end());
  for (bool relay : {false, true}) {
    auto it = transfers_.find(FileName(id, stream, relay));
    if (it == transfers_.end()) continue;
    Transfer& t = *it->second;
    // Only the bytes that come next, from the peer asked: anything else is a leftover of an
    // earlier request.
    if (peer != t.source.peer || *offset != t.written || data.empty() ||
        t.written + data.size() > t.file.stream_size) {
      continue;
    }
    const std::string key = it->first;
    if (!t.check->Feed(data)) {
      End(key, false, "damaged: the attachment stream does not decrypt");
      continue;
    }
    if (!WriteAll(t.fd, data.data(), data.size())) {
      End(key, false, "cannot write " + t.part + ": " + std::strerror(errno));
      continue;
    }
    t.written += data.size();
    bytes_in_ += static_cast<std::int64_t>(data.size());
    t.progress = std::chrono::steady_clock::now();
    t.stalls = 0;
    if (t.written == t.file.stream_size) {
      Finish(key);
    } else {
      Ask(t);
    }
  }
}

void FileFetcher::OnNoFile(const std::string& peer, const std::string& message_id, const std::string& stream_hash) {
  const crypto::Bytes id(message_id.begin(), message_id.end()), stream(stream_hash.begin(), stream_hash.end());
  for (bool relay : {false, true}) {
    auto it = transfers_.find(FileName(id, stream, relay));
    if (it != transfers_.end() && it->second->source.peer == peer) {
      End(it->first, false, "missing: " + peer + " does not hold the attachment");
    }
  }
}

// Every byte is here: the last check, then the file is ready under its final name.
void FileFetcher::Finish(const std::string& key) {
  Transfer& t = *transfers_.at(key);
  const StreamCheck::Outcome outcome = t.check->Finish();
  const bool ok = outcome.ok && (t.relay() ? crypto::ConstantTimeEqual(outcome.stream_hash, t.file.stream_hash)
                                           : outcome.plaintext_bytes == t.file.size &&
                                                 crypto::ConstantTimeEqual(outcome.content_hash, t.file.content_hash));
  if (!ok) {
    if (t.resumed && !t.started_over) {
      // Bytes from before a crash may not be what was sent: fetch it all once more.
      log_.Warn("attachment " + key.substr(0, 16) + "... does not match after a resumed transfer: starting over");
      t.started_over = true;
      t.resumed = false;
      if (::ftruncate(t.fd, 0) == 0 && ::lseek(t.fd, 0, SEEK_SET) == 0) {
        t.ResetCheck();
        t.written = t.asked = 0;
        Ask(t);
        return;
      }
    }
    End(key, false, std::string("damaged: the attachment does not match its ") +
                        (t.relay() ? "stream hash" : "content hash"));
    return;
  }
  if (::fdatasync(t.fd) != 0 || ::rename(t.part.c_str(), t.ready.c_str()) != 0) {
    End(key, false, "cannot store " + t.ready + ": " + std::strerror(errno));
    return;
  }
  SyncDir(dir_);
  ++files_in_;
  End(key, true, "");
}

void FileFetcher::End(const std::string& key, bool ok, const std::string& why) {
  auto it = transfers_.find(key);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  if (t->fd >= 0) ::close(t->fd);
  // A damaged stream is not kept to resume from; a missing or stalled one is.
  if (!ok && why.rfind("damaged", 0) == 0) ::unlink(t->part.c_str());
  if (!ok) log_.Info("attachment " + key.substr(0, 16) + "... from " + t->source.peer + ": " + why);
  for (auto& [waiter, done] : t->waiters) {
    boost::asio::post(io_, [done = std::move(done), ok, why] { done(ok, why); });
  }
}

void FileFetcher::Watch() {
  if (watching_ || transfers_.empty()) return;
  watching_ = true;
  watch_.expires_after(kWatchEvery);
  watch_.async_wait([this](const boost::system::error_code& ec) {
    watching_ = false;
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::string> stalled;
    for (const std::string& key : Keys()) {  // an Ask may end a transfer
      auto it = transfers_.find(key);
      if (it == transfers_.end()) continue;
      Transfer& t = *it->second;
      if (now - t.progress < kStall) continue;
      if (++t.stalls > kMaxStalls) {
        stalled.push_back(key);
        continue;
      }
      t.progress = now;
      t.asked = t.written;
      Ask(t);
    }
    for (const std::string& key : stalled) End(key, false, "stalled: no piece for a minute");
    Watch();
  });
}

void FileFetcher::Sweep(const std::function<bool(const crypto::Bytes&)>& still_held, std::int64_t grace_s) {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return;
  std::vector<std::string> remove;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 129 || name[64] != '-') continue;
    const std::string path = dir_ + "/" + name;
    const std::string key = EndsWith(name, ".part") ? name.substr(0, name.size() - 5) : name;
    if (transfers_.count(key) != 0) continue;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (EndsWith(name, ".relay")) {
      // A copy only just complete may not be queued yet (its outbox entry commits with the
      // next batch): only older ones go.
      auto id = crypto::FromHex(name.substr(0, 64));
      if (id && now - st.st_mtime > grace_s && !still_held(*id)) remove.push_back(path);
      continue;
    }
    if (now - st.st_mtime > kPartialLifetime) remove.push_back(path);
  }
  ::closedir(d);
  for (const std::string& path : remove) ::unlink(path.c_str());
}

void FileFetcher::Stop() {
  watch_.cancel();
  pace_.cancel();
}

}  // namespace comity::node
