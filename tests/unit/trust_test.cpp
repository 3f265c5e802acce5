// Tests of crypto/trust: enrollment requests, certificates, rosters, and a node's TrustStore
// (rollback, revocation, supersession, validity windows, bridges, persistence).
#include "crypto/trust.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/test_network.h"

namespace comity::crypto {
namespace {

using test::ErrorCode;
using test::ForEachByteFlip;
using test::kDay;
using test::kNow;
using test::TestNetwork;
using test::TrustingOnly;

v1::Party Party(const std::string& network_id, const std::string& member_id) {
  v1::Party p;
  p.set_network_id(network_id);
  p.set_member_id(member_id);
  return p;
}

// Damage to signed bytes must be caught by the signature or the format checks, never accepted
// and never reported as something else (an expiry, a rollback) that would hide the damage.
// A damaged comity.v1.Signed that no longer parses counts as malformed.
template <class Verify>
void ExpectEveryByteFlipRefused(const v1::Signed& original, Verify verify) {
  std::size_t verified = 0;
  ForEachByteFlip(original.SerializeAsString(), [&](const std::string& where, const std::string& damaged) {
    v1::Signed parsed;
    if (!parsed.ParseFromString(damaged)) return;
    ++verified;
    std::optional<TrustCode> code = verify(parsed);
    EXPECT_TRUE(code == TrustCode::kBadSignature || code == TrustCode::kMalformed)
        << where << ": " << (code ? TrustCodeName(*code) : "accepted");
  });
  // Every flip inside the body still parses as a Signed: the loop is not vacuous.
  EXPECT_GE(verified, original.body().size());
}

// ---------------------------------------------------------------------------------------------
// Enrollment requests

v1::EnrollmentRequest RequestFor(const Identity& applicant) {
  v1::EnrollmentRequest req;
  req.set_format(1);
  req.set_member_id("PT-PGR");
  req.set_authority_name("Procuradoria-Geral da Republica");
  req.set_country("PT");
  *req.mutable_keys() = ToProto(applicant.public_identity());
  req.add_endpoints("tcp://pgr.example:7450");
  req.set_created_at(kNow);
  return req;
}

TEST(TrustEnrollment, SignedRequestVerifies) {
  Identity applicant = Identity::Generate();
  auto verified = VerifyEnrollment(SignEnrollment(applicant, RequestFor(applicant)));
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->member_id(), "PT-PGR");
  EXPECT_EQ(verified->keys().sign_ed25519(), AsString(applicant.public_identity().sign));
  EXPECT_EQ(verified->created_at(), kNow);
}

TEST(TrustEnrollment, FlippedBodyOrSignatureByteRefused) {
  Identity applicant = Identity::Generate();
  const v1::Signed request = SignEnrollment(applicant, RequestFor(applicant));
  for (bool in_body : {true, false}) {
    const std::string& field = in_body ? request.body() : request.signature();
    ForEachByteFlip(field, [&](const std::string& where, const std::string& damaged) {
      v1::Signed altered = request;
      (in_body ? altered.mutable_body() : altered.mutable_signature())->assign(damaged);
      auto code = ErrorCode(VerifyEnrollment(altered));
      EXPECT_TRUE(code == TrustCode::kBadSignature || code == TrustCode::kMalformed)
          << (in_body ? "body " : "signature ") << where;
    });
  }
}

TEST(TrustEnrollment, RequestSignedByAnotherKeyRefused) {
  // Possession is proven by the key named in the request, not by whoever signed it.
  Identity applicant = Identity::Generate();
  Identity impostor = Identity::Generate();
  EXPECT_EQ(ErrorCode(VerifyEnrollment(SignEnrollment(impostor, RequestFor(applicant)))),
            TrustCode::kBadSignature);
}

// Public keys that must never verify as a member's (libsodium's lists of small-order points).
// Ed25519: the identity, a point of order 4 (all zeros) and one of order 8.
const char* const kSmallOrderEd25519Hex[] = {
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
};

// `key` plus a point of order 8: on the curve, but outside the prime-order subgroup.
Bytes WithTorsion(const Bytes& key) {
  Bytes mixed(crypto_core_ed25519_BYTES);
  EXPECT_EQ(crypto_core_ed25519_add(mixed.data(), key.data(), FromHex(kSmallOrderEd25519Hex[2])->data()), 0);
  return mixed;
}

// Each way to break one public key of `keys`, named: what a verifier must refuse.
std::vector<std::pair<std::string, PublicIdentity>> BadKeyVariants(const PublicIdentity& keys) {
  std::vector<std::pair<std::string, PublicIdentity>> out;
  auto variant = [&](const std::string& what, const std::function<void(PublicIdentity&)>& change) {
    PublicIdentity bad{keys.sign, keys.agree, keys.transport};
    change(bad);
    out.emplace_back(what, std::move(bad));
  };
  for (const char* hex : kSmallOrderEd25519Hex) {
    variant(std::string("sign key ") + hex, [&](PublicIdentity& k) { k.sign = *FromHex(hex); });
  }
  variant("sign key with a torsion component", [&](PublicIdentity& k) { k.sign = WithTorsion(k.sign); });
  for (const char* hex : test::kLowOrderX25519Hex) {
    variant(std::string("agree key ") + hex, [&](PublicIdentity& k) { k.agree = *FromHex(hex); });
    variant(std::string("transport key ") + hex, [&](PublicIdentity& k) { k.transport = *FromHex(hex); });
  }
  return out;
}

TEST(TrustEnrollment, InvalidOrLowOrderKeysRefused) {
  // Checked before the signature, which alone would not refuse them all: the holder of a
  // secret can still self-sign under its key plus a torsion point (about one try in eight
  // verifies), and a low-order agreement key would make every envelope to the member
  // unopenable.
  Identity applicant = Identity::Generate();
  for (const auto& [what, keys] : BadKeyVariants(applicant.public_identity())) {
    v1::EnrollmentRequest req = RequestFor(applicant);
    *req.mutable_keys() = ToProto(keys);
    EXPECT_EQ(ErrorCode(VerifyEnrollment(SignEnrollment(applicant, req))), TrustCode::kMalformed) << what;
  }
}

TEST(TrustEnrollment, TextFieldsMustBePrintable) {
  Identity applicant = Identity::Generate();
  auto with = [&](const std::function<void(v1::EnrollmentRequest&)>& change) {
    v1::EnrollmentRequest req = RequestFor(applicant);
    change(req);
    return ErrorCode(VerifyEnrollment(SignEnrollment(applicant, req)));
  };
  EXPECT_EQ(with([](v1::EnrollmentRequest&) {}), std::nullopt);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.set_authority_name("Procuradoria-Geral da Rep\xc3\xba" "blica"); }),
            std::nullopt);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.set_authority_name("PGR\nFingerprint: 0000 0000"); }),
            TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.set_authority_name("PGR\x1b[1A\x1b[2K"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_endpoints("tcp://pgr.example:7450\n"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_endpoints("tcp://pgr example:7450"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_endpoints(""); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_via_relays("PT-RELAY"); }), std::nullopt);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_via_relays("PT-RELAY\x1b[0m"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::EnrollmentRequest& r) { r.add_via_relays("pt relay"); }), TrustCode::kMalformed);
}

