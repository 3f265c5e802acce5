#include "crypto/stream.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace comity::crypto {
namespace {

// Layout (docs/PROTOCOL.md "Encrypted file stream"):
//   "COMITYS1" | secretstream header (24) | frames...
//   frame = u32 little-endian ciphertext length | ciphertext
// Data frames carry up to kStreamChunkSize plaintext bytes with TAG_MESSAGE; the last frame
// carries u64 LE plaintext length || BLAKE2b-256(plaintext) with TAG_FINAL.
constexpr char kMagic[8] = {'C', 'O', 'M', 'I', 'T', 'Y', 'S', '1'};
constexpr std::size_t kHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kPrefixSize = sizeof kMagic + kHeaderBytes;
constexpr std::size_t kLengthSize = 4;
constexpr std::size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kTrailerSize = 8 + 32;
constexpr std::size_t kMaxFrame = kStreamChunkSize + kABytes;
constexpr std::size_t kFinalFrameSize = kLengthSize + kABytes + kTrailerSize;
// DecryptStream reads this much at a time: large enough that the per-read cost vanishes.
constexpr std::size_t kReadBlock = 256 * 1024;

void PutLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t GetLe32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

// Reads up to n bytes; returns how many were read (less than n only at end of stream).
std::size_t ReadUpTo(std::istream& in, std::uint8_t* buf, std::size_t n) {
  in.read(reinterpret_cast<char*>(buf), static_cast<std::streamsize>(n));
  return static_cast<std::size_t>(in.gcount());
}

// Wipes a secretstream state on every way out of a function.
struct StateWiper {
  crypto_secretstream_xchacha20poly1305_state* state;
  ~StateWiper() { sodium_memzero(state, sizeof *state); }
};

// BLAKE2b-256 of a byte stream, computed on a second thread once the stream passes one block:
// hashing the encrypted stream then overlaps encrypting it (each is a full pass over a file
// that may be gigabytes). Blocks are handed over in order; at most kQueued wait, so memory
// stays at a few MiB. A short stream is hashed on the caller's thread.
class BackgroundHasher {
 public:
  BackgroundHasher() { pending_.reserve(kBlock); }
  ~BackgroundHasher() { Join(); }
  BackgroundHasher(const BackgroundHasher&) = delete;
  BackgroundHasher& operator=(const BackgroundHasher&) = delete;

  void Update(const std::uint8_t* data, std::size_t size) {
    pending_.insert(pending_.end(), data, data + size);
    if (pending_.size() >= kBlock) Hand();
  }
  Bytes Final() {
    if (!worker_.joinable()) {
      hasher_.Update(pending_);
    } else {
      Hand();
      Join();
    }
    pending_.clear();
    return hasher_.Final();
  }

 private:
  static constexpr std::size_t kBlock = std::size_t{1} << 20;
  static constexpr std::size_t kQueued = 3;

  void Hand() {
    if (pending_.empty()) return;
    if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [this] { return queue_.size() < kQueued; });
    queue_.push_back(std::move(pending_));
    lock.unlock();
    ready_.notify_one();
    pending_ = Bytes();
    pending_.reserve(kBlock);
  }
  void Run() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return !queue_.empty() || done_; });
      if (queue_.empty()) return;  // done, and nothing left
      Bytes block = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      room_.notify_one();
      hasher_.Update(block);
    }
  }
  void Join() {
    if (!worker_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    ready_.notify_one();
    worker_.join();
  }

  Blake2bHasher hasher_;  // the worker's alone while it runs
  Bytes pending_;
  std::deque<Bytes> queue_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  bool done_ = false;
  std::thread worker_;
};

// Writes the encrypted stream, hashing and counting every byte on its way out, so the
// stream hash is of exactly what reached `out`.
class HashingWriter {
 public:
  explicit HashingWriter(std::ostream& out) : out_(out) {}

