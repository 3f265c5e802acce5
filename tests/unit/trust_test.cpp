// Tests of crypto/trust: enrollment requests, certificates, rosters, and a node's TrustStore
// (rollback, revocation, supersession, validity windows, bridges, persistence).
#include "crypto/trust.h"

#include <gtest/gtest.h>

#include <string>

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
  // Accepted within the tolerated skew; the clock is then set back an hour.
  const v1::Signed ahead = ejn_.Publish(kNow + kMaxClockSkewSeconds);
  ASSERT_TRUE(store_.AcceptRoster(ahead, kNow).ok());
  auto loaded = TrustStore::Load(store_.Save());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->network("ejn")->version(), 2u);
  EXPECT_TRUE(loaded->VerifyMember(ejn_.member("ES-MJ").signed_certificate, kNow - 3600).ok());
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

}  // namespace
}  // namespace comity::crypto
