// Streaming file encryption: crypto_secretstream_xchacha20poly1305 in fixed 64 KiB chunks,
// with a BLAKE2b-256 hash of the plaintext, so memory stays bounded whatever the file size.
// Truncation (missing final tag), reordering, dropping or altering a chunk are all refused.
// Reads and writes go through std::istream / std::ostream supplied by the caller; this file
// does no file-system access itself. Thread-safe for distinct streams.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::crypto {

inline constexpr std::size_t kStreamChunkSize = 64 * 1024;

struct StreamSummary {
  std::uint64_t plaintext_bytes = 0;
  Bytes content_hash;  // BLAKE2b-256 of the plaintext
};

// Encrypts everything readable from `in` to `out` under the 32-byte `key`.
Result<StreamSummary> EncryptStream(const SecretBytes& key, std::istream& in, std::ostream& out);

// Decrypts a stream made by EncryptStream; refuses a damaged, truncated or reordered one.
// On failure some plaintext may already have been written: callers write to a temporary
// place and keep it only on success.
Result<StreamSummary> DecryptStream(const SecretBytes& key, std::istream& in, std::ostream& out);

}  // namespace comity::crypto
