#include "crypto/trust.h"

#include <algorithm>
#include <limits>
#include <set>

namespace comity::crypto {
namespace {

TrustError Fail(TrustCode code, std::string message) { return TrustError{code, std::move(message)}; }

v1::Signed MakeSigned(const std::string& body, Bytes signature) {
  v1::Signed s;
  s.set_body(body);
  s.set_signature(AsString(signature));
  return s;
}

bool VerifySigned(const v1::Signed& s, ByteView key, std::string_view domain) {
  return VerifySignature(key, domain, AsBytes(s.body()), AsBytes(s.signature()));
}

// Checked before a roster's signature, so an oversized one is not even hashed.
std::optional<TrustError> OversizedRoster(const v1::Signed& roster) {
  if (roster.body().size() <= kMaxRosterSize) return std::nullopt;
  return Fail(TrustCode::kMalformed, "roster is larger than " + std::to_string(kMaxRosterSize >> 20) +
                                         " MiB, the most a node accepts");
}

bool AllChars(std::string_view s, bool (*ok)(char)) { return std::all_of(s.begin(), s.end(), ok); }
bool IsUpperOrDigit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsUpperDigitDash(char c) { return IsUpperOrDigit(c) || c == '-'; }
bool IsAlnum(char c) { return IsUpperOrDigit(c) || (c >= 'a' && c <= 'z'); }
bool IsNetworkChar(char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; }

using Strings = google::protobuf::RepeatedPtrField<std::string>;

bool ValidKeySizes(const v1::PublicKeys& k) {
  return k.sign_ed25519().size() == kPublicKeySize && k.agree_x25519().size() == kPublicKeySize &&
         k.transport_curve().size() == kPublicKeySize;
}

// Format checks common to certificates and enrollment requests; empty string when fine.
std::string MemberFormatProblem(std::string_view member_id, std::string_view name,
                                std::string_view country, const v1::PublicKeys& keys,
                                const Strings& endpoints, const Strings& via_relays) {
  if (!IsValidMemberId(member_id)) return "member id '" + EscapeForDisplay(member_id) + "' is not valid";
  if (!IsValidAuthorityName(name)) {
    return "authority name must be 1 to 200 bytes of printable UTF-8 (no control characters)";
  }
  if (!IsValidCountry(country)) return "country must be an ISO 3166-1 alpha-2 code";
  if (!ValidKeySizes(keys)) return "public keys must be 32 bytes each";
  if (!IsValidEd25519PublicKey(AsBytes(keys.sign_ed25519()))) {
    return "signing key is not a valid Ed25519 public key (a small-order or mixed-order point)";
  }
  if (!IsValidX25519PublicKey(AsBytes(keys.agree_x25519()))) {
    return "agreement key is an X25519 point of low order, to which nothing can be sealed";
  }
  if (!IsValidX25519PublicKey(AsBytes(keys.transport_curve()))) {
    return "transport key is a Curve25519 point of low order";
  }
  for (const std::string& e : endpoints) {
    if (!IsValidEndpointText(e)) return "an endpoint is not 1 to 256 bytes of visible ASCII";
  }
  for (const std::string& r : via_relays) {
    if (!IsValidMemberId(r)) return "a relay '" + EscapeForDisplay(r) + "' is not a valid member id";
  }
  return {};
}

// True for the code points IsPrintableUtf8 refuses in well-formed UTF-8.
bool IsControlCodePoint(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool PrintableUtf8OfSize(std::string_view text, std::size_t min, std::size_t max) {
  return text.size() >= min && text.size() <= max && IsPrintableUtf8(text);
}

}  // namespace

bool IsPrintableUtf8(std::string_view text) { return IsCleanUtf8(text, false); }

bool IsPrintableText(std::string_view text) { return IsCleanUtf8(text, true); }

bool IsCleanUtf8(std::string_view text, bool lines) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    char32_t cp = 0;
    std::size_t len = 0;
    if (lead < 0x80) {
      cp = lead;
      len = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {  // lead bytes 0xC0 and 0xC1 only start overlong forms
      cp = lead & 0x1Fu;
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      cp = lead & 0x0Fu;
      len = 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      cp = lead & 0x07u;
      len = 4;
    } else {
      return false;  // a continuation byte, or a lead byte no valid sequence uses
    }
    if (text.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (next & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || (IsControlCodePoint(cp) && !(lines && (cp == '\n' || cp == '\t')))) {
      return false;
    }
    i += len;
  }
  return true;
}

bool IsVisibleAscii(std::string_view text) {
  return AllChars(text, [](char c) { return c >= 0x21 && c <= 0x7E; });
}

std::string EscapeForDisplay(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c <= 0x7E) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0F]);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out;
}

