// The trust model: membership certificates, enrollment requests and rosters, signed by a
// network root; and TrustStore, a node's view of the networks it trusts (configured roots,
// their newest verified rosters, and networks reached through a roster's bridges).
// Everything is verified from the exact signed bytes; bodies are parsed only after their
// signature verifies. Time is passed in (Unix seconds) so tests control the clock.
// TrustStore is a value owned by one node; it is not synchronised: one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "proto/envelope.pb.h"
#include "proto/trust.pb.h"

namespace comity::crypto {

enum class TrustCode {
  kMalformed,      // bytes do not parse, or a field breaks the format rules
  kBadSignature,   // a signature does not verify under the key it must verify under
  kUnknownRoot,    // signed by a root this node does not trust (nor any bridge reaches)
  kRollback,       // roster version not newer than the one held
  kExpired,        // certificate past its not_after
  kNotYetValid,    // certificate before its not_before, or roster issued in the future
  kRevoked,        // member revoked by its network
  kDuplicate,      // a member id or public key appears twice in a roster
  kUnknownMember,  // no such member in the current roster (or certificate superseded)
};
using TrustError = TypedError<TrustCode>;
const char* TrustCodeName(TrustCode code);

// Clock skew tolerated for a roster's issue time.
inline constexpr std::int64_t kMaxClockSkewSeconds = 300;

// Limits that keep a roster, and so a node's trust.pb, bounded whatever a network publishes
// (docs/PROTOCOL.md §4.4, §4.5). Exceeding one is kMalformed.
inline constexpr std::size_t kMaxRosterSize = std::size_t{4} << 20;  // serialized roster body
inline constexpr int kMaxRosterCertificates = 10'000;
inline constexpr int kMaxRosterRevocations = 10'000;
inline constexpr int kMaxRosterBridges = 64;
inline constexpr std::size_t kMaxRevocationReasonSize = 1000;
inline constexpr std::size_t kMaxAuthorityNameSize = 200;
inline constexpr std::size_t kMaxListEntrySize = 256;  // one endpoint or transmission form
// Networks a TrustStore holds, direct and bridged together. trust.pb is at most this many
// rosters: kMaxTrustStateSize bounds its serialized size, for whoever reads it from disk.
inline constexpr std::size_t kMaxTrustedNetworks = 64;
inline constexpr std::size_t kMaxTrustStateSize = kMaxTrustedNetworks * (kMaxRosterSize + 1024);

// Text that can be shown on a terminal or written to a log as it is: valid UTF-8 (shortest
// form, no surrogates, at most U+10FFFF) without control characters, that is without C0
// (U+0000-U+001F), DEL, C1 (U+0080-U+009F), the line and paragraph separators (U+2028,
// U+2029) or the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069), any of which could forge or reorder what an operator reads. Empty is true.
bool IsPrintableUtf8(std::string_view text);
// The same, but lines and tabs allowed (\n and \t): text of many lines, such as a comment.
bool IsPrintableText(std::string_view text);
// IsPrintableUtf8 (lines false) or IsPrintableText (lines true).
bool IsCleanUtf8(std::string_view text, bool lines);
// Bytes 0x21-0x7E only (no space); empty is true.
bool IsVisibleAscii(std::string_view text);
// Unverified input made safe to quote in an error message: printable ASCII as is, any other
// byte as \xNN, cut after 64 bytes.
std::string EscapeForDisplay(std::string_view text);

// Format rules of the trust objects (docs/PROTOCOL.md §3.1).
bool IsValidMemberId(std::string_view id);     // [A-Z0-9][A-Z0-9-]{1,31}
bool IsValidNetworkId(std::string_view id);    // [A-Za-z0-9][A-Za-z0-9._-]{0,63}
bool IsValidCountry(std::string_view code);    // two upper-case letters
bool IsValidLanguage(std::string_view code);   // two lower-case letters
bool IsValidAuthorityName(std::string_view name);     // 1..200 bytes, IsPrintableUtf8
bool IsValidRevocationReason(std::string_view text);  // 0..1000 bytes, IsPrintableUtf8
bool IsValidTransmissionForm(std::string_view text);  // 1..256 bytes, IsPrintableUtf8
bool IsValidEndpointText(std::string_view text);      // 1..256 bytes, IsVisibleAscii
std::optional<v1::Role> ParseRole(std::string_view name);  // "central-authority", ...
std::string RoleName(v1::Role role);

v1::PublicKeys ToProto(const PublicIdentity& identity);

// Signing (the issuer's side).
v1::Signed SignEnrollment(const Identity& applicant, const v1::EnrollmentRequest& request);
v1::Signed SignCertificate(const SigningKey& root, const v1::Certificate& certificate);
v1::Signed SignRoster(const SigningKey& root, const v1::Roster& roster);

// Verifies an enrollment request's self-signature and format.
Result<v1::EnrollmentRequest, TrustError> VerifyEnrollment(const v1::Signed& request);

// Verifies a certificate's signature under `root_key` and its format (not its validity
// window; see TrustStore::VerifyMember).
Result<v1::Certificate, TrustError> VerifyCertificate(const v1::Signed& certificate,
                                                      ByteView root_key);

// A roster whose signature, format and certificates have been verified.
struct VerifiedRoster {
  v1::Signed signed_roster;
  v1::Roster roster;                                // parsed body, certificates still signed
  std::map<std::string, v1::Certificate> members;   // by member id
  std::map<std::string, std::string> certificate_bodies;  // member id -> exact signed body
  // Exact signed body -> (member id, signature): VerifyMember's lookup, so a certificate the
  // roster already vouched for costs no second signature verification.
  std::map<std::string, std::pair<std::string, std::string>> member_by_body;
};

// Verifies a roster under `root_key`: its size and counts within the limits above, signature,
// format, that it names `network_id` and that root, every certificate's signature and
// network, no duplicate member id or key, no issue time more than kMaxClockSkewSeconds in the
// future. Rollback is TrustStore's check.
Result<VerifiedRoster, TrustError> VerifyRoster(const v1::Signed& roster, ByteView root_key,
                                                std::string_view network_id, std::int64_t now);

// What a node knows of one network.
struct TrustedNetworkView {
  std::string network_id;
  Bytes root_key;
  bool direct = false;                     // configured root; otherwise reached by a bridge
  std::optional<VerifiedRoster> roster;    // newest accepted roster
  std::uint64_t version() const { return roster ? roster->roster.version() : 0; }
};

// At most kMaxTrustedNetworks networks. Directly trusted ones come first: a new root is
// refused only when that many are trusted directly. The places left go to bridged networks in
// ascending order of network id; further bridges are ignored (their rosters are unknown
// root) until a place frees, and a new direct root takes the place of the last bridged one.
// The choice depends only on the direct networks and their current rosters, so a store
// loaded from trust.pb holds the same networks as the one that saved it.
class TrustStore {
 public:
  // Trusts a network root handed over out of band. Refuses a different key for a network
  // id already trusted, and a new network when kMaxTrustedNetworks are trusted directly.
  Status<TrustError> TrustRoot(const v1::RootKey& root);