TEST(TrustEnrollment, MessageDoesNotEchoControlCharacters) {
  Identity applicant = Identity::Generate();
  v1::EnrollmentRequest req = RequestFor(applicant);
  req.set_member_id("PT-PGR\x1b]0;admitted\x07");
  auto verified = VerifyEnrollment(SignEnrollment(applicant, req));
  ASSERT_EQ(ErrorCode(verified), TrustCode::kMalformed);
  EXPECT_TRUE(IsPrintableUtf8(verified.error().message)) << EscapeForDisplay(verified.error().message);
  EXPECT_NE(verified.error().message.find("PT-PGR\\x1b]0;admitted\\x07"), std::string::npos)
      << verified.error().message;
}

// ---------------------------------------------------------------------------------------------
// Text rules

TEST(TrustText, IsPrintableUtf8) {
  for (const std::string good : {"", "Ministerio de Justicia", "Minist\xc3\xa8re de la Justice",
                                 "\xce\x9f\xce\xbc\xce\xbf\xcf\x83\xcf\x80\xce\xbf\xce\xbd\xce\xb4\xce\xaf\xce\xb1",
                                 "\xe6\xb3\x95\xe5\x8b\x99\xe7\x9c\x81",  // CJK
                                 "\xd9\x88\xd8\xb2\xd8\xa7\xd8\xb1\xd8\xa9",  // Arabic, no explicit bidi controls
                                 "\xf0\x9f\x8f\x9b",  // U+1F3DB, four bytes
                                 "\xc2\xa0 \xc2\xa9 ~", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf" /* U+10FFFF */}) {
    EXPECT_TRUE(IsPrintableUtf8(good)) << EscapeForDisplay(good);
  }
  const std::string bad[] = {
      // C0, DEL and C1 controls
      std::string("a\0b", 3), "line\nbreak", "tab\there", "cr\r", "\x1b[2J", "\x07", "\x7f",
      "\xc2\x80", "\xc2\x85" /* NEL */, "\xc2\x9b" /* CSI */, "\xc2\x9f",
      // separators and bidirectional controls
      "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaa", "\xe2\x80\xae" /* RLO */, "\xe2\x81\xa6",
      "\xe2\x81\xa9",
      // not UTF-8: lone continuation, bad lead bytes, truncated, overlong, surrogate, too large
      "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xf5\x80\x80\x80", "\xff", "\xc3", "\xe6\xb3",
      "\xf0\x9f\x8f", "\xc3\x28", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xed\xa0\x80",
      "\xed\xbf\xbf", "\xf4\x90\x80\x80"};
  for (const std::string& text : bad) {
    EXPECT_FALSE(IsPrintableUtf8(text)) << EscapeForDisplay(text);
    EXPECT_FALSE(IsPrintableUtf8("valid prefix " + text + " valid suffix")) << EscapeForDisplay(text);
  }
}

TEST(TrustText, EscapeForDisplay) {
  EXPECT_EQ(EscapeForDisplay("ES-MJ"), "ES-MJ");
  EXPECT_EQ(EscapeForDisplay("a\nb\x1b[2J\x7f\xc3\xa8"), "a\\x0ab\\x1b[2J\\x7f\\xc3\\xa8");
  EXPECT_EQ(EscapeForDisplay(std::string(100, 'A')), std::string(64, 'A') + "...");
  EXPECT_TRUE(IsPrintableUtf8(EscapeForDisplay("\x1b\n\xff")));
}

TEST(TrustText, ProtobufRefusesInvalidUtf8InStringFields) {
  // What protobuf 3.21 does with a proto3 string that is not UTF-8: it serializes it (with an
  // ERROR log line) but refuses to parse it, so such a certificate is malformed before any
  // of Comity's own text rules run. Should an upgrade change this, IsPrintableUtf8 still holds.
  [[maybe_unused]] test::QuietProtobufLogs quiet;
  TestNetwork ejn("ejn");
  v1::Certificate cert = ejn.CertificateFor("ES-MJ", Identity::Generate().public_identity());
  cert.set_authority_name("Ministerio \xff");
  const v1::Signed signed_cert = SignCertificate(ejn.root(), cert);
  v1::Certificate parsed;
  EXPECT_FALSE(parsed.ParseFromString(signed_cert.body()));
  EXPECT_EQ(ErrorCode(VerifyCertificate(signed_cert, ejn.root().public_key())), TrustCode::kMalformed);
}

// ---------------------------------------------------------------------------------------------
// Certificates

TEST(TrustCertificate, VerifiesUnderItsRoot) {
  TestNetwork ejn("ejn");
  const auto& member = ejn.Admit("ES-MJ");
  auto cert = VerifyCertificate(member.signed_certificate, ejn.root().public_key());
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert->member_id(), "ES-MJ");
  EXPECT_EQ(cert->network_id(), "ejn");
  EXPECT_EQ(cert->keys().agree_x25519(), AsString(member.identity.public_identity().agree));
}

TEST(TrustCertificate, RefusedUnderAnotherRoot) {
  TestNetwork ejn("ejn");
  TestNetwork iberred("iberred");
  const auto& member = ejn.Admit("ES-MJ");
  EXPECT_EQ(ErrorCode(VerifyCertificate(member.signed_certificate, iberred.root().public_key())),
            TrustCode::kBadSignature);
}

TEST(TrustCertificate, CertificateNamingAnotherRootRefused) {
  // Signed by ejn's root but claiming iberred's: the body must name the key that signed it.
  TestNetwork ejn("ejn");
  TestNetwork iberred("iberred");
  v1::Certificate cert = ejn.CertificateFor("ES-MJ", Identity::Generate().public_identity());
  cert.set_root_key(AsString(iberred.root().public_key()));
  EXPECT_EQ(ErrorCode(VerifyCertificate(SignCertificate(ejn.root(), cert), ejn.root().public_key())),
            TrustCode::kMalformed);
}