bool IsValidAuthorityName(std::string_view name) {
  return PrintableUtf8OfSize(name, 1, kMaxAuthorityNameSize);
}
bool IsValidRevocationReason(std::string_view text) {
  return PrintableUtf8OfSize(text, 0, kMaxRevocationReasonSize);
}
bool IsValidTransmissionForm(std::string_view text) {
  return PrintableUtf8OfSize(text, 1, kMaxListEntrySize);
}
bool IsValidEndpointText(std::string_view text) {
  return !text.empty() && text.size() <= kMaxListEntrySize && IsVisibleAscii(text);
}

const char* TrustCodeName(TrustCode code) {
  switch (code) {
    case TrustCode::kMalformed: return "malformed";
    case TrustCode::kBadSignature: return "bad signature";
    case TrustCode::kUnknownRoot: return "unknown root";
    case TrustCode::kRollback: return "rollback";
    case TrustCode::kExpired: return "expired";
    case TrustCode::kNotYetValid: return "not yet valid";
    case TrustCode::kRevoked: return "revoked";
    case TrustCode::kDuplicate: return "duplicate";
    case TrustCode::kUnknownMember: return "unknown member";
  }
  return "unknown";
}

bool IsValidMemberId(std::string_view id) {
  return id.size() >= 2 && id.size() <= 32 && IsUpperOrDigit(id[0]) && AllChars(id, IsUpperDigitDash);
}
bool IsValidNetworkId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && IsAlnum(id[0]) && AllChars(id, IsNetworkChar);
}
bool IsValidCountry(std::string_view code) {
  return code.size() == 2 && AllChars(code, [](char c) { return c >= 'A' && c <= 'Z'; });
}
bool IsValidLanguage(std::string_view code) {
  return code.size() == 2 && AllChars(code, [](char c) { return c >= 'a' && c <= 'z'; });
}

namespace {
constexpr std::pair<v1::Role, std::string_view> kRoles[] = {
    {v1::ROLE_CENTRAL_AUTHORITY, "central-authority"},
    {v1::ROLE_COMPETENT_AUTHORITY, "competent-authority"},
    {v1::ROLE_CONTACT_POINT, "contact-point"},
    {v1::ROLE_COORDINATOR, "coordinator"},
    {v1::ROLE_RELAY, "relay"},
};
}  // namespace

std::optional<v1::Role> ParseRole(std::string_view name) {
  for (const auto& [role, text] : kRoles) {
    if (text == name) return role;
  }
  return std::nullopt;
}

std::string RoleName(v1::Role role) {
  for (const auto& [r, text] : kRoles) {
    if (r == role) return std::string(text);
  }
  return "unspecified";
}

v1::PublicKeys ToProto(const PublicIdentity& identity) {
  v1::PublicKeys k;
  k.set_sign_ed25519(AsString(identity.sign));
  k.set_agree_x25519(AsString(identity.agree));
  k.set_transport_curve(AsString(identity.transport));
  return k;
}

v1::Signed SignEnrollment(const Identity& applicant, const v1::EnrollmentRequest& request) {
  std::string body = request.SerializeAsString();
  return MakeSigned(body, applicant.Sign(kDomainEnrollment, AsBytes(body)));
}

v1::Signed SignCertificate(const SigningKey& root, const v1::Certificate& certificate) {
  std::string body = certificate.SerializeAsString();
  return MakeSigned(body, root.Sign(kDomainCertificate, AsBytes(body)));
}

v1::Signed SignRoster(const SigningKey& root, const v1::Roster& roster) {
  std::string body = roster.SerializeAsString();
  return MakeSigned(body, root.Sign(kDomainRoster, AsBytes(body)));
}

Result<v1::EnrollmentRequest, TrustError> VerifyEnrollment(const v1::Signed& request) {
  // The key that must verify is inside the body: parse first, then check the body proves
  // possession of that key. Nothing in it is trusted until the coordinator admits it.
  v1::EnrollmentRequest req;
  if (!req.ParseFromString(request.body()) || req.format() != 1) {
    return Fail(TrustCode::kMalformed, "enrollment request is malformed");
  }
  if (std::string p = MemberFormatProblem(req.member_id(), req.authority_name(), req.country(), req.keys(),
                                          req.endpoints(), req.via_relays());
      !p.empty()) {
    return Fail(TrustCode::kMalformed, "enrollment request: " + p);
  }
  if (!VerifySigned(request, AsBytes(req.keys().sign_ed25519()), kDomainEnrollment)) {
    return Fail(TrustCode::kBadSignature, "enrollment request signature does not verify");
  }
  return req;
}