  // Verifies a roster and installs it if it is newer. The roster must be signed by a
  // directly trusted root, or by a root bridged in the current roster of a directly
  // trusted network. Returns the roster's network id. The same roster again is accepted
  // as a no-op; an older or equal version with other content is a rollback.
  Result<std::string, TrustError> AcceptRoster(const v1::Signed& roster, std::int64_t now);

  // Checks that `certificate` is the current certificate of an unrevoked member of an
  // accepted network, valid at `now`. Returns the parsed certificate.
  Result<v1::Certificate, TrustError> VerifyMember(const v1::Signed& certificate,
                                                   std::int64_t now) const;

  // Looks a member up by network and id; same checks as VerifyMember.
  Result<v1::Certificate, TrustError> FindMember(const v1::Party& party, std::int64_t now) const;
  // The signed certificate of a member (no validity checks).
  const v1::Signed* SignedCertificateOf(const v1::Party& party) const;

  const std::map<std::string, TrustedNetworkView>& networks() const { return networks_; }
  const TrustedNetworkView* network(const std::string& id) const;

  // Persistence: Save() lists roots and rosters; Load() re-verifies all of it (signatures,
  // format, bridges), except the issue-time clock skew already checked on acceptance.
  v1::TrustState Save() const;
  static Result<TrustStore, TrustError> Load(const v1::TrustState& state);

 private:
  // Recomputes which bridged networks are reachable after a direct roster changed.
  void RefreshBridges();
  Status<TrustError> CheckStatus(const TrustedNetworkView& net, const v1::Certificate& cert,
                                 std::int64_t now) const;

  std::map<std::string, TrustedNetworkView> networks_;
};

}  // namespace comity::crypto
