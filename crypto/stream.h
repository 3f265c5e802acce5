// Streaming file encryption: crypto_secretstream_xchacha20poly1305 in fixed 64 KiB chunks,
// with a BLAKE2b-256 hash of the plaintext, so memory stays bounded whatever the file size.
// Truncation (missing final tag), reordering, dropping or altering a chunk are all refused.
// Reads and writes go through std::istream / std::ostream supplied by the caller; this file
// does no file-system access itself. Thread-safe for distinct streams.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::crypto {

inline constexpr std::size_t kStreamChunkSize = 64 * 1024;

struct StreamSummary {
  std::uint64_t plaintext_bytes = 0;
  Bytes content_hash;  // BLAKE2b-256 of the plaintext
  std::uint64_t stream_bytes = 0;
  Bytes stream_hash;   // BLAKE2b-256 of the encrypted stream, every byte of it (what links carry)
};

// The length of the encrypted stream of a `plaintext_bytes`-byte file (docs/PROTOCOL.md §7).
std::uint64_t StreamSizeFor(std::uint64_t plaintext_bytes);

// Encrypts everything readable from `in` to `out` under the 32-byte `key`.
Result<StreamSummary> EncryptStream(const SecretBytes& key, std::istream& in, std::ostream& out);

// Decrypts a stream made by EncryptStream; refuses a damaged, truncated or reordered one.
// On failure some plaintext may already have been written: callers write to a temporary
// place and keep it only on success.
Result<StreamSummary> DecryptStream(const SecretBytes& key, std::istream& in, std::ostream& out);

// Incremental BLAKE2b-256 (the stream hash of a file that arrives in pieces).
class Blake2bHasher {
 public:
  Blake2bHasher();
  void Update(ByteView data);
  Bytes Final();  // 32 bytes; the hasher is then reset to empty

 private:
  alignas(64) std::uint8_t state_[384];  // crypto_generichash_state (static_assert in stream.cpp)
};

// Checks an encrypted stream whose bytes arrive in pieces of any size (a file received over a
// link), without writing the plaintext anywhere: the same refusals as DecryptStream, each
// reported at the first byte that shows it. Memory stays at one frame. After a failure every
// later call fails too.
class StreamVerifier {
 public:
  // A key of the wrong length fails at Feed. Without `hash_stream` the summary has no
  // stream_hash (a recipient checks the content hash; the stream hash costs a BLAKE2b pass).
  explicit StreamVerifier(const SecretBytes& key, bool hash_stream = true);
  ~StreamVerifier();
  StreamVerifier(const StreamVerifier&) = delete;
  StreamVerifier& operator=(const StreamVerifier&) = delete;

  Status<> Feed(ByteView bytes);
  // After the last byte: fails unless the final frame was seen with nothing after it.
  Result<StreamSummary> Finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace comity::crypto