Result<v1::Certificate, TrustError> VerifyCertificate(const v1::Signed& certificate,
                                                      ByteView root_key) {
  if (!VerifySigned(certificate, root_key, kDomainCertificate)) {
    return Fail(TrustCode::kBadSignature, "certificate signature does not verify under the network root");
  }
  v1::Certificate cert;
  if (!cert.ParseFromString(certificate.body()) || cert.format() != 1) {
    return Fail(TrustCode::kMalformed, "certificate is malformed");
  }
  if (std::string p = MemberFormatProblem(cert.member_id(), cert.authority_name(), cert.country(), cert.keys(),
                                          cert.endpoints(), cert.via_relays());
      !p.empty()) {
    return Fail(TrustCode::kMalformed, "certificate: " + p);
  }
  if (!ConstantTimeEqual(AsBytes(cert.root_key()), root_key)) {
    return Fail(TrustCode::kMalformed, "certificate names another root than the one that signed it");
  }
  if (cert.role() == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(cert.role())) {
    return Fail(TrustCode::kMalformed, "certificate has no valid role");
  }
  if (cert.not_after() <= cert.not_before()) {
    return Fail(TrustCode::kMalformed, "certificate validity interval is empty");
  }
  for (const std::string& language : cert.languages()) {
    if (!IsValidLanguage(language)) {
      return Fail(TrustCode::kMalformed, "certificate lists a language that is not an ISO 639-1 code");
    }
  }
  for (const std::string& form : cert.transmission_forms()) {
    if (!IsValidTransmissionForm(form)) {
      return Fail(TrustCode::kMalformed,
                  "certificate lists a transmission form that is not 1 to 256 bytes of printable UTF-8");
    }
  }
  return cert;
}

Result<VerifiedRoster, TrustError> VerifyRoster(const v1::Signed& roster, ByteView root_key,
                                                std::string_view network_id, std::int64_t now) {
  if (auto too_large = OversizedRoster(roster)) return *too_large;
  if (!VerifySigned(roster, root_key, kDomainRoster)) {
    return Fail(TrustCode::kBadSignature, "roster signature does not verify under the network root");
  }
  VerifiedRoster out;
  out.signed_roster = roster;
  v1::Roster& r = out.roster;
  if (!r.ParseFromString(roster.body()) || r.format() != 1 || !IsValidNetworkId(r.network_id()) ||
      r.version() == 0) {
    return Fail(TrustCode::kMalformed, "roster is malformed");
  }
  // Counts before any per-entry work, so an oversized list costs no signature verification.
  if (r.certificates_size() > kMaxRosterCertificates) {
    return Fail(TrustCode::kMalformed, "roster lists more than " + std::to_string(kMaxRosterCertificates) +
                                           " certificates, the most a node accepts");
  }
  if (r.revocations_size() > kMaxRosterRevocations) {
    return Fail(TrustCode::kMalformed, "roster lists more than " + std::to_string(kMaxRosterRevocations) +
                                           " revocations, the most a node accepts");
  }
  if (r.bridges_size() > kMaxRosterBridges) {
    return Fail(TrustCode::kMalformed, "roster lists more than " + std::to_string(kMaxRosterBridges) +
                                           " bridges, the most a node accepts");
  }
  if (r.network_id() != network_id || !ConstantTimeEqual(AsBytes(r.root_key()), root_key)) {
    return Fail(TrustCode::kMalformed, "roster names another network or root than the one that signed it");
  }
  if (r.issued_at() > now + kMaxClockSkewSeconds) {
    return Fail(TrustCode::kNotYetValid, "roster is issued in the future; check the clock");
  }
  std::set<std::string> keys_seen;
  for (const v1::Signed& sc : r.certificates()) {
    auto cert = VerifyCertificate(sc, root_key);
    if (!cert) return Fail(cert.error().code, "roster " + cert.error().message);
    if (cert->network_id() != network_id) {
      return Fail(TrustCode::kMalformed, "roster lists a certificate of another network");
    }
    const std::string id = cert->member_id();
    if (out.members.count(id) != 0) {
      return Fail(TrustCode::kDuplicate, "roster lists member " + id + " twice");
    }
    for (const std::string* key : {&cert->keys().sign_ed25519(), &cert->keys().agree_x25519(),
                                   &cert->keys().transport_curve()}) {
      if (!keys_seen.insert(*key).second) {
        return Fail(TrustCode::kDuplicate, "roster lists a public key twice (member " + id + ")");
      }
    }
    out.certificate_bodies[id] = sc.body();
    out.member_by_body[sc.body()] = {id, sc.signature()};
    out.members.emplace(id, std::move(cert).value());
  }
  for (const v1::Bridge& b : r.bridges()) {
    if (!IsValidNetworkId(b.network_id()) || b.root_key().size() != kPublicKeySize ||
        b.network_id() == network_id) {
      return Fail(TrustCode::kMalformed, "roster has a malformed bridge");
    }
  }
  for (const v1::Revocation& rev : r.revocations()) {
    if (!IsValidMemberId(rev.member_id()) || rev.sign_ed25519().size() != kPublicKeySize) {
      return Fail(TrustCode::kMalformed, "roster has a malformed revocation");
    }
    if (!IsValidRevocationReason(rev.reason())) {
      return Fail(TrustCode::kMalformed, "roster has a revocation reason that is not at most " +
                                             std::to_string(kMaxRevocationReasonSize) +
                                             " bytes of printable UTF-8 (no control characters)");
    }
  }
  return out;
}