TEST(TrustCertificate, BodyBreakingFormatRulesRefused) {
  // Validly signed by the root, yet not a certificate a node may rely on.
  TestNetwork ejn("ejn");
  const PublicIdentity keys = Identity::Generate().public_identity();
  auto with = [&](auto change) {
    v1::Certificate cert = ejn.CertificateFor("ES-MJ", keys);
    change(cert);
    return ErrorCode(VerifyCertificate(SignCertificate(ejn.root(), cert), ejn.root().public_key()));
  };
  EXPECT_EQ(with([](v1::Certificate&) {}), std::nullopt);
  EXPECT_EQ(with([](v1::Certificate& c) { c.set_format(2); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::Certificate& c) { c.set_member_id("es-mj"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::Certificate& c) { c.set_country("Spain"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::Certificate& c) { c.set_role(v1::ROLE_UNSPECIFIED); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::Certificate& c) { c.mutable_keys()->mutable_agree_x25519()->pop_back(); }),
            TrustCode::kMalformed);
  EXPECT_EQ(with([](v1::Certificate& c) { c.set_not_after(c.not_before()); }), TrustCode::kMalformed);
}

TEST(TrustCertificate, InvalidOrLowOrderKeysRefused) {
  // Validly signed by the root, yet with a public key no member can use: a sign key off the
  // prime-order subgroup, or an agreement or transport key to which nothing can be sealed.
  TestNetwork ejn("ejn");
  const Identity identity = Identity::Generate();
  ASSERT_TRUE(VerifyCertificate(SignCertificate(ejn.root(), ejn.CertificateFor("ES-MJ", identity.public_identity())),
                                ejn.root().public_key())
                  .ok());
  for (const auto& [what, keys] : BadKeyVariants(identity.public_identity())) {
    const v1::Signed cert = SignCertificate(ejn.root(), ejn.CertificateFor("ES-MJ", keys));
    auto verified = VerifyCertificate(cert, ejn.root().public_key());
    EXPECT_EQ(ErrorCode(verified), TrustCode::kMalformed) << what;
  }
}

TEST(TrustCertificate, TextFieldsMustBePrintable) {
  TestNetwork ejn("ejn");
  const PublicIdentity keys = Identity::Generate().public_identity();
  auto with = [&](const std::function<void(v1::Certificate&)>& change) {
    v1::Certificate cert = ejn.CertificateFor("ES-MJ", keys);
    change(cert);
    return ErrorCode(VerifyCertificate(SignCertificate(ejn.root(), cert), ejn.root().public_key()));
  };
  using C = v1::Certificate;
  EXPECT_EQ(with([](C&) {}), std::nullopt);
  // Authority name: 1 to 200 bytes of printable UTF-8.
  EXPECT_EQ(with([](C& c) { c.set_authority_name("Minist\xc3\xa8re de la Justice"); }), std::nullopt);
  std::string name200;
  for (int i = 0; i < 100; ++i) name200 += "\xc3\xa8";
  EXPECT_EQ(with([&](C& c) { c.set_authority_name(name200); }), std::nullopt);
  EXPECT_EQ(with([&](C& c) { c.set_authority_name(name200 + "e"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.set_authority_name(""); }), TrustCode::kMalformed);
  for (const char* forged : {"Ministry\nES-MJ  revoked", "Ministry\x1b[2J", "Ministry\r", "Ministry\x7f",
                             "Ministry\xc2\x9b" "31m", "Ministry \xe2\x80\xae", "\t"}) {
    EXPECT_EQ(with([&](C& c) { c.set_authority_name(forged); }), TrustCode::kMalformed) << EscapeForDisplay(forged);
  }
  // Endpoints: visible ASCII, 1 to 256 bytes.
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://[2001:db8::1]:7450"); }), std::nullopt);
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://ministry.example:7450\x1b[2K"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://ministry example:7450"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://minist\xc3\xa8re.example:1"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_endpoints(""); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://" + std::string(250, 'a')); }), std::nullopt);  // 256 bytes
  EXPECT_EQ(with([](C& c) { c.add_endpoints("tcp://" + std::string(251, 'a')); }), TrustCode::kMalformed);
  // Relays: member ids.
  EXPECT_EQ(with([](C& c) { c.add_via_relays("ES-RELAY"); }), std::nullopt);
  EXPECT_EQ(with([](C& c) { c.add_via_relays("ES-RELAY\n"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_via_relays("es-relay"); }), TrustCode::kMalformed);
  // Languages: ISO 639-1 codes.
  EXPECT_EQ(with([](C& c) { c.add_languages("pt"); }), std::nullopt);
  for (const char* language : {"PT", "por", "p", "", "p\n", "\x1b["}) {
    EXPECT_EQ(with([&](C& c) { c.add_languages(language); }), TrustCode::kMalformed) << EscapeForDisplay(language);
  }
  // Transmission forms: printable UTF-8, 1 to 256 bytes.
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms("correo electr\xc3\xb3nico seguro"); }), std::nullopt);
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms(std::string(256, 'f')); }), std::nullopt);
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms(std::string(257, 'f')); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms(""); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms("fax\n24/7: call +00"); }), TrustCode::kMalformed);
  EXPECT_EQ(with([](C& c) { c.add_transmission_forms("email\xc2\x85"); }), TrustCode::kMalformed);
}

TEST(TrustCertificate, EverySingleByteFlipRefused) {
  TestNetwork ejn("ejn");
  const auto& member = ejn.Admit("ES-MJ");
  ExpectEveryByteFlipRefused(member.signed_certificate, [&](const v1::Signed& damaged) {
    return ErrorCode(VerifyCertificate(damaged, ejn.root().public_key()));
  });
}

// ---------------------------------------------------------------------------------------------
// Rosters

class TrustRosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ejn_.Admit("ES-MJ");
    ejn_.Admit("FR-MJ");
    ejn_.Admit("DE-BMJ");
  }
  TestNetwork ejn_{"ejn"};
};

TEST_F(TrustRosterTest, VerifyRosterReturnsItsMembers) {
  auto roster = VerifyRoster(ejn_.Publish(), ejn_.root().public_key(), "ejn", kNow);
  ASSERT_TRUE(roster.ok()) << roster.error().message;
  EXPECT_EQ(roster->roster.version(), 1u);
  ASSERT_EQ(roster->members.size(), 3u);
  EXPECT_EQ(roster->members.at("FR-MJ").keys().sign_ed25519(),
            AsString(ejn_.member("FR-MJ").identity.public_identity().sign));
  EXPECT_EQ(roster->certificate_bodies.at("DE-BMJ"), ejn_.member("DE-BMJ").signed_certificate.body());
}

TEST_F(TrustRosterTest, RefusedUnderAnotherRootOrNetwork) {
  TestNetwork other("iberred");
  const v1::Signed roster = ejn_.Publish();
  EXPECT_EQ(ErrorCode(VerifyRoster(roster, other.root().public_key(), "ejn", kNow)),
            TrustCode::kBadSignature);
  EXPECT_EQ(ErrorCode(VerifyRoster(roster, ejn_.root().public_key(), "iberred", kNow)),
            TrustCode::kMalformed);
}

TEST_F(TrustRosterTest, EverySingleByteFlipRefused) {
  ejn_.AddBridge(TestNetwork("iberred"));
  ejn_.Revoke("DE-BMJ");
  const v1::Signed roster = ejn_.Publish();
  ASSERT_TRUE(VerifyRoster(roster, ejn_.root().public_key(), "ejn", kNow).ok());
  ExpectEveryByteFlipRefused(roster, [&](const v1::Signed& damaged) {
    return ErrorCode(VerifyRoster(damaged, ejn_.root().public_key(), "ejn", kNow));
  });
}

TEST_F(TrustRosterTest, CertificateOfAnotherNetworkRefused) {
  // A root that also signs for another network id cannot slip those certificates into this one.
  v1::Certificate foreign = ejn_.CertificateFor("IT-MG", Identity::Generate().public_identity());
  foreign.set_network_id("iberred");
  v1::Roster body = ejn_.NextRoster();
  *body.add_certificates() = SignCertificate(ejn_.root(), foreign);
  EXPECT_EQ(ErrorCode(VerifyRoster(SignRoster(ejn_.root(), body), ejn_.root().public_key(), "ejn", kNow)),
            TrustCode::kMalformed);
}