  void Write(const void* data, std::size_t size) {
    hash_.Update(static_cast<const std::uint8_t*>(data), size);
    bytes_ += size;
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  bool WriteFrame(const std::uint8_t* data, std::size_t size) {
    std::uint8_t len[kLengthSize];
    PutLe32(len, static_cast<std::uint32_t>(size));
    Write(len, sizeof len);
    Write(data, size);
    return static_cast<bool>(out_);
  }
  void Summarise(StreamSummary& summary) {
    summary.stream_bytes = bytes_;
    summary.stream_hash = hash_.Final();
  }

 private:
  std::ostream& out_;
  BackgroundHasher hash_;
  std::uint64_t bytes_ = 0;
};

// The one reader of the §7 format: takes the stream in pieces of any size, decrypts each frame
// as soon as its last byte arrives and makes every refusal of the format. DecryptStream hands
// it an ostream for the plaintext; StreamVerifier hands it none. It keeps at most one frame.
class StreamDecryptor {
 public:
  StreamDecryptor(const SecretBytes& key, std::ostream* plaintext_out, bool hash_stream = true)
      : out_(plaintext_out), hash_stream_(hash_stream) {
    EnsureSodium();
    if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
      error_ = MakeError("stream key has the wrong length");
      return;
    }
    key_ = key.Clone();  // needed only until the header arrives
  }
  ~StreamDecryptor() {
    sodium_memzero(&state_, sizeof state_);
    sodium_memzero(plain_.data(), plain_.size());
  }
  StreamDecryptor(const StreamDecryptor&) = delete;
  StreamDecryptor& operator=(const StreamDecryptor&) = delete;

  Status<> Feed(ByteView bytes) {
    if (error_) return *error_;
    if (hash_stream_) stream_hash_.Update(bytes);
    summary_.stream_bytes += bytes.size();
    while (!bytes.empty()) {
      if (stage_ == Stage::kDone) return Fail("encrypted stream has data after its end");
      const std::uint8_t* field = TakeField(bytes);
      if (field == nullptr) {  // the rest of the field comes in a later piece
        if (stage_ == Stage::kPrefix && !MagicSoFar()) return Fail("not a Comity encrypted stream");
        break;
      }
      if (auto done = OnField(field); !done) return done;
    }
    return {};
  }

  Result<StreamSummary> Finish() {
    if (error_) return *error_;
    if (stage_ != Stage::kDone) return Fail("encrypted stream is truncated");
    if (out_ != nullptr && !out_->flush()) return Fail("could not write the decrypted file");
    if (summary_.stream_hash.empty() && hash_stream_) summary_.stream_hash = stream_hash_.Final();
    return summary_;
  }

 private:
  // What the next `need_` bytes are.
  enum class Stage { kPrefix, kLength, kFrame, kDone };

  // The current field, once all of it is in: straight from `bytes` when it lies there whole
  // (the common case for large pieces, no copy), else gathered in field_. Null while it is
  // incomplete. Advances `bytes` past what it used.
  const std::uint8_t* TakeField(ByteView& bytes) {
    if (have_ == 0 && bytes.size() >= need_) {
      const std::uint8_t* field = bytes.data();
      bytes = bytes.subspan(need_);
      return field;
    }
    const std::size_t take = std::min(need_ - have_, bytes.size());
    std::memcpy(field_.data() + have_, bytes.data(), take);
    have_ += take;
    bytes = bytes.subspan(take);
    if (have_ < need_) return nullptr;
    have_ = 0;
    return field_.data();
  }

  // Whether the part of the prefix gathered so far starts as the magic does: a wrong magic is
  // refused at its first wrong byte, not once all 32 bytes are in.
  bool MagicSoFar() const {
    return std::memcmp(field_.data(), kMagic, std::min(have_, sizeof kMagic)) == 0;
  }

  Status<> OnField(const std::uint8_t* field) {
    switch (stage_) {
      case Stage::kPrefix: return OnPrefix(field);
      case Stage::kLength: return OnLength(field);
      case Stage::kFrame: return OnFrame(field);
      case Stage::kDone: break;
    }
    return Fail("encrypted stream has data after its end");
  }

  Status<> OnPrefix(const std::uint8_t* prefix) {
    if (std::memcmp(prefix, kMagic, sizeof kMagic) != 0) return Fail("not a Comity encrypted stream");
    if (crypto_secretstream_xchacha20poly1305_init_pull(&state_, prefix + sizeof kMagic, key_.data()) != 0) {
      return Fail("encrypted stream header is damaged");
    }
    key_ = SecretBytes();  // wiped: the state holds what the frames need
    Expect(Stage::kLength, kLengthSize);
    return {};
  }