Status<TrustError> TrustStore::TrustRoot(const v1::RootKey& root) {
  if (root.format() != 1 || !IsValidNetworkId(root.network_id()) ||
      root.root_key().size() != kPublicKeySize) {
    return Fail(TrustCode::kMalformed, "root key file is malformed");
  }
  auto it = networks_.find(root.network_id());
  if (it != networks_.end()) {
    if (!ConstantTimeEqual(it->second.root_key, AsBytes(root.root_key()))) {
      return Fail(TrustCode::kUnknownRoot,
                  "network " + root.network_id() + " is already trusted with a different root key");
    }
    it->second.direct = true;
    RefreshBridges();  // a promoted network's own bridges now count
    return {};
  }
  for (const auto& [id, net] : networks_) {
    if (ConstantTimeEqual(net.root_key, AsBytes(root.root_key()))) {
      return Fail(TrustCode::kDuplicate, "root key of " + root.network_id() + " is already the root of " + id);
    }
  }
  const auto direct = std::count_if(networks_.begin(), networks_.end(),
                                    [](const auto& entry) { return entry.second.direct; });
  if (static_cast<std::size_t>(direct) >= kMaxTrustedNetworks) {
    return Fail(TrustCode::kMalformed, "this node already trusts " + std::to_string(kMaxTrustedNetworks) +
                                           " networks directly, the most it can hold");
  }
  TrustedNetworkView view;
  view.network_id = root.network_id();
  view.root_key = ToBytes(root.root_key());
  view.direct = true;
  networks_.emplace(view.network_id, std::move(view));
  RefreshBridges();  // the new direct network may take the place of a bridged one
  return {};
}

Result<std::string, TrustError> TrustStore::AcceptRoster(const v1::Signed& roster, std::int64_t now) {
  if (auto too_large = OversizedRoster(roster)) return *too_large;
  // Find the accepted network whose root signed these bytes; the body is not read first.
  TrustedNetworkView* signer = nullptr;
  for (auto& [id, net] : networks_) {
    if (VerifySigned(roster, net.root_key, kDomainRoster)) {
      signer = &net;
      break;
    }
  }
  if (signer == nullptr) {
    // Only to word the error: a roster that names a trusted network but does not verify
    // under its root is forged or damaged, not merely from elsewhere.
    v1::Roster claimed;
    if (claimed.ParseFromString(roster.body()) && networks_.count(claimed.network_id()) != 0) {
      return Fail(TrustCode::kBadSignature, "roster claims to be of " + claimed.network_id() +
                                                " but its signature does not verify under that network's root");
    }
    return Fail(TrustCode::kUnknownRoot,
                "roster is not signed by a trusted network root nor by a bridged one");
  }
  auto verified = VerifyRoster(roster, signer->root_key, signer->network_id, now);
  if (!verified) return verified.error();
  if (signer->roster) {
    if (signer->roster->signed_roster.body() == roster.body()) return signer->network_id;
    if (verified->roster.version() <= signer->version()) {
      return Fail(TrustCode::kRollback,
                  "roster version " + std::to_string(verified->roster.version()) + " of " +
                      signer->network_id + " is not newer than the held version " +
                      std::to_string(signer->version()));
    }
  }
  signer->roster = std::move(verified).value();
  std::string id = signer->network_id;
  if (signer->direct) RefreshBridges();
  return id;
}