// `body` signed as a roster by `root`: for bodies SignRoster cannot express (padding).
v1::Signed SignedRosterBody(const SigningKey& root, std::string body) {
  v1::Signed roster;
  roster.set_signature(AsString(root.Sign(kDomainRoster, AsBytes(body))));
  roster.set_body(std::move(body));
  return roster;
}

TEST_F(TrustRosterTest, OversizedRosterIsMalformed) {
  // Padding with an unknown field keeps the meaning: a body of exactly kMaxRosterSize
  // verifies, one byte more is refused before its signature is even checked.
  TrustStore store;
  ASSERT_TRUE(store.TrustRoot(ejn_.root_key()).ok());
  const std::string body = ejn_.NextRoster().SerializeAsString();
  const v1::Signed at_limit = SignedRosterBody(ejn_.root(), test::PaddedTo(body, kMaxRosterSize));
  ASSERT_EQ(at_limit.body().size(), kMaxRosterSize);
  auto verified = VerifyRoster(at_limit, ejn_.root().public_key(), "ejn", kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->members.size(), 3u);

  const v1::Signed over_limit = SignedRosterBody(ejn_.root(), test::PaddedTo(body, kMaxRosterSize + 1));
  ASSERT_EQ(over_limit.body().size(), kMaxRosterSize + 1);
  auto refused = VerifyRoster(over_limit, ejn_.root().public_key(), "ejn", kNow);
  ASSERT_EQ(ErrorCode(refused), TrustCode::kMalformed);
  EXPECT_NE(refused.error().message.find("4 MiB"), std::string::npos) << refused.error().message;
  EXPECT_EQ(ErrorCode(store.AcceptRoster(over_limit, kNow)), TrustCode::kMalformed);
  EXPECT_EQ(store.network("ejn")->version(), 0u);
  EXPECT_TRUE(store.AcceptRoster(at_limit, kNow).ok());
}

TEST_F(TrustRosterTest, TooManyCertificatesRevocationsOrBridgesAreMalformed) {
  auto verify = [&](const v1::Roster& body) {
    return VerifyRoster(SignRoster(ejn_.root(), body), ejn_.root().public_key(), "ejn", kNow);
  };
  auto expect_refused = [&](const v1::Roster& body, const std::string& what) {
    auto refused = verify(body);
    ASSERT_EQ(ErrorCode(refused), TrustCode::kMalformed) << what;
    EXPECT_NE(refused.error().message.find(what), std::string::npos) << refused.error().message;
  };
  // Certificates: one over the limit is refused on the count alone (these are 10,001 copies
  // of one certificate, which would otherwise be a duplicate member).
  v1::Roster certificates = ejn_.NextRoster();
  while (certificates.certificates_size() <= kMaxRosterCertificates) {
    *certificates.add_certificates() = ejn_.member("ES-MJ").signed_certificate;
  }
  ASSERT_LT(certificates.ByteSizeLong(), kMaxRosterSize);
  expect_refused(certificates, "10000 certificates");

  // Revocations and bridges: the limit itself is accepted, one more is not.
  v1::Roster revocations = ejn_.NextRoster();
  v1::Revocation rev;
  rev.set_member_id("XX-GONE");
  rev.set_sign_ed25519(std::string(32, 'k'));
  rev.set_reason("keys lost");
  while (revocations.revocations_size() < kMaxRosterRevocations) *revocations.add_revocations() = rev;
  EXPECT_TRUE(verify(revocations).ok());
  *revocations.add_revocations() = rev;
  expect_refused(revocations, "10000 revocations");

  v1::Roster bridges = ejn_.NextRoster();
  for (int i = 0; i < kMaxRosterBridges; ++i) {
    v1::Bridge* b = bridges.add_bridges();
    b->set_network_id("net-" + std::to_string(i));
    b->set_root_key(AsString(SigningKey::Generate().public_key()));
  }
  EXPECT_TRUE(verify(bridges).ok());
  *bridges.add_bridges() = bridges.bridges(0);
  expect_refused(bridges, "64 bridges");
}

TEST_F(TrustRosterTest, RevocationReasonMustBePrintableAndAtMost1000Bytes) {
  auto with_reason = [&](const std::string& reason) {
    ejn_.Revoke("DE-BMJ");
    v1::Roster body = ejn_.NextRoster();
    body.mutable_revocations(0)->set_reason(reason);
    return ErrorCode(VerifyRoster(SignRoster(ejn_.root(), body), ejn_.root().public_key(), "ejn", kNow));
  };
  EXPECT_EQ(with_reason(""), std::nullopt);
  EXPECT_EQ(with_reason(std::string(1000, 'r')), std::nullopt);
  EXPECT_EQ(with_reason("cl\xc3\xa9s perdues"), std::nullopt);
  EXPECT_EQ(with_reason(std::string(1001, 'r')), TrustCode::kMalformed);
  EXPECT_EQ(with_reason("keys lost\nFR-MJ revoked too"), TrustCode::kMalformed);
  EXPECT_EQ(with_reason("\x1b[31mkeys lost"), TrustCode::kMalformed);
  EXPECT_EQ(with_reason("keys \xe2\x80\xaelost"), TrustCode::kMalformed);
}

// ---------------------------------------------------------------------------------------------
// TrustStore: accepting rosters

class TrustStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ejn_.Admit("ES-MJ");
    ejn_.Admit("FR-MJ");
  }
  // A store that trusts ejn's root and holds no roster yet.
  TrustStore Trusting() {
    TrustStore store;
    auto trusted = store.TrustRoot(ejn_.root_key());
    EXPECT_TRUE(trusted.ok()) << trusted.error().message;
    return store;
  }
  TestNetwork ejn_{"ejn"};
};

TEST_F(TrustStoreTest, AcceptedRosterMakesMembersVerify) {
  TrustStore store = Trusting();
  auto accepted = store.AcceptRoster(ejn_.Publish(), kNow);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(*accepted, "ejn");
  ASSERT_NE(store.network("ejn"), nullptr);
  EXPECT_EQ(store.network("ejn")->version(), 1u);

  for (const std::string id : {"ES-MJ", "FR-MJ"}) {
    auto by_certificate = store.VerifyMember(ejn_.member(id).signed_certificate, kNow);
    ASSERT_TRUE(by_certificate.ok()) << id << ": " << by_certificate.error().message;
    EXPECT_EQ(by_certificate->member_id(), id);
    auto by_party = store.FindMember(Party("ejn", id), kNow);
    ASSERT_TRUE(by_party.ok()) << id << ": " << by_party.error().message;
    EXPECT_EQ(by_party->keys().sign_ed25519(), ejn_.member(id).certificate.keys().sign_ed25519());
    const v1::Signed* signed_cert = store.SignedCertificateOf(Party("ejn", id));
    ASSERT_NE(signed_cert, nullptr);
    EXPECT_EQ(signed_cert->SerializeAsString(), ejn_.member(id).signed_certificate.SerializeAsString());
  }
  EXPECT_EQ(ErrorCode(store.FindMember(Party("ejn", "IT-MG"), kNow)), TrustCode::kUnknownMember);
  EXPECT_EQ(ErrorCode(store.FindMember(Party("iberred", "ES-MJ"), kNow)), TrustCode::kUnknownRoot);
}

