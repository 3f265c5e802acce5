#include "crypto/stream.h"

#include <sodium.h>

#include <array>
#include <cstring>
#include <vector>

namespace comity::crypto {
namespace {

// Layout (docs/PROTOCOL.md "Encrypted file stream"):
//   "COMITYS1" | secretstream header (24) | frames...
//   frame = u32 little-endian ciphertext length | ciphertext
// Data frames carry up to kStreamChunkSize plaintext bytes with TAG_MESSAGE; the last frame
// carries u64 LE plaintext length || BLAKE2b-256(plaintext) with TAG_FINAL.
constexpr char kMagic[8] = {'C', 'O', 'M', 'I', 'T', 'Y', 'S', '1'};
constexpr std::size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kTrailerSize = 8 + 32;
constexpr std::size_t kMaxFrame = kStreamChunkSize + kABytes;

void PutLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t GetLe32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

bool WriteFrame(std::ostream& out, const std::uint8_t* data, std::size_t size) {
  std::uint8_t len[4];
  PutLe32(len, static_cast<std::uint32_t>(size));
  out.write(reinterpret_cast<const char*>(len), 4);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return static_cast<bool>(out);
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

}  // namespace

Result<StreamSummary> EncryptStream(const SecretBytes& key, std::istream& in, std::ostream& out) {
  EnsureSodium();
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return MakeError("stream key has the wrong length");
  }
  crypto_secretstream_xchacha20poly1305_state state;
  StateWiper wipe{&state};
  std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  RequireSodium(crypto_secretstream_xchacha20poly1305_init_push(&state, header.data(), key.data()),
                "crypto_secretstream_xchacha20poly1305_init_push");
  out.write(kMagic, sizeof kMagic);
  out.write(reinterpret_cast<const char*>(header.data()), header.size());

  crypto_generichash_state hash;
  RequireSodium(crypto_generichash_init(&hash, nullptr, 0, 32), "crypto_generichash_init");
  std::vector<std::uint8_t> plain(kStreamChunkSize);
  std::vector<std::uint8_t> cipher(kMaxFrame);
  StreamSummary summary;
  for (;;) {
    std::size_t n = ReadUpTo(in, plain.data(), plain.size());
    if (n == 0) break;
    RequireSodium(crypto_generichash_update(&hash, plain.data(), n), "crypto_generichash_update");
    summary.plaintext_bytes += n;
    unsigned long long clen = 0;
    RequireSodium(crypto_secretstream_xchacha20poly1305_push(&state, cipher.data(), &clen, plain.data(), n,
                                                             nullptr, 0,
                                                             crypto_secretstream_xchacha20poly1305_TAG_MESSAGE),
                  "crypto_secretstream_xchacha20poly1305_push");
    if (!WriteFrame(out, cipher.data(), static_cast<std::size_t>(clen))) {
      return MakeError("could not write the encrypted stream");
    }
    if (n < plain.size()) break;
  }
  if (in.bad()) return MakeError("could not read the file to encrypt");
  summary.content_hash.resize(32);
  RequireSodium(crypto_generichash_final(&hash, summary.content_hash.data(), 32), "crypto_generichash_final");

  std::uint8_t trailer[kTrailerSize];
  for (int i = 0; i < 8; ++i) trailer[i] = static_cast<std::uint8_t>(summary.plaintext_bytes >> (8 * i));
  std::memcpy(trailer + 8, summary.content_hash.data(), 32);
  unsigned long long clen = 0;
  RequireSodium(crypto_secretstream_xchacha20poly1305_push(&state, cipher.data(), &clen, trailer, kTrailerSize,
                                                           nullptr, 0, crypto_secretstream_xchacha20poly1305_TAG_FINAL),
                "crypto_secretstream_xchacha20poly1305_push");
  if (!WriteFrame(out, cipher.data(), static_cast<std::size_t>(clen)) || !out.flush()) {
    return MakeError("could not write the encrypted stream");
  }
  return summary;
}

Result<StreamSummary> DecryptStream(const SecretBytes& key, std::istream& in, std::ostream& out) {
  EnsureSodium();
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return MakeError("stream key has the wrong length");
  }
  char magic[sizeof kMagic];
  std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  if (ReadUpTo(in, reinterpret_cast<std::uint8_t*>(magic), sizeof magic) != sizeof magic ||
      std::memcmp(magic, kMagic, sizeof magic) != 0 ||
      ReadUpTo(in, header.data(), header.size()) != header.size()) {
    return MakeError("not a Comity encrypted stream");
  }
  crypto_secretstream_xchacha20poly1305_state state;
  StateWiper wipe{&state};
  if (crypto_secretstream_xchacha20poly1305_init_pull(&state, header.data(), key.data()) != 0) {
    return MakeError("encrypted stream header is damaged");
  }
  crypto_generichash_state hash;
  RequireSodium(crypto_generichash_init(&hash, nullptr, 0, 32), "crypto_generichash_init");
  std::vector<std::uint8_t> cipher(kMaxFrame);
  std::vector<std::uint8_t> plain(kStreamChunkSize);
  StreamSummary summary;
  for (;;) {
    std::uint8_t len_bytes[4];
    std::size_t got = ReadUpTo(in, len_bytes, 4);
    if (got == 0) return MakeError("encrypted stream is truncated");
    if (got != 4) return MakeError("encrypted stream is damaged");
    std::uint32_t len = GetLe32(len_bytes);
    if (len < kABytes || len > kMaxFrame) return MakeError("encrypted stream is damaged");
    if (ReadUpTo(in, cipher.data(), len) != len) return MakeError("encrypted stream is truncated");
    unsigned long long plen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&state, plain.data(), &plen, &tag, cipher.data(),
                                                   len, nullptr, 0) != 0) {
      return MakeError("encrypted stream is damaged, reordered or under another key");
    }
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      if (plen != kTrailerSize) return MakeError("encrypted stream is damaged");
      std::uint64_t total = 0;
      for (int i = 0; i < 8; ++i) total |= std::uint64_t{plain[i]} << (8 * i);
      summary.content_hash.resize(32);
      RequireSodium(crypto_generichash_final(&hash, summary.content_hash.data(), 32), "crypto_generichash_final");
      if (total != summary.plaintext_bytes ||
          !ConstantTimeEqual(summary.content_hash, ByteView(plain.data() + 8, 32))) {
        return MakeError("encrypted stream content does not match its recorded hash");
      }
      std::uint8_t extra;
      if (ReadUpTo(in, &extra, 1) != 0) return MakeError("encrypted stream has data after its end");
      break;
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      return MakeError("encrypted stream is damaged");
    }
    RequireSodium(crypto_generichash_update(&hash, plain.data(), static_cast<std::size_t>(plen)),
                  "crypto_generichash_update");
    summary.plaintext_bytes += plen;
    out.write(reinterpret_cast<const char*>(plain.data()), static_cast<std::streamsize>(plen));
    if (!out) return MakeError("could not write the decrypted file");
  }
  if (!out.flush()) return MakeError("could not write the decrypted file");
  return summary;
}

}  // namespace comity::crypto