  Status<> OnLength(const std::uint8_t* length) {
    const std::uint32_t len = GetLe32(length);
    if (len < kABytes || len > kMaxFrame) return Fail("encrypted stream is damaged");
    Expect(Stage::kFrame, len);
    return {};
  }

  Status<> OnFrame(const std::uint8_t* frame) {
    unsigned long long plen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&state_, plain_.data(), &plen, &tag, frame, need_, nullptr,
                                                   0) != 0) {
      return Fail("encrypted stream is damaged, reordered or under another key");
    }
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) return OnTrailer(static_cast<std::size_t>(plen));
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) return Fail("encrypted stream is damaged");
    content_hash_.Update(ByteView(plain_.data(), static_cast<std::size_t>(plen)));
    summary_.plaintext_bytes += plen;
    if (out_ != nullptr) {
      out_->write(reinterpret_cast<const char*>(plain_.data()), static_cast<std::streamsize>(plen));
      if (!*out_) return Fail("could not write the decrypted file");
    }
    Expect(Stage::kLength, kLengthSize);
    return {};
  }

  // The final frame's plaintext: the length and hash the sender recorded.
  Status<> OnTrailer(std::size_t plen) {
    if (plen != kTrailerSize) return Fail("encrypted stream is damaged");
    std::uint64_t total = 0;
    for (int i = 0; i < 8; ++i) total |= std::uint64_t{plain_[i]} << (8 * i);
    summary_.content_hash = content_hash_.Final();
    if (total != summary_.plaintext_bytes ||
        !ConstantTimeEqual(summary_.content_hash, ByteView(plain_.data() + 8, 32))) {
      return Fail("encrypted stream content does not match its recorded hash");
    }
    Expect(Stage::kDone, 0);
    return {};
  }

  void Expect(Stage stage, std::size_t need) {
    stage_ = stage;
    need_ = need;
  }

  // Records the first failure, which every later call then returns.
  Error Fail(std::string message) {
    error_ = MakeError(std::move(message));
    sodium_memzero(&state_, sizeof state_);
    key_ = SecretBytes();
    return *error_;
  }

  std::ostream* out_;
  std::optional<Error> error_;
  SecretBytes key_;
  crypto_secretstream_xchacha20poly1305_state state_{};
  Stage stage_ = Stage::kPrefix;
  std::size_t need_ = kPrefixSize;
  std::size_t have_ = 0;                // bytes of the current field already in field_
  std::vector<std::uint8_t> field_ = std::vector<std::uint8_t>(kMaxFrame);
  std::vector<std::uint8_t> plain_ = std::vector<std::uint8_t>(kStreamChunkSize);
  Blake2bHasher content_hash_;
  Blake2bHasher stream_hash_;
  bool hash_stream_ = true;
  StreamSummary summary_;
};

crypto_generichash_state* GenerichashState(std::uint8_t* storage) {
  return std::launder(reinterpret_cast<crypto_generichash_state*>(storage));
}

}  // namespace

Blake2bHasher::Blake2bHasher() {
  static_assert(sizeof(crypto_generichash_state) <= sizeof state_, "crypto_generichash_state outgrew its storage");
  static_assert(alignof(crypto_generichash_state) <= alignof(Blake2bHasher),
                "crypto_generichash_state needs a stricter alignment than its storage has");
  EnsureSodium();
  new (state_) crypto_generichash_state;
  RequireSodium(crypto_generichash_init(GenerichashState(state_), nullptr, 0, 32), "crypto_generichash_init");
}

void Blake2bHasher::Update(ByteView data) {
  RequireSodium(crypto_generichash_update(GenerichashState(state_), data.data(), data.size()),
                "crypto_generichash_update");
}

Bytes Blake2bHasher::Final() {
  Bytes out(32);
  RequireSodium(crypto_generichash_final(GenerichashState(state_), out.data(), out.size()),
                "crypto_generichash_final");
  RequireSodium(crypto_generichash_init(GenerichashState(state_), nullptr, 0, 32), "crypto_generichash_init");
  return out;
}