TEST_F(TrustStoreTest, MembersDoNotVerifyBeforeARosterIsHeld) {
  TrustStore store = Trusting();
  EXPECT_EQ(ErrorCode(store.VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow)),
            TrustCode::kUnknownMember);
}

TEST_F(TrustStoreTest, CertificateNotInRosterIsUnknownMember) {
  // Signed by the right root, but never published: the roster, not the root alone, decides.
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const auto& late = ejn_.Admit("IT-MG");
  EXPECT_EQ(ErrorCode(store.VerifyMember(late.signed_certificate, kNow)), TrustCode::kUnknownMember);
}

TEST_F(TrustStoreTest, EverySingleByteFlipOfAMemberCertificateRefused) {
  // A damaged certificate is not provably from any trusted root, even though its exact
  // original is in the held roster.
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const v1::Signed& original = ejn_.member("ES-MJ").signed_certificate;
  ASSERT_TRUE(store.VerifyMember(original, kNow).ok());
  std::size_t verified = 0;
  ForEachByteFlip(original.SerializeAsString(), [&](const std::string& where, const std::string& damaged) {
    v1::Signed parsed;
    if (!parsed.ParseFromString(damaged)) return;
    ++verified;
    std::optional<TrustCode> code = ErrorCode(store.VerifyMember(parsed, kNow));
    EXPECT_TRUE(code == TrustCode::kUnknownRoot || code == TrustCode::kBadSignature ||
                code == TrustCode::kMalformed)
        << where << ": " << (code ? TrustCodeName(*code) : "accepted");
  });
  EXPECT_GE(verified, original.body().size());
}

TEST_F(TrustStoreTest, OlderVersionIsRollback) {
  TrustStore store = Trusting();
  const v1::Signed v1 = ejn_.Publish();
  const v1::Signed v2 = ejn_.Publish();
  ASSERT_TRUE(store.AcceptRoster(v2, kNow).ok());
  EXPECT_EQ(ErrorCode(store.AcceptRoster(v1, kNow)), TrustCode::kRollback);
  EXPECT_EQ(store.network("ejn")->version(), 2u);
}

TEST_F(TrustStoreTest, SameRosterAgainIsNoOp) {
  TrustStore store = Trusting();
  const v1::Signed roster = ejn_.Publish();
  ASSERT_TRUE(store.AcceptRoster(roster, kNow).ok());
  auto again = store.AcceptRoster(roster, kNow + 60);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, "ejn");
  EXPECT_EQ(store.network("ejn")->version(), 1u);
  EXPECT_TRUE(store.VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow).ok());
}

TEST_F(TrustStoreTest, SameVersionOtherContentIsRollback) {
  TrustStore store = Trusting();
  const v1::Roster first = ejn_.NextRoster(kNow);
  ASSERT_TRUE(store.AcceptRoster(SignRoster(ejn_.root(), first), kNow).ok());

  v1::Roster rival = first;  // version 1 again, with one more member
  *rival.add_certificates() = ejn_.Admit("IT-MG").signed_certificate;
  EXPECT_EQ(ErrorCode(store.AcceptRoster(SignRoster(ejn_.root(), rival), kNow)), TrustCode::kRollback);
  EXPECT_EQ(ErrorCode(store.VerifyMember(ejn_.member("IT-MG").signed_certificate, kNow)),
            TrustCode::kUnknownMember);
}

TEST_F(TrustStoreTest, NewerVersionReplacesOlder) {
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const auto& added = ejn_.Admit("IT-MG");
  auto accepted = store.AcceptRoster(ejn_.Publish(), kNow);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(store.network("ejn")->version(), 2u);
  EXPECT_TRUE(store.VerifyMember(added.signed_certificate, kNow).ok());
}

TEST_F(TrustStoreTest, RosterOfUntrustedRootIsUnknownRoot) {
  TrustStore store = Trusting();
  TestNetwork stranger("wacap");
  stranger.Admit("NG-FMJ");
  EXPECT_EQ(ErrorCode(store.AcceptRoster(stranger.Publish(), kNow)), TrustCode::kUnknownRoot);
  EXPECT_EQ(ErrorCode(store.VerifyMember(stranger.member("NG-FMJ").signed_certificate, kNow)),
            TrustCode::kUnknownRoot);
}

TEST_F(TrustStoreTest, RootWithAnotherKeyForATrustedNetworkRefused) {
  TrustStore store = Trusting();
  TestNetwork impostor("ejn");
  EXPECT_EQ(ErrorCode(store.TrustRoot(impostor.root_key())), TrustCode::kUnknownRoot);
  EXPECT_TRUE(store.TrustRoot(ejn_.root_key()).ok());  // the same key again is fine
}

TEST_F(TrustStoreTest, DuplicateMemberIdRefused) {
  TrustStore store = Trusting();
  v1::Roster body = ejn_.NextRoster();
  v1::Certificate twin = ejn_.CertificateFor("ES-MJ", Identity::Generate().public_identity());
  *body.add_certificates() = SignCertificate(ejn_.root(), twin);
  EXPECT_EQ(ErrorCode(store.AcceptRoster(SignRoster(ejn_.root(), body), kNow)), TrustCode::kDuplicate);
}

TEST_F(TrustStoreTest, DuplicateKeyAcrossMembersRefused) {
  TrustStore store = Trusting();
  v1::Roster body = ejn_.NextRoster();
  v1::Certificate copycat =
      ejn_.CertificateFor("IT-MG", ejn_.member("FR-MJ").identity.public_identity());
  *body.add_certificates() = SignCertificate(ejn_.root(), copycat);
  EXPECT_EQ(ErrorCode(store.AcceptRoster(SignRoster(ejn_.root(), body), kNow)), TrustCode::kDuplicate);
}

TEST_F(TrustStoreTest, RosterIssuedBeyondClockSkewIsNotYetValid) {
  TrustStore store = Trusting();
  const v1::Signed too_early = SignRoster(ejn_.root(), ejn_.NextRoster(kNow + kMaxClockSkewSeconds + 1));
  EXPECT_EQ(ErrorCode(store.AcceptRoster(too_early, kNow)), TrustCode::kNotYetValid);
  // Within the tolerated skew it is accepted.
  auto within = store.AcceptRoster(SignRoster(ejn_.root(), ejn_.NextRoster(kNow + kMaxClockSkewSeconds)), kNow);
  EXPECT_TRUE(within.ok()) << within.error().message;
}

// ---------------------------------------------------------------------------------------------
// TrustStore: a member's standing

