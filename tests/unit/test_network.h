// Test networks for the crypto unit tests: a TestNetwork is a coordinator (a root SigningKey)
// that admits members (fresh Identities with root-signed certificates), revokes them, bridges
// other networks and publishes signed rosters. Time is the fixed kNow unless a test passes
// another. Test-only; one thread per TestNetwork.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/trust.h"

#if __has_include(<google/protobuf/stubs/logging.h>)  // protobuf 3.x (Debian 12)
#include <google/protobuf/stubs/logging.h>
#endif

namespace comity::crypto {

// Code names instead of raw bytes in GoogleTest failure messages (found by ADL).
void PrintTo(TrustCode code, std::ostream* os);
void PrintTo(OpenCode code, std::ostream* os);

}  // namespace comity::crypto

namespace comity::crypto::test {

// X25519 public keys of low order (libsodium's list): 0, 1, two points of order 8, p - 1,
// and the non-canonical p and p + 1, which X25519 reads as 0 and 1.
inline constexpr const char* kLowOrderX25519Hex[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

// The clock of every test (mid-2025); tests move it explicitly.
inline constexpr std::int64_t kNow = 1'750'000'000;
inline constexpr std::int64_t kDay = 86'400;

// A certificate's validity window: [not_before, not_after).
struct Validity {
  std::int64_t not_before = kNow - kDay;
  std::int64_t not_after = kNow + 365 * kDay;
};

// A member of a TestNetwork: its secret keys and its signed certificate.
struct TestMember {
  Identity identity;
  v1::Certificate certificate;
  v1::Signed signed_certificate;
  bool listed = true;  // in the rosters the coordinator publishes; false once revoked

  v1::Party party() const { return PartyOf(certificate); }
};

class TestNetwork {
 public:
  explicit TestNetwork(std::string network_id);
  // The same with keys derived from `key_seed` (root and members, in the order admitted): the
  // same seed gives the same keys in every run, as the fuzz targets' seed corpora need.
  TestNetwork(std::string network_id, std::uint8_t key_seed);

  const std::string& id() const { return id_; }
  const SigningKey& root() const { return root_; }
  // The root key as handed over out of band.
  v1::RootKey root_key() const;

  // An unsigned certificate body of this network for `member_id` with `keys`.
  v1::Certificate CertificateFor(const std::string& member_id, const PublicIdentity& keys,
                                 Validity validity = {});
  // Admits a member with fresh keys. Admitting an existing id re-issues it with new keys,
  // superseding the old certificate (copy it first to keep it).
  const TestMember& Admit(const std::string& member_id, Validity validity = {});
  // Admits a member whose certificate `edit` changes first (endpoints, relays, role...).
  const TestMember& AdmitWith(const std::string& member_id, const std::function<void(v1::Certificate&)>& edit);
  // Drops the member from later rosters and lists a revocation of its certificate.
  void Revoke(const std::string& member_id);
  void AddBridge(const TestNetwork& other);
  void RemoveBridge(const std::string& network_id);

  const TestMember& member(const std::string& member_id) const { return members_.at(member_id); }

  // The body of the next roster (last published version + 1), for tests that alter it
  // before signing it with SignRoster(root(), ...).
  v1::Roster NextRoster(std::int64_t issued_at = kNow) const;
  // Signs NextRoster() and counts it as published.
  v1::Signed Publish(std::int64_t issued_at = kNow);

 private:
  Identity NewIdentity();

  std::string id_;
  SigningKey root_ = SigningKey::Generate();
  std::optional<std::uint8_t> key_seed_;
  std::uint32_t keys_made_ = 0;
  std::uint64_t published_version_ = 0;
  std::uint64_t next_serial_ = 1;
  std::map<std::string, TestMember> members_;
  std::vector<v1::Revocation> revocations_;
  std::vector<v1::Bridge> bridges_;
};

// A trust store that trusts `network`'s root and has accepted `roster`; a failure of either
// step fails the calling test.
TrustStore TrustingOnly(const TestNetwork& network, const v1::Signed& roster,
                        std::int64_t now = kNow);

// While one is in scope, protobuf's own log lines (such as "invalid UTF-8" for a damaged
// string field, which every such parse prints) are silenced: expected noise in a test.
#if __has_include(<google/protobuf/stubs/logging.h>)
using QuietProtobufLogs = google::protobuf::LogSilencer;
#else
struct QuietProtobufLogs {};  // later protobuf logs through Abseil; the noise stays
#endif

// `message` (serialized protobuf) followed by an unknown length-delimited field (number
// 2047, which no Comity message uses) so that the result is exactly `size` bytes: parsers
// skip it, so the padded message means the same. Fails the calling test when `size` cannot be
// reached (too small, or on a varint length boundary).
std::string PaddedTo(std::string message, std::size_t size);

// Calls `check(where, damaged)` for every copy of `bytes` with exactly one byte altered, under
// three masks: the lowest bit, the protobuf varint continuation bit, and all eight bits.
void ForEachByteFlip(std::string_view bytes,
                     const std::function<void(const std::string& where, const std::string& damaged)>& check);

// The code of a failed result, or nullopt when it succeeded: EXPECT_EQ(ErrorCode(r), kCode).
template <class T, class Code>
std::optional<Code> ErrorCode(const Result<T, TypedError<Code>>& result) {
  if (result.ok()) return std::nullopt;
  return result.error().code;
}
template <class Code>
std::optional<Code> ErrorCode(const Status<TypedError<Code>>& status) {
  if (status.ok()) return std::nullopt;
  return status.error().code;
}

}  // namespace comity::crypto::test