std::uint64_t StreamSizeFor(std::uint64_t plaintext_bytes) {
  const std::uint64_t data_frames = plaintext_bytes / kStreamChunkSize + (plaintext_bytes % kStreamChunkSize != 0);
  return kPrefixSize + (kLengthSize + kABytes) * data_frames + plaintext_bytes + kFinalFrameSize;
}

Result<StreamSummary> EncryptStream(const SecretBytes& key, std::istream& in, std::ostream& out) {
  EnsureSodium();
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return MakeError("stream key has the wrong length");
  }
  crypto_secretstream_xchacha20poly1305_state state;
  StateWiper wipe{&state};
  std::array<std::uint8_t, kHeaderBytes> header{};
  RequireSodium(crypto_secretstream_xchacha20poly1305_init_push(&state, header.data(), key.data()),
                "crypto_secretstream_xchacha20poly1305_init_push");
  HashingWriter writer(out);
  writer.Write(kMagic, sizeof kMagic);
  writer.Write(header.data(), header.size());

  // Hashed beside the encryption, as the stream is (HashingWriter): each is a full pass.
  BackgroundHasher content_hash;
  std::vector<std::uint8_t> plain(kStreamChunkSize);
  std::vector<std::uint8_t> cipher(kMaxFrame);
  StreamSummary summary;
  for (;;) {
    std::size_t n = ReadUpTo(in, plain.data(), plain.size());
    if (n == 0) break;
    content_hash.Update(plain.data(), n);
    summary.plaintext_bytes += n;
    unsigned long long clen = 0;
    RequireSodium(crypto_secretstream_xchacha20poly1305_push(&state, cipher.data(), &clen, plain.data(), n,
                                                             nullptr, 0,
                                                             crypto_secretstream_xchacha20poly1305_TAG_MESSAGE),
                  "crypto_secretstream_xchacha20poly1305_push");
    if (!writer.WriteFrame(cipher.data(), static_cast<std::size_t>(clen))) {
      return MakeError("could not write the encrypted stream");
    }
    if (n < plain.size()) break;
  }
  if (in.bad()) return MakeError("could not read the file to encrypt");
  summary.content_hash = content_hash.Final();

  std::uint8_t trailer[kTrailerSize];
  for (int i = 0; i < 8; ++i) trailer[i] = static_cast<std::uint8_t>(summary.plaintext_bytes >> (8 * i));
  std::memcpy(trailer + 8, summary.content_hash.data(), 32);
  unsigned long long clen = 0;
  RequireSodium(crypto_secretstream_xchacha20poly1305_push(&state, cipher.data(), &clen, trailer, kTrailerSize,
                                                           nullptr, 0, crypto_secretstream_xchacha20poly1305_TAG_FINAL),
                "crypto_secretstream_xchacha20poly1305_push");
  if (!writer.WriteFrame(cipher.data(), static_cast<std::size_t>(clen)) || !out.flush()) {
    return MakeError("could not write the encrypted stream");
  }
  writer.Summarise(summary);
  return summary;
}

Result<StreamSummary> DecryptStream(const SecretBytes& key, std::istream& in, std::ostream& out) {
  StreamDecryptor decryptor(key, &out);
  std::vector<std::uint8_t> block(kReadBlock);
  for (;;) {
    const std::size_t n = ReadUpTo(in, block.data(), block.size());
    if (n == 0) break;
    if (auto fed = decryptor.Feed(ByteView(block.data(), n)); !fed) return fed.error();
    if (n < block.size()) break;
  }
  if (in.bad()) return MakeError("could not read the encrypted stream");
  return decryptor.Finish();
}

struct StreamVerifier::State {
  State(const SecretBytes& key, bool hash_stream) : decryptor(key, nullptr, hash_stream) {}
  StreamDecryptor decryptor;
};

StreamVerifier::StreamVerifier(const SecretBytes& key, bool hash_stream)
    : s_(std::make_unique<State>(key, hash_stream)) {}
StreamVerifier::~StreamVerifier() = default;  // the decryptor wipes its state

Status<> StreamVerifier::Feed(ByteView bytes) { return s_->decryptor.Feed(bytes); }
Result<StreamSummary> StreamVerifier::Finish() { return s_->decryptor.Finish(); }

}  // namespace comity::crypto