TEST_F(TrustStoreTest, ExpiredCertificate) {
  const auto& member = ejn_.Admit("IT-MG", {kNow - kDay, kNow});
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  EXPECT_TRUE(store.VerifyMember(member.signed_certificate, kNow - 1).ok());
  EXPECT_EQ(ErrorCode(store.VerifyMember(member.signed_certificate, kNow)), TrustCode::kExpired);
  EXPECT_EQ(ErrorCode(store.FindMember(member.party(), kNow)), TrustCode::kExpired);
}

TEST_F(TrustStoreTest, NotYetValidCertificate) {
  const auto& member = ejn_.Admit("IT-MG", {kNow + 1, kNow + kDay});
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  EXPECT_EQ(ErrorCode(store.VerifyMember(member.signed_certificate, kNow)), TrustCode::kNotYetValid);
  EXPECT_EQ(ErrorCode(store.FindMember(member.party(), kNow)), TrustCode::kNotYetValid);
  EXPECT_TRUE(store.VerifyMember(member.signed_certificate, kNow + 1).ok());
}

TEST_F(TrustStoreTest, RevokedMember) {
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const v1::Signed old_certificate = ejn_.member("FR-MJ").signed_certificate;
  ASSERT_TRUE(store.VerifyMember(old_certificate, kNow).ok());

  ejn_.Revoke("FR-MJ");
  const v1::Signed v2 = ejn_.Publish();
  ASSERT_TRUE(store.AcceptRoster(v2, kNow).ok());
  EXPECT_EQ(ErrorCode(store.VerifyMember(old_certificate, kNow)), TrustCode::kRevoked);
  EXPECT_EQ(ErrorCode(store.FindMember(Party("ejn", "FR-MJ"), kNow)), TrustCode::kRevoked);
  EXPECT_EQ(store.SignedCertificateOf(Party("ejn", "FR-MJ")), nullptr);
  EXPECT_TRUE(store.VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow).ok());
}

TEST_F(TrustStoreTest, SupersededCertificateIsUnknownMember) {
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const v1::Signed old_certificate = ejn_.member("FR-MJ").signed_certificate;
  const auto& reissued = ejn_.Admit("FR-MJ");  // new keys, same member id
  ASSERT_TRUE(store.AcceptRoster(ejn_.Publish(), kNow).ok());

  EXPECT_EQ(ErrorCode(store.VerifyMember(old_certificate, kNow)), TrustCode::kUnknownMember);
  auto current = store.FindMember(Party("ejn", "FR-MJ"), kNow);
  ASSERT_TRUE(current.ok()) << current.error().message;
  EXPECT_EQ(current->keys().sign_ed25519(), reissued.certificate.keys().sign_ed25519());
}

TEST_F(TrustStoreTest, ReissuedAfterRevocationVerifies) {
  // Keys compromised: the coordinator revokes the old certificate and admits the member again
  // with new keys. The revocation names the old signing key, so only that certificate is revoked.
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  const v1::Signed compromised = ejn_.member("FR-MJ").signed_certificate;
  ejn_.Revoke("FR-MJ");
  const auto& reissued = ejn_.Admit("FR-MJ");
  ASSERT_TRUE(store.AcceptRoster(ejn_.Publish(), kNow).ok());

  EXPECT_EQ(ErrorCode(store.VerifyMember(compromised, kNow)), TrustCode::kRevoked);
  auto current = store.VerifyMember(reissued.signed_certificate, kNow);
  ASSERT_TRUE(current.ok()) << current.error().message;
  auto found = store.FindMember(Party("ejn", "FR-MJ"), kNow);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found->keys().sign_ed25519(), reissued.certificate.keys().sign_ed25519());
}

TEST_F(TrustStoreTest, FindMemberMessagesDoNotEchoControlCharacters) {
  TrustStore store = TrustingOnly(ejn_, ejn_.Publish());
  for (const v1::Party& party : {Party("ejn", "ES-MJ\n\x1b[2J"), Party("ejn\x1b]0;x\x07", "ES-MJ")}) {
    auto found = store.FindMember(party, kNow);
    ASSERT_FALSE(found.ok());
    EXPECT_TRUE(IsPrintableUtf8(found.error().message)) << EscapeForDisplay(found.error().message);
  }
}

// ---------------------------------------------------------------------------------------------
// Bridges: ejn's roster bridges iberred; wacap is bridged by nobody.

class TrustBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ejn_.Admit("ES-MJ");
    iberred_.Admit("AR-MJ");
    wacap_.Admit("NG-FMJ");
    ejn_.AddBridge(iberred_);
    ejn_v1_ = ejn_.Publish();
    store_ = TrustingOnly(ejn_, ejn_v1_);
  }
  TestNetwork ejn_{"ejn"};
  TestNetwork iberred_{"iberred"};
  TestNetwork wacap_{"wacap"};
  v1::Signed ejn_v1_;
  TrustStore store_;
};

TEST_F(TrustBridgeTest, BridgedRosterAcceptedWithoutItsRoot) {
  const TrustedNetworkView* bridged = store_.network("iberred");
  ASSERT_NE(bridged, nullptr);
  EXPECT_FALSE(bridged->direct);

  auto accepted = store_.AcceptRoster(iberred_.Publish(), kNow);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(*accepted, "iberred");
  auto member = store_.VerifyMember(iberred_.member("AR-MJ").signed_certificate, kNow);
  ASSERT_TRUE(member.ok()) << member.error().message;
  EXPECT_EQ(member->network_id(), "iberred");
  EXPECT_TRUE(store_.FindMember(Party("iberred", "AR-MJ"), kNow).ok());
}

TEST_F(TrustBridgeTest, UnbridgedNetworkIsUnknownRoot) {
  EXPECT_EQ(store_.network("wacap"), nullptr);
  EXPECT_EQ(ErrorCode(store_.AcceptRoster(wacap_.Publish(), kNow)), TrustCode::kUnknownRoot);
  EXPECT_EQ(ErrorCode(store_.VerifyMember(wacap_.member("NG-FMJ").signed_certificate, kNow)),
            TrustCode::kUnknownRoot);
  EXPECT_EQ(ErrorCode(store_.FindMember(Party("wacap", "NG-FMJ"), kNow)), TrustCode::kUnknownRoot);
}

TEST_F(TrustBridgeTest, BridgesAreNotTransitive) {
  // iberred bridging wacap does not make wacap reachable from a node that trusts only ejn.
  iberred_.AddBridge(wacap_);
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  EXPECT_EQ(ErrorCode(store_.AcceptRoster(wacap_.Publish(), kNow)), TrustCode::kUnknownRoot);
}

TEST_F(TrustBridgeTest, WithdrawnBridgeStopsVerification) {
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  const v1::Signed& argentina = iberred_.member("AR-MJ").signed_certificate;
  ASSERT_TRUE(store_.VerifyMember(argentina, kNow).ok());

  ejn_.RemoveBridge("iberred");
  ASSERT_TRUE(store_.AcceptRoster(ejn_.Publish(), kNow).ok());
  EXPECT_EQ(store_.network("iberred"), nullptr);
  EXPECT_EQ(ErrorCode(store_.VerifyMember(argentina, kNow)), TrustCode::kUnknownRoot);
  EXPECT_EQ(ErrorCode(store_.AcceptRoster(iberred_.Publish(), kNow)), TrustCode::kUnknownRoot);
}