void TrustStore::RefreshBridges() {
  // Every bridge of a direct network's current roster; the first entry for an id wins.
  std::map<std::string, Bytes> bridges;
  std::size_t direct = 0;
  for (const auto& [id, net] : networks_) {
    if (!net.direct) continue;
    ++direct;
    if (!net.roster) continue;
    for (const v1::Bridge& b : net.roster->roster.bridges()) {
      bridges.emplace(b.network_id(), ToBytes(b.root_key()));
    }
  }
  // The bridged networks: in ascending id order, up to the places the direct ones leave. A
  // bridge may not name a direct network, nor reuse the root key of a direct network or of
  // a bridged one chosen before it: rosters and certificates are attributed to networks by
  // the key that verifies them.
  const std::size_t places = direct < kMaxTrustedNetworks ? kMaxTrustedNetworks - direct : 0;
  std::map<std::string, Bytes> chosen;
  for (auto& bridge : bridges) {
    // Not a structured binding: clang 14 (the fuzzing build) cannot capture one in a lambda.
    const std::string& id = bridge.first;
    Bytes& key = bridge.second;
    if (chosen.size() >= places) break;
    auto known = networks_.find(id);
    if (known != networks_.end() && known->second.direct) continue;
    auto same_key = [&](const auto& entry) { return ConstantTimeEqual(entry.second, key); };
    bool key_taken = std::any_of(chosen.begin(), chosen.end(), same_key) ||
                     std::any_of(networks_.begin(), networks_.end(), [&](const auto& entry) {
                       return entry.second.direct && ConstantTimeEqual(entry.second.root_key, key);
                     });
    if (!key_taken) chosen.emplace(id, std::move(key));
  }
  for (auto it = networks_.begin(); it != networks_.end();) {
    TrustedNetworkView& net = it->second;
    auto c = chosen.find(net.network_id);
    bool still_bridged = c != chosen.end() && ConstantTimeEqual(c->second, net.root_key);
    if (!net.direct && !still_bridged) {
      it = networks_.erase(it);  // the bridge was withdrawn or lost its place: its members no longer verify
    } else {
      ++it;
    }
  }
  for (auto& [id, key] : chosen) {
    if (networks_.count(id) != 0) continue;
    TrustedNetworkView view;
    view.network_id = id;
    view.root_key = std::move(key);
    view.direct = false;
    networks_.emplace(id, std::move(view));
  }
}

const TrustedNetworkView* TrustStore::network(const std::string& id) const {
  auto it = networks_.find(id);
  return it == networks_.end() ? nullptr : &it->second;
}

Status<TrustError> TrustStore::CheckStatus(const TrustedNetworkView& net, const v1::Certificate& cert,
                                           std::int64_t now) const {
  const std::string who = cert.member_id() + "@" + net.network_id;
  // A revocation names the revoked certificate by its signing key, so a member re-admitted
  // with new keys after a revocation is not revoked again by its member id.
  for (const v1::Revocation& rev : net.roster->roster.revocations()) {
    if (rev.sign_ed25519() == cert.keys().sign_ed25519()) {
      return Fail(TrustCode::kRevoked, "member " + who + " is revoked");
    }
  }
  if (now < cert.not_before()) return Fail(TrustCode::kNotYetValid, "certificate of " + who + " is not yet valid");
  if (now >= cert.not_after()) return Fail(TrustCode::kExpired, "certificate of " + who + " has expired");
  return {};
}

