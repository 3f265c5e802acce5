// Thin, safe wrappers over libsodium shared by the whole crypto library: one-time
// initialisation, secret memory that is locked and wiped, randomness, hashing, constant-time
// comparison and hex. Pure functions; SecretBytes is owned by value and never shared.
// Every function here may be called from any thread once EnsureSodium() has run (it is
// called by every entry point of this library, so callers rarely need it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace comity::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Initialises libsodium once per process (thread-safe); aborts if it cannot, since no
// cryptography can then be trusted.
void EnsureSodium();

// For a libsodium call that cannot fail on the arguments this library gives it: aborts with
// a message naming `what` unless `result` is 0. Such a failure is a programmer error or a
// broken libsodium, after which no output can be trusted, so it crashes loudly instead of
// returning (STYLE.md). Calls that can fail on outside input return an error instead.
void RequireSodium(int result, const char* what);

// Secret key material in sodium_malloc memory: guarded pages, locked against swapping,
// wiped on destruction. Movable, not copyable.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteView view() const { return {data_, size_}; }
  // A copy in fresh secret memory.
  SecretBytes Clone() const;

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

Bytes RandomBytes(std::size_t n);
void RandomFill(std::uint8_t* out, std::size_t n);

// BLAKE2b (crypto_generichash) of `data` with `out_len` bytes of output (16..64).
// An out_len or key length outside its range aborts with a message: every caller passes a
// protocol constant, so it is a programmer error, and clamping would silently give another
// hash than the one the protocol defines.
Bytes Blake2b(ByteView data, std::size_t out_len = 32);
// Keyed BLAKE2b; key 16..64 bytes (an empty key is refused too: use Blake2b).
Bytes Blake2bKeyed(ByteView key, ByteView data, std::size_t out_len = 32);

// Constant-time equality; false when the sizes differ (sizes are not secret).
bool ConstantTimeEqual(ByteView a, ByteView b);

std::string ToHex(ByteView data);
std::optional<Bytes> FromHex(std::string_view hex);

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string AsString(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Z85 (ZeroMQ RFC 32) text form of binary data whose length is a multiple of 4; the form
// ZeroMQ CURVE uses for its 32-byte keys (40 characters).
std::string Z85Encode(ByteView data);
std::optional<Bytes> Z85Decode(std::string_view text);

}  // namespace comity::crypto