TEST_F(TrustBridgeTest, PromotingABridgedNetworkToDirectHonoursItsBridges) {
  iberred_.AddBridge(wacap_);
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  const v1::Signed wacap_roster = wacap_.Publish();
  EXPECT_EQ(ErrorCode(store_.AcceptRoster(wacap_roster, kNow)), TrustCode::kUnknownRoot);

  ASSERT_TRUE(store_.TrustRoot(iberred_.root_key()).ok());  // iberred's root now configured too
  EXPECT_TRUE(store_.network("iberred")->direct);
  auto accepted = store_.AcceptRoster(wacap_roster, kNow);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_TRUE(store_.VerifyMember(wacap_.member("NG-FMJ").signed_certificate, kNow).ok());
}

TEST_F(TrustBridgeTest, OneRootKeyCannotServeTwoNetworkIds) {
  v1::RootKey alias = ejn_.root_key();
  alias.set_network_id("ejn-alias");
  EXPECT_EQ(ErrorCode(store_.TrustRoot(alias)), TrustCode::kDuplicate);
}

// ---------------------------------------------------------------------------------------------
// Persistence, with the same three networks: Save() and Load() must keep bridges working.

class TrustPersistenceTest : public TrustBridgeTest {};

TEST_F(TrustPersistenceTest, SaveLoadRoundTripKeepsEverythingVerifiable) {
  ejn_.Admit("FR-MJ");
  ejn_.Revoke("FR-MJ");
  const v1::Signed revoked = ejn_.member("FR-MJ").signed_certificate;
  const v1::Signed ejn_v2 = ejn_.Publish();
  ASSERT_TRUE(store_.AcceptRoster(ejn_v2, kNow).ok());
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());

  v1::TrustState state;
  ASSERT_TRUE(state.ParseFromString(store_.Save().SerializeAsString()));  // as read back from disk
  auto loaded = TrustStore::Load(state);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;

  ASSERT_NE(loaded->network("ejn"), nullptr);
  EXPECT_TRUE(loaded->network("ejn")->direct);
  EXPECT_EQ(loaded->network("ejn")->version(), 2u);
  ASSERT_NE(loaded->network("iberred"), nullptr);
  EXPECT_FALSE(loaded->network("iberred")->direct);
  EXPECT_EQ(loaded->network("iberred")->version(), 1u);
  EXPECT_TRUE(loaded->VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow).ok());
  EXPECT_TRUE(loaded->VerifyMember(iberred_.member("AR-MJ").signed_certificate, kNow).ok());
  EXPECT_EQ(ErrorCode(loaded->VerifyMember(revoked, kNow)), TrustCode::kRevoked);
  EXPECT_TRUE(loaded->AcceptRoster(ejn_v2, kNow).ok());  // the held roster again: a no-op
  EXPECT_EQ(ErrorCode(loaded->AcceptRoster(ejn_v1_, kNow)), TrustCode::kRollback);
}

TEST_F(TrustPersistenceTest, LoadForgetsANetworkWhoseBridgeIsGone) {
  // Saved while iberred was bridged; ejn's roster in the state has since dropped the bridge.
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  v1::TrustState state = store_.Save();
  ejn_.RemoveBridge("iberred");
  const v1::Signed unbridged = ejn_.Publish();
  for (v1::TrustedNetwork& net : *state.mutable_networks()) {
    if (net.network_id() == "ejn") *net.mutable_roster() = unbridged;
  }
  auto loaded = TrustStore::Load(state);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->network("iberred"), nullptr);
  EXPECT_EQ(ErrorCode(loaded->VerifyMember(iberred_.member("AR-MJ").signed_certificate, kNow)),
            TrustCode::kUnknownRoot);
  EXPECT_TRUE(loaded->VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow).ok());
}

TEST_F(TrustPersistenceTest, LoadKeepsAConfiguredRootThatAnotherNetworkBridgesWithAnotherKey) {
  // "aaa" sorts before "ejn" and bridges an impostor that claims the id "ejn".
  TestNetwork early("aaa");
  TestNetwork impostor("ejn");
  early.AddBridge(impostor);
  ASSERT_TRUE(store_.TrustRoot(early.root_key()).ok());
  ASSERT_TRUE(store_.AcceptRoster(early.Publish(), kNow).ok());
  EXPECT_TRUE(store_.network("ejn")->direct);

  auto loaded = TrustStore::Load(store_.Save());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(ConstantTimeEqual(loaded->network("ejn")->root_key, ejn_.root().public_key()));
  EXPECT_TRUE(loaded->VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow).ok());
}

TEST_F(TrustPersistenceTest, LoadSurvivesAClockThatSteppedBack) {
  // Accepted while the clock said 1 January 2100; the clock has since been set back to 2025.
  // Load must not apply the issue-time check with any clock: a roster issued this far ahead
  // of the machine's real time, and of kNow, only loads if no skew check runs at all.
  constexpr std::int64_t kYear2100 = 4'102'444'800;
  const v1::Signed ahead = ejn_.Publish(kYear2100);
  ASSERT_EQ(ErrorCode(VerifyRoster(ahead, ejn_.root().public_key(), "ejn", kNow)), TrustCode::kNotYetValid);
  ASSERT_TRUE(store_.AcceptRoster(ahead, kYear2100).ok());
  auto loaded = TrustStore::Load(store_.Save());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->network("ejn")->version(), 2u);
  EXPECT_TRUE(loaded->VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow - 3600).ok());
}

TEST_F(TrustPersistenceTest, SavedStateStaysWithinItsBound) {
  // kMaxTrustStateSize allows each network its roster plus 1 KiB of framing.
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  const v1::TrustState state = store_.Save();
  std::size_t rosters = 0;
  for (const v1::TrustedNetwork& net : state.networks()) rosters += net.roster().body().size();
  EXPECT_LE(state.ByteSizeLong(), rosters + 1024 * static_cast<std::size_t>(state.networks_size()));
}

TEST_F(TrustPersistenceTest, LoadOfTamperedStateFails) {
  ASSERT_TRUE(store_.AcceptRoster(iberred_.Publish(), kNow).ok());
  const v1::TrustState saved = store_.Save();
  ASSERT_TRUE(TrustStore::Load(saved).ok());

  auto tampered = [&](const std::string& network_id, auto change) {
    v1::TrustState state = saved;
    for (v1::TrustedNetwork& net : *state.mutable_networks()) {
      if (net.network_id() == network_id) change(net);
    }
    return TrustStore::Load(state);
  };
  auto flip_roster_byte = [](v1::TrustedNetwork& net) {
    std::string& body = *net.mutable_roster()->mutable_body();
    body[body.size() / 2] = static_cast<char>(body[body.size() / 2] ^ 0x01);
  };
  auto swap_root = [&](v1::TrustedNetwork& net) { net.set_root_key(AsString(wacap_.root().public_key())); };
  auto foreign_roster = [&](v1::TrustedNetwork& net) { *net.mutable_roster() = wacap_.Publish(); };

  EXPECT_FALSE(tampered("ejn", flip_roster_byte).ok());
  EXPECT_FALSE(tampered("iberred", flip_roster_byte).ok());
  EXPECT_FALSE(tampered("ejn", swap_root).ok());
  EXPECT_FALSE(tampered("iberred", foreign_roster).ok());

  v1::TrustState wrong_format = saved;
  wrong_format.set_format(2);
  EXPECT_EQ(ErrorCode(TrustStore::Load(wrong_format)), TrustCode::kMalformed);
}