Result<v1::Certificate, TrustError> TrustStore::VerifyMember(const v1::Signed& certificate,
                                                             std::int64_t now) const {
  // Fast path: the exact signed certificate of a held roster, verified when it was accepted.
  for (const auto& [id, net] : networks_) {
    if (!net.roster) continue;
    auto hit = net.roster->member_by_body.find(certificate.body());
    if (hit == net.roster->member_by_body.end() || hit->second.second != certificate.signature()) continue;
    const v1::Certificate& cert = net.roster->members.at(hit->second.first);
    if (auto st = CheckStatus(net, cert, now); !st) return st.error();
    return cert;
  }
  // Slow path, only to say precisely why the certificate is not current.
  for (const auto& [id, net] : networks_) {
    if (!VerifySigned(certificate, net.root_key, kDomainCertificate)) continue;
    auto cert = VerifyCertificate(certificate, net.root_key);
    if (!cert) return cert.error();
    if (cert->network_id() != net.network_id) {
      return Fail(TrustCode::kMalformed, "certificate names another network than its root's");
    }
    if (!net.roster) {
      return Fail(TrustCode::kUnknownMember, "no roster of network " + net.network_id + " is held");
    }
    // Revocation first: a revoked member's certificate is no longer in the roster.
    if (auto st = CheckStatus(net, *cert, now); !st && st.error().code == TrustCode::kRevoked) {
      return st.error();
    }
    auto body = net.roster->certificate_bodies.find(cert->member_id());
    if (body == net.roster->certificate_bodies.end() || body->second != certificate.body()) {
      return Fail(TrustCode::kUnknownMember, "certificate of " + cert->member_id() + "@" +
                                                 net.network_id + " is not in the current roster");
    }
    if (auto st = CheckStatus(net, *cert, now); !st) return st.error();
    return cert;
  }
  return Fail(TrustCode::kUnknownRoot, "certificate is not signed by any trusted or bridged network");
}

Result<v1::Certificate, TrustError> TrustStore::FindMember(const v1::Party& party,
                                                           std::int64_t now) const {
  const v1::Signed* sc = SignedCertificateOf(party);
  if (sc == nullptr) {
    const TrustedNetworkView* net = network(party.network_id());
    const std::string member = EscapeForDisplay(party.member_id());
    const std::string network_id = EscapeForDisplay(party.network_id());
    if (net == nullptr) return Fail(TrustCode::kUnknownRoot, "network " + network_id + " is not trusted");
    if (net->roster) {
      for (const v1::Revocation& rev : net->roster->roster.revocations()) {
        if (rev.member_id() == party.member_id()) {
          return Fail(TrustCode::kRevoked, "member " + member + "@" + network_id + " is revoked");
        }
      }
    }
    return Fail(TrustCode::kUnknownMember, "no member " + member + " in network " + network_id);
  }
  return VerifyMember(*sc, now);
}

const v1::Signed* TrustStore::SignedCertificateOf(const v1::Party& party) const {
  const TrustedNetworkView* net = network(party.network_id());
  if (net == nullptr || !net->roster) return nullptr;
  auto body = net->roster->certificate_bodies.find(party.member_id());
  if (body == net->roster->certificate_bodies.end()) return nullptr;
  for (const v1::Signed& sc : net->roster->roster.certificates()) {
    if (sc.body() == body->second) return &sc;
  }
  return nullptr;
}

v1::TrustState TrustStore::Save() const {
  v1::TrustState state;
  state.set_format(1);
  for (const auto& [id, net] : networks_) {
    v1::TrustedNetwork* t = state.add_networks();
    t->set_network_id(id);
    t->set_root_key(AsString(net.root_key));
    t->set_direct(net.direct);
    if (net.roster) *t->mutable_roster() = net.roster->signed_roster;
  }
  return state;
}

Result<TrustStore, TrustError> TrustStore::Load(const v1::TrustState& state) {
  if (state.format() != 1) return Fail(TrustCode::kMalformed, "trust state is malformed");
  if (static_cast<std::size_t>(state.networks_size()) > kMaxTrustedNetworks) {
    return Fail(TrustCode::kMalformed, "trust state lists more than " + std::to_string(kMaxTrustedNetworks) +
                                           " networks, the most a node holds");
  }
  TrustStore store;
  // Every configured root first, so no bridge can claim a directly trusted network's id;
  // then their rosters, which decide the bridged networks; then the bridged rosters.
  for (const v1::TrustedNetwork& t : state.networks()) {
    if (!t.direct()) continue;
    v1::RootKey root;
    root.set_format(1);
    root.set_network_id(t.network_id());
    root.set_root_key(t.root_key());
    if (auto st = store.TrustRoot(root); !st) return st.error();
  }
  // The issue-time skew was checked when each roster was accepted; a clock that has since
  // stepped back must not make the saved state unreadable.
  constexpr std::int64_t kNoSkewCheck = std::numeric_limits<std::int64_t>::max() / 2;
  for (bool direct : {true, false}) {
    for (const v1::TrustedNetwork& t : state.networks()) {
      if (t.direct() != direct || t.roster().body().empty()) continue;
      // A bridged network whose bridge is gone is no longer reachable: skip its roster.
      if (!direct && store.network(t.network_id()) == nullptr) continue;
      auto r = store.AcceptRoster(t.roster(), kNoSkewCheck);
      if (!r) return r.error();
    }
  }
  return store;
}

}  // namespace comity::crypto
