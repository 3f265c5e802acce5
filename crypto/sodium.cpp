#include "crypto/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

namespace comity::crypto {

void EnsureSodium() {
  // sodium_init is itself thread-safe and idempotent; the static makes later calls free.
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) {
    std::fputs("comity: libsodium could not be initialised\n", stderr);
    std::abort();
  }
}

void RequireSodium(int result, const char* what) {
  if (result != 0) {
    std::fprintf(stderr, "comity: libsodium %s failed; this is a bug, not bad input\n", what);
    std::abort();
  }
}

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  EnsureSodium();
  if (size == 0) return;
  data_ = static_cast<std::uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, size);
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before releasing
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes SecretBytes::Clone() const {
  SecretBytes copy(size_);
  if (size_ > 0) std::copy(data_, data_ + size_, copy.data_);
  return copy;
}

Bytes RandomBytes(std::size_t n) {
  Bytes out(n);
  RandomFill(out.data(), n);
  return out;
}

void RandomFill(std::uint8_t* out, std::size_t n) {
  EnsureSodium();
  // randombytes_buf is declared nonnull, and an empty vector's data() may be null.
  if (n == 0) return;
  randombytes_buf(out, n);
}

namespace {

[[noreturn]] void AbortOnMisuse(const char* what, std::size_t got) {
  std::fprintf(stderr, "comity: %s (got %zu); this is a bug in the caller\n", what, got);
  std::abort();
}

// `key` is empty for the unkeyed hash; lengths were checked by the callers.
Bytes Generichash(ByteView key, ByteView data, std::size_t out_len) {
  EnsureSodium();
  if (out_len < crypto_generichash_BYTES_MIN || out_len > crypto_generichash_BYTES_MAX) {
    AbortOnMisuse("BLAKE2b output length must be 16 to 64 bytes", out_len);
  }
  Bytes out(out_len);
  RequireSodium(crypto_generichash(out.data(), out.size(), data.data(), data.size(),
                                   key.empty() ? nullptr : key.data(), key.size()),
                "crypto_generichash");
  return out;
}

}  // namespace

Bytes Blake2b(ByteView data, std::size_t out_len) { return Generichash({}, data, out_len); }

Bytes Blake2bKeyed(ByteView key, ByteView data, std::size_t out_len) {
  if (key.size() < crypto_generichash_KEYBYTES_MIN || key.size() > crypto_generichash_KEYBYTES_MAX) {
    AbortOnMisuse("BLAKE2b key length must be 16 to 64 bytes", key.size());
  }
  return Generichash(key, data, out_len);
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  EnsureSodium();
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToHex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

namespace {
constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
}  // namespace

std::string Z85Encode(ByteView data) {
  if (data.size() % 4 != 0) return {};
  std::string out;
  out.reserve(data.size() * 5 / 4);
  for (std::size_t i = 0; i < data.size(); i += 4) {
    std::uint32_t value = (std::uint32_t{data[i]} << 24) | (std::uint32_t{data[i + 1]} << 16) |
                          (std::uint32_t{data[i + 2]} << 8) | std::uint32_t{data[i + 3]};
    char block[5];
    for (int j = 4; j >= 0; --j) {
      block[j] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(block, 5);
  }
  return out;
}

std::optional<Bytes> Z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() * 4 / 5);
  for (std::size_t i = 0; i < text.size(); i += 5) {
    std::uint64_t value = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      const char* pos = std::char_traits<char>::find(kZ85Alphabet, 85, text[i + j]);
      if (pos == nullptr) return std::nullopt;
      value = value * 85 + static_cast<std::uint64_t>(pos - kZ85Alphabet);
    }
    if (value > 0xffffffffULL) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(value >> 24));
    out.push_back(static_cast<std::uint8_t>(value >> 16));
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value));
  }
  return out;
}

}  // namespace comity::crypto