// ---------------------------------------------------------------------------------------------
// Capacity: a store holds at most kMaxTrustedNetworks networks.

// `count` networks named "net-00", "net-01", ... (ascending id order), each with its roster.
class TrustCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kMaxRosterBridges; ++i) {
      std::string id = (i < 10 ? "net-0" : "net-") + std::to_string(i);
      others_.push_back(std::make_unique<TestNetwork>(id));
      others_.back()->Admit("XX-" + std::to_string(i));
      hub_.AddBridge(*others_.back());
    }
  }
  std::size_t Bridged(const TrustStore& store) const {
    return static_cast<std::size_t>(std::count_if(store.networks().begin(), store.networks().end(),
                                                   [](const auto& entry) { return !entry.second.direct; }));
  }
  TestNetwork hub_{"hub"};  // bridges all 64 others
  std::vector<std::unique_ptr<TestNetwork>> others_;
};

TEST_F(TrustCapacityTest, BridgesBeyondCapacityAreIgnoredInIdOrder) {
  // hub plus 64 bridged networks would be 65: the one with the highest id is left out.
  TrustStore store = TrustingOnly(hub_, hub_.Publish());
  EXPECT_EQ(store.networks().size(), kMaxTrustedNetworks);
  EXPECT_EQ(Bridged(store), kMaxTrustedNetworks - 1);
  EXPECT_NE(store.network("net-62"), nullptr);
  EXPECT_EQ(store.network("net-63"), nullptr);
  EXPECT_TRUE(store.AcceptRoster(others_[62]->Publish(), kNow).ok());
  EXPECT_EQ(ErrorCode(store.AcceptRoster(others_[63]->Publish(), kNow)), TrustCode::kUnknownRoot);

  // A bridge withdrawn frees a place: the ignored network takes it.
  hub_.RemoveBridge("net-00");
  ASSERT_TRUE(store.AcceptRoster(hub_.Publish(), kNow).ok());
  EXPECT_EQ(store.networks().size(), kMaxTrustedNetworks);
  EXPECT_EQ(store.network("net-00"), nullptr);
  EXPECT_NE(store.network("net-63"), nullptr);
  EXPECT_TRUE(store.AcceptRoster(others_[63]->Publish(), kNow).ok());
}

TEST_F(TrustCapacityTest, DirectRootTakesThePlaceOfTheLastBridgedNetwork) {
  TrustStore store = TrustingOnly(hub_, hub_.Publish());
  ASSERT_TRUE(store.AcceptRoster(others_[62]->Publish(), kNow).ok());
  TestNetwork configured("aaa");
  ASSERT_TRUE(store.TrustRoot(configured.root_key()).ok());
  EXPECT_EQ(store.networks().size(), kMaxTrustedNetworks);
  EXPECT_EQ(Bridged(store), kMaxTrustedNetworks - 2);
  EXPECT_EQ(store.network("net-62"), nullptr);  // its roster is forgotten with it
  EXPECT_NE(store.network("net-61"), nullptr);
  EXPECT_TRUE(store.AcceptRoster(configured.Publish(), kNow).ok());
}

TEST_F(TrustCapacityTest, RootBeyondCapacityRefused) {
  // 64 configured roots fill the store: every bridge is ignored, a 65th root is refused.
  TrustStore store = TrustingOnly(hub_, hub_.Publish());
  for (int i = 0; i < static_cast<int>(kMaxTrustedNetworks) - 1; ++i) {
    auto trusted = store.TrustRoot(others_[static_cast<std::size_t>(i)]->root_key());
    ASSERT_TRUE(trusted.ok()) << i << ": " << trusted.error().message;
  }
  EXPECT_EQ(store.networks().size(), kMaxTrustedNetworks);
  EXPECT_EQ(Bridged(store), 0u);
  auto refused = store.TrustRoot(others_[63]->root_key());
  ASSERT_EQ(ErrorCode(refused), TrustCode::kMalformed);
  EXPECT_NE(refused.error().message.find("64"), std::string::npos) << refused.error().message;
  EXPECT_EQ(store.network("net-63"), nullptr);
  EXPECT_TRUE(store.TrustRoot(others_[0]->root_key()).ok());  // one already trusted: still fine
}

TEST_F(TrustCapacityTest, ChoiceDoesNotDependOnHistory) {
  // net-63 takes the place net-00 left; when net-00 is bridged again, the lower id wins
  // back its place, as it would in a store that saw only the latest roster. So a store loads
  // from trust.pb with exactly the networks it saved.
  TrustStore store = TrustingOnly(hub_, hub_.Publish());
  ASSERT_TRUE(store.AcceptRoster(others_[1]->Publish(), kNow).ok());
  hub_.RemoveBridge("net-00");
  ASSERT_TRUE(store.AcceptRoster(hub_.Publish(), kNow).ok());
  ASSERT_TRUE(store.AcceptRoster(others_[63]->Publish(), kNow).ok());
  hub_.AddBridge(*others_[0]);
  ASSERT_TRUE(store.AcceptRoster(hub_.Publish(), kNow).ok());
  EXPECT_NE(store.network("net-00"), nullptr);
  EXPECT_EQ(store.network("net-63"), nullptr);
  EXPECT_EQ(ErrorCode(store.VerifyMember(others_[63]->member("XX-63").signed_certificate, kNow)),
            TrustCode::kUnknownRoot);

  auto loaded = TrustStore::Load(store.Save());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::vector<std::string> before;
  std::vector<std::string> after;
  for (const auto& [id, net] : store.networks()) before.push_back(id);
  for (const auto& [id, net] : loaded->networks()) after.push_back(id);
  EXPECT_EQ(after, before);
  EXPECT_TRUE(loaded->VerifyMember(others_[1]->member("XX-1").signed_certificate, kNow).ok());
}

TEST_F(TrustCapacityTest, LoadRefusesAStateWithTooManyNetworks) {
  TrustStore store = TrustingOnly(hub_, hub_.Publish());
  v1::TrustState state = store.Save();
  ASSERT_EQ(static_cast<std::size_t>(state.networks_size()), kMaxTrustedNetworks);
  ASSERT_TRUE(TrustStore::Load(state).ok());
  v1::TrustedNetwork* extra = state.add_networks();
  extra->set_network_id("net-63");
  extra->set_root_key(AsString(others_[63]->root().public_key()));
  EXPECT_EQ(ErrorCode(TrustStore::Load(state)), TrustCode::kMalformed);
}

}  // namespace
}  // namespace comity::crypto
