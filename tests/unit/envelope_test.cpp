// Tests of crypto/envelope: multi-recipient Seal/Open, and which check refuses each kind of
// damage or forgery (format, signature, sender standing, expiry, recipient, key, ciphertext).
#include "crypto/envelope.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/test_network.h"

namespace comity::crypto {
namespace {

using test::ErrorCode;
using test::ForEachByteFlip;
using test::kDay;
using test::kNow;
using test::TestMember;
using test::TestNetwork;
using test::TrustingOnly;

const Bytes kPlaintext = ToBytes("Draft request for mutual legal assistance, version 3.");

std::vector<Recipient> RecipientsOf(const std::vector<const TestMember*>& members) {
  std::vector<Recipient> out;
  for (const TestMember* m : members) out.push_back(RecipientOf(m->certificate));
  return out;
}

// A draft request that expires in 30 days.
SealOptions DefaultOptions() {
  SealOptions options;
  options.created_at = kNow;
  options.expires_at = kNow + 30 * kDay;
  options.content_type = "application/vnd.comity.draft";
  return options;
}

// Network "ejn": ES-MJ sends; FR-MJ, DE-BMJ and IT-MG receive; PT-PGR is a member who is
// not addressed. Every reader's TrustStore holds the same roster.
class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"ES-MJ", "FR-MJ", "DE-BMJ", "IT-MG", "PT-PGR"}) ejn_.Admit(id);
    trust_ = TrustingOnly(ejn_, ejn_.Publish());
  }

  const TestMember& member(const std::string& id) const { return ejn_.member(id); }

  // An envelope from ES-MJ to `to`.
  Bytes SealFromSpain(const std::vector<std::string>& to, SealOptions options = DefaultOptions(),
                      const Bytes& plaintext = kPlaintext) {
    std::vector<const TestMember*> members;
    for (const std::string& id : to) members.push_back(&member(id));
    auto sealed = Seal(member("ES-MJ").identity, member("ES-MJ").party(), RecipientsOf(members),
                       options, plaintext);
    EXPECT_TRUE(sealed.ok()) << sealed.error().message;
    return sealed.ok() ? sealed.value() : Bytes{};
  }

  // Opens `envelope` as member `reader`, the sender claiming ES-MJ's certificate.
  Result<Opened, OpenError> OpenAs(const std::string& reader, ByteView envelope,
                                   std::int64_t now = kNow) const {
    return Open(member(reader).identity, member(reader).party(), envelope,
                member("ES-MJ").signed_certificate, trust_, now);
  }

  TestNetwork ejn_{"ejn"};
  TrustStore trust_;
};

// The parsed layers of a sealed envelope, to forge variants and sign them with a real key.
struct Layers {
  v1::EnvelopeBody body;
  v1::EnvelopeHeader header;
};

Layers Peel(ByteView envelope) {
  v1::Signed outer;
  Layers layers;
  EXPECT_TRUE(outer.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
  EXPECT_TRUE(layers.body.ParseFromString(outer.body()));
  EXPECT_TRUE(layers.header.ParseFromString(layers.body.header()));
  return layers;
}

// Signs `body` as `signer` would: a validly signed envelope whose content the signer altered.
Bytes Resign(const Identity& signer, const v1::EnvelopeBody& body) {
  v1::Signed outer;
  outer.set_body(body.SerializeAsString());
  outer.set_signature(AsString(signer.Sign(kDomainEnvelope, AsBytes(outer.body()))));
  return ToBytes(outer.SerializeAsString());
}

TEST_F(EnvelopeTest, OneRecipientOpens) {
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  auto opened = OpenAs("FR-MJ", envelope);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
  EXPECT_EQ(opened->header.version(), 1u);
  EXPECT_EQ(opened->header.sender().member_id(), "ES-MJ");
  EXPECT_EQ(opened->header.sender().network_id(), "ejn");
  ASSERT_EQ(opened->header.recipients_size(), 1);
  EXPECT_EQ(opened->header.recipients(0).member_id(), "FR-MJ");
  EXPECT_EQ(opened->header.created_at(), kNow);
  EXPECT_EQ(opened->header.expires_at(), kNow + 30 * kDay);
  EXPECT_EQ(opened->header.content_type(), "application/vnd.comity.draft");
  EXPECT_EQ(opened->message_id.size(), 32u);
  EXPECT_EQ(MessageId(envelope), opened->message_id);
}

// docs/PROTOCOL.md 6.3, computed here from the bytes rather than through crypto/: created_at
// as 8 big-endian bytes, then BLAKE2b-192 (a 24-byte output, not a truncation) of Signed.body.
TEST_F(EnvelopeTest, MessageIdIsCreationTimeThenBodyHash) {
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  v1::Signed outer;
  ASSERT_TRUE(outer.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
  Bytes expected = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) expected[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(kNow) >> (56 - 8 * i));
  std::uint8_t digest[24];
  ASSERT_EQ(crypto_generichash(digest, sizeof digest, reinterpret_cast<const std::uint8_t*>(outer.body().data()),
                               outer.body().size(), nullptr, 0),
            0);
  expected.insert(expected.end(), digest, digest + sizeof digest);
  EXPECT_EQ(MessageId(envelope), expected);
  // Later envelopes sort after earlier ones, byte by byte, whatever their hashes.
  SealOptions later = DefaultOptions();
  later.created_at = kNow + 1;
  for (int i = 0; i < 8; ++i) EXPECT_LT(MessageId(envelope), MessageId(SealFromSpain({"FR-MJ"}, later)));
}

TEST_F(EnvelopeTest, EachOfThreeRecipientsOpens) {
  const std::vector<std::string> to = {"FR-MJ", "DE-BMJ", "IT-MG"};
  const Bytes envelope = SealFromSpain(to);
  for (const std::string& reader : to) {
    auto opened = OpenAs(reader, envelope);
    ASSERT_TRUE(opened.ok()) << reader << ": " << opened.error().message;
    EXPECT_EQ(opened->plaintext, kPlaintext) << reader;
    ASSERT_EQ(opened->header.recipients_size(), 3) << reader;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(opened->header.recipients(i).member_id(), to[i]);
    EXPECT_EQ(MessageId(envelope), opened->message_id) << reader;
  }
}

TEST_F(EnvelopeTest, EverySealIsUnique) {
  const Bytes a = SealFromSpain({"FR-MJ"});
  const Bytes b = SealFromSpain({"FR-MJ"});
  EXPECT_NE(a, b);
  EXPECT_NE(MessageId(a), MessageId(b));
}

TEST_F(EnvelopeTest, EmptyPlaintextOpens) {
  const Bytes envelope = SealFromSpain({"FR-MJ", "DE-BMJ"}, DefaultOptions(), Bytes{});
  auto opened = OpenAs("DE-BMJ", envelope);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(opened->plaintext.empty());
}

TEST_F(EnvelopeTest, NonRecipientMemberRefused) {
  const Bytes envelope = SealFromSpain({"FR-MJ", "DE-BMJ"});
  EXPECT_EQ(ErrorCode(OpenAs("PT-PGR", envelope)), OpenCode::kNotRecipient);
}

TEST_F(EnvelopeTest, ReaderClaimingARecipientsPartyCannotOpen) {
  // The party decides which wrapped key is tried; only the recipient's X25519 secret opens it.
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  auto opened = Open(member("PT-PGR").identity, member("FR-MJ").party(), envelope,
                     member("ES-MJ").signed_certificate, trust_, kNow);
  EXPECT_EQ(ErrorCode(opened), OpenCode::kTampered);
}

TEST_F(EnvelopeTest, EverySingleByteFlipRefused) {
  const Bytes envelope = SealFromSpain({"FR-MJ", "DE-BMJ"}, DefaultOptions(), ToBytes("short"));
  ASSERT_TRUE(OpenAs("FR-MJ", envelope).ok());
  std::size_t bad_signatures = 0;
  ForEachByteFlip(AsString(envelope), [&](const std::string& where, const std::string& damaged) {
    std::optional<OpenCode> code = ErrorCode(OpenAs("FR-MJ", AsBytes(damaged)));
    if (code == OpenCode::kBadSignature) ++bad_signatures;
    EXPECT_TRUE(code == OpenCode::kBadSignature || code == OpenCode::kMalformed)
        << where << ": " << (code ? OpenCodeName(*code) : "opened");
  });
  // Each flip inside the signed body reaches the signature check.
  EXPECT_GE(bad_signatures, Peel(envelope).body.ByteSizeLong());
}

TEST_F(EnvelopeTest, EverySingleByteFlipOfTheSenderCertificateRefused) {
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  ForEachByteFlip(member("ES-MJ").signed_certificate.SerializeAsString(),
                  [&](const std::string& where, const std::string& damaged) {
                    v1::Signed certificate;
                    if (!certificate.ParseFromString(damaged)) return;
                    auto opened = Open(member("FR-MJ").identity, member("FR-MJ").party(), envelope,
                                       certificate, trust_, kNow);
                    EXPECT_EQ(ErrorCode(opened), OpenCode::kUnknownSender) << where;
                  });
}

TEST_F(EnvelopeTest, GarbageIsMalformed) {
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", ToBytes("not an envelope"))), OpenCode::kMalformed);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", Bytes{})), OpenCode::kMalformed);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", Bytes(200, 0xA5))), OpenCode::kMalformed);
  EXPECT_TRUE(MessageId(ToBytes("not an envelope")).empty());
}

TEST_F(EnvelopeTest, SignedBodyThatIsNotAnEnvelopeIsMalformed) {
  // Signature checks out, but what was signed is no EnvelopeBody.
  v1::Signed outer;
  outer.set_body("\x0a\x03" "abc");  // an EnvelopeBody whose header is not an EnvelopeHeader
  outer.set_signature(AsString(member("ES-MJ").identity.Sign(kDomainEnvelope, AsBytes(outer.body()))));
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", ToBytes(outer.SerializeAsString()))), OpenCode::kMalformed);
}

TEST_F(EnvelopeTest, RevokedSender) {
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  ejn_.Revoke("ES-MJ");
  ASSERT_TRUE(trust_.AcceptRoster(ejn_.Publish(), kNow).ok());
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", envelope)), OpenCode::kRevokedSender);
}

TEST_F(EnvelopeTest, SenderFromUntrustedNetworkIsUnknown) {
  TestNetwork stranger("wacap");
  const TestMember& outsider = stranger.Admit("NG-FMJ");
  auto sealed = Seal(outsider.identity, outsider.party(), RecipientsOf({&member("FR-MJ")}),
                     DefaultOptions(), kPlaintext);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  auto opened = Open(member("FR-MJ").identity, member("FR-MJ").party(), *sealed,
                     outsider.signed_certificate, trust_, kNow);
  EXPECT_EQ(ErrorCode(opened), OpenCode::kUnknownSender);
}

TEST_F(EnvelopeTest, SenderWithSupersededOrExpiredCertificateIsUnknown) {
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  // Past the sender certificate's not_after.
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", envelope, kNow + 400 * kDay)), OpenCode::kUnknownSender);
  // Re-issued with new keys: the old certificate no longer speaks for ES-MJ.
  const v1::Signed old_certificate = member("ES-MJ").signed_certificate;
  ejn_.Admit("ES-MJ");
  ASSERT_TRUE(trust_.AcceptRoster(ejn_.Publish(), kNow).ok());
  auto opened = Open(member("FR-MJ").identity, member("FR-MJ").party(), envelope, old_certificate,
                     trust_, kNow);
  EXPECT_EQ(ErrorCode(opened), OpenCode::kUnknownSender);
}

TEST_F(EnvelopeTest, ExpiresAtItsExpiryTime) {
  SealOptions options = DefaultOptions();
  options.expires_at = kNow + 10;
  const Bytes envelope = SealFromSpain({"FR-MJ"}, options);
  EXPECT_TRUE(OpenAs("FR-MJ", envelope, kNow + 9).ok());
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", envelope, kNow + 10)), OpenCode::kExpired);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", envelope, kNow + 100 * kDay)), OpenCode::kExpired);
}

// A relay is no recipient: Inspect checks what it can (signature, sender, format, expiry)
// and gives the header and message id, without any key.
TEST_F(EnvelopeTest, InspectChecksWhatARelayCanWithoutAKey) {
  SealOptions options = DefaultOptions();
  options.expires_at = kNow + 10;
  const Bytes envelope = SealFromSpain({"FR-MJ", "DE-BMJ"}, options);
  const v1::Signed& cert = member("ES-MJ").signed_certificate;
  auto seen = Inspect(envelope, cert, trust_, kNow);
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(seen->message_id, MessageId(envelope));
  ASSERT_EQ(seen->header.recipients_size(), 2);
  EXPECT_EQ(seen->header.recipients(1).member_id(), "DE-BMJ");
  EXPECT_EQ(ErrorCode(Inspect(envelope, cert, trust_, kNow + 10)), OpenCode::kExpired);
  EXPECT_EQ(ErrorCode(Inspect(envelope, member("IT-MG").signed_certificate, trust_, kNow)), OpenCode::kBadSignature);
  v1::Signed forged;
  ASSERT_TRUE(forged.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
  std::string sig = forged.signature();
  sig[0] = static_cast<char>(sig[0] ^ 1);
  forged.set_signature(sig);
  EXPECT_EQ(ErrorCode(Inspect(ToBytes(forged.SerializeAsString()), cert, trust_, kNow)), OpenCode::kBadSignature);
  EXPECT_EQ(ErrorCode(Inspect(ToBytes("junk"), cert, trust_, kNow)), OpenCode::kMalformed);
}

TEST_F(EnvelopeTest, ZeroExpiryNeverExpires) {
  SealOptions options = DefaultOptions();
  options.expires_at = 0;
  const Bytes envelope = SealFromSpain({"FR-MJ"}, options);
  // Much later, yet while the sender's certificate is still valid.
  auto opened = OpenAs("FR-MJ", envelope, kNow + 300 * kDay);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
}

TEST_F(EnvelopeTest, HeaderClaimingAnotherSenderIsBadSignature) {
  // Signed by ES-MJ but claiming to come from IT-MG.
  auto forged = Seal(member("ES-MJ").identity, member("IT-MG").party(), RecipientsOf({&member("FR-MJ")}),
                     DefaultOptions(), kPlaintext);
  ASSERT_TRUE(forged.ok()) << forged.error().message;
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", *forged)), OpenCode::kBadSignature);

  // Signed by ES-MJ and presented with IT-MG's certificate.
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  auto opened = Open(member("FR-MJ").identity, member("FR-MJ").party(), envelope,
                     member("IT-MG").signed_certificate, trust_, kNow);
  EXPECT_EQ(ErrorCode(opened), OpenCode::kBadSignature);
}

TEST_F(EnvelopeTest, AlteredCiphertextWithValidSignatureIsTampered) {
  Layers layers = Peel(SealFromSpain({"FR-MJ"}));
  std::string& ct = *layers.body.mutable_ciphertext();
  ct[0] = static_cast<char>(ct[0] ^ 0x01);
  const Bytes forged = Resign(member("ES-MJ").identity, layers.body);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kTampered);
}

TEST_F(EnvelopeTest, ResignedUnchangedBodyStillOpens) {
  // Control for the forgeries below: Peel and Resign alone do not break an envelope.
  Layers layers = Peel(SealFromSpain({"FR-MJ", "DE-BMJ"}));
  auto opened = OpenAs("DE-BMJ", Resign(member("ES-MJ").identity, layers.body));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
}

TEST_F(EnvelopeTest, SwappedWrappedKeysAreTampered) {
  Layers layers = Peel(SealFromSpain({"FR-MJ", "DE-BMJ"}));
  layers.body.mutable_wrapped_keys()->SwapElements(0, 1);
  const Bytes forged = Resign(member("ES-MJ").identity, layers.body);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kTampered);
  EXPECT_EQ(ErrorCode(OpenAs("DE-BMJ", forged)), OpenCode::kTampered);
}

TEST_F(EnvelopeTest, AlteredKeyCommitmentIsTampered) {
  Layers layers = Peel(SealFromSpain({"FR-MJ"}));
  std::string& commitment = *layers.header.mutable_key_commitment();
  commitment[5] = static_cast<char>(commitment[5] ^ 0x01);
  layers.body.set_header(layers.header.SerializeAsString());
  const Bytes forged = Resign(member("ES-MJ").identity, layers.body);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kTampered);
}

// An envelope from `sender` built from the protocol description instead of by Seal, with the
// content key wrapped to each of `recipients` in order and the right key commitment
// (BLAKE2b-256 keyed by the content key over "comity/v1/key-commitment"). `edit` may then
// change the header; the ciphertext (whose associated data is the header) and the signature
// are made over whatever it leaves, so only Open's own checks can refuse the result.
Bytes HandSealed(const TestMember& sender, const std::vector<const TestMember*>& recipients,
                 const std::function<void(v1::EnvelopeHeader&)>& edit = nullptr) {
  SecretBytes content_key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  crypto_aead_xchacha20poly1305_ietf_keygen(content_key.data());

  v1::EnvelopeHeader header;
  header.set_version(1);
  *header.mutable_sender() = sender.party();
  for (const TestMember* r : recipients) *header.add_recipients() = r->party();
  header.set_created_at(kNow);
  header.set_nonce(AsString(RandomBytes(16)));
  header.set_key_commitment(AsString(Blake2bKeyed(content_key.view(), AsBytes("comity/v1/key-commitment"), 32)));
  if (edit) edit(header);

  v1::EnvelopeBody body;
  body.set_header(header.SerializeAsString());
  for (const TestMember* r : recipients) {
    Bytes wrapped(content_key.size() + crypto_box_SEALBYTES);
    EXPECT_EQ(crypto_box_seal(wrapped.data(), content_key.data(), content_key.size(),
                              r->identity.public_identity().agree.data()),
              0);
    body.add_wrapped_keys(AsString(wrapped));
  }
  const Bytes nonce = RandomBytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  body.set_aead_nonce(AsString(nonce));
  Bytes ct(kPlaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long ct_len = 0;
  const ByteView aad = AsBytes(body.header());
  crypto_aead_xchacha20poly1305_ietf_encrypt(ct.data(), &ct_len, kPlaintext.data(), kPlaintext.size(),
                                             aad.data(), aad.size(), nullptr, nonce.data(),
                                             content_key.data());
  body.set_ciphertext(AsString(ByteView(ct.data(), static_cast<std::size_t>(ct_len))));
  return Resign(sender.identity, body);
}

TEST_F(EnvelopeTest, HandBuiltEnvelopeOpens) {
  // Control for the hand-built forgeries below: without an edit, every reader opens it.
  const Bytes envelope = HandSealed(member("ES-MJ"), {&member("FR-MJ"), &member("DE-BMJ")});
  for (const char* reader : {"FR-MJ", "DE-BMJ"}) {
    auto opened = OpenAs(reader, envelope);
    ASSERT_TRUE(opened.ok()) << reader << ": " << opened.error().message;
    EXPECT_EQ(opened->plaintext, kPlaintext);
  }
}

TEST_F(EnvelopeTest, KeyCommitmentMismatchIsTamperedEvenIfCiphertextAuthenticates) {
  // What a sender would do to make one envelope open differently for different recipients.
  const Bytes forged = HandSealed(member("ES-MJ"), {&member("FR-MJ")}, [](v1::EnvelopeHeader& h) {
    h.set_key_commitment(AsString(Bytes(32, 0x42)));
  });
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kTampered);
}

TEST_F(EnvelopeTest, HeaderNonceOfAnotherSizeIsMalformed) {
  // Validly signed and authenticated: only the nonce-length rule refuses these.
  for (std::size_t size : {0u, 1u, 15u, 17u, 32u}) {
    const Bytes forged = HandSealed(member("ES-MJ"), {&member("FR-MJ")}, [&](v1::EnvelopeHeader& h) {
      h.set_nonce(AsString(RandomBytes(size)));
    });
    EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kMalformed) << size << "-byte nonce";
  }
}

TEST_F(EnvelopeTest, HeaderListingARecipientTwiceIsMalformed) {
  // Two wrapped keys, both opening for FR-MJ: the duplicate alone makes it malformed.
  const Bytes forged = HandSealed(member("ES-MJ"), {&member("FR-MJ"), &member("FR-MJ")});
  auto opened = OpenAs("FR-MJ", forged);
  EXPECT_EQ(ErrorCode(opened), OpenCode::kMalformed);
  if (!opened.ok()) {
    EXPECT_NE(opened.error().message.find("twice"), std::string::npos) << opened.error().message;
  }
  EXPECT_EQ(ErrorCode(OpenAs("DE-BMJ", forged)), OpenCode::kMalformed);
}

TEST_F(EnvelopeTest, HeaderListingAnInvalidRecipientPartyIsMalformed) {
  // A recipient id with an escape sequence or line break would reach logs and terminals.
  for (const auto& [network_id, member_id] :
       std::vector<std::pair<std::string, std::string>>{{"ejn", "DE-BMJ\x1b[2J"},
                                                        {"ejn", "DE-BMJ\nFR-MJ opened it"},
                                                        {"ejn", "de-bmj"},
                                                        {"ejn", ""},
                                                        {"ejn\r", "DE-BMJ"},
                                                        {"", "DE-BMJ"}}) {
    const Bytes forged = HandSealed(member("ES-MJ"), {&member("FR-MJ"), &member("DE-BMJ")},
                                    // Named copies: clang 14 cannot capture structured bindings.
                                    [&, net_id = network_id, mem_id = member_id](v1::EnvelopeHeader& h) {
                                      h.mutable_recipients(1)->set_network_id(net_id);
                                      h.mutable_recipients(1)->set_member_id(mem_id);
                                    });
    auto opened = OpenAs("FR-MJ", forged);
    EXPECT_EQ(ErrorCode(opened), OpenCode::kMalformed) << EscapeForDisplay(member_id);
    if (!opened.ok()) {
      EXPECT_TRUE(IsPrintableUtf8(opened.error().message)) << EscapeForDisplay(opened.error().message);
    }
  }
}

TEST_F(EnvelopeTest, OversizedEnvelopeIsMalformedBeforeParsing) {
  // Padding with an unknown field keeps the meaning: at the limit the envelope opens, one byte
  // over it is refused unread (so no length ever reaches protobuf's int range).
  const Bytes sealed = SealFromSpain({"FR-MJ"});
  const std::string at_limit = test::PaddedTo(AsString(sealed), kMaxEnvelopeSize);
  ASSERT_EQ(at_limit.size(), kMaxEnvelopeSize);
  auto opened = OpenAs("FR-MJ", AsBytes(at_limit));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
  EXPECT_EQ(MessageId(AsBytes(at_limit)), MessageId(sealed));

  const std::string over_limit = test::PaddedTo(AsString(sealed), kMaxEnvelopeSize + 1);
  ASSERT_EQ(over_limit.size(), kMaxEnvelopeSize + 1);
  EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", AsBytes(over_limit))), OpenCode::kMalformed);
  EXPECT_TRUE(MessageId(AsBytes(over_limit)).empty());
}

TEST_F(EnvelopeTest, SealRefusesContentThatWouldExceedTheEnvelopeLimit) {
  // Seal never makes an envelope that Open would refuse for its size.
  const TestMember& spain = member("ES-MJ");
  const Bytes huge(kMaxEnvelopeSize - 100, 0x00);
  auto sealed = Seal(spain.identity, spain.party(), RecipientsOf({&member("FR-MJ")}), DefaultOptions(), huge);
  ASSERT_FALSE(sealed.ok());
  EXPECT_NE(sealed.error().message.find("64 MiB"), std::string::npos) << sealed.error().message;
}


TEST_F(EnvelopeTest, SealRefusesALowOrderRecipientKey) {
  // crypto_box_seal fails for these (the shared secret would be all zeros); Seal used to
  // ignore that and send a wrapped key no one could open.
  const TestMember& spain = member("ES-MJ");
  for (const char* hex : test::kLowOrderX25519Hex) {
    std::vector<Recipient> recipients = RecipientsOf({&member("FR-MJ"), &member("DE-BMJ")});
    recipients[1].agree_key = *FromHex(hex);
    auto sealed = Seal(spain.identity, spain.party(), recipients, DefaultOptions(), kPlaintext);
    ASSERT_FALSE(sealed.ok()) << hex;
    EXPECT_NE(sealed.error().message.find("DE-BMJ@ejn"), std::string::npos) << sealed.error().message;
    EXPECT_NE(sealed.error().message.find("low order"), std::string::npos) << sealed.error().message;
  }
}

TEST_F(EnvelopeTest, SealRefusesInvalidParties) {
  const TestMember& spain = member("ES-MJ");
  std::vector<Recipient> recipients = RecipientsOf({&member("FR-MJ")});
  recipients[0].party.set_member_id("FR-MJ\x1b]0;owned\x07");
  auto sealed = Seal(spain.identity, spain.party(), recipients, DefaultOptions(), kPlaintext);
  ASSERT_FALSE(sealed.ok());
  EXPECT_TRUE(IsPrintableUtf8(sealed.error().message)) << EscapeForDisplay(sealed.error().message);

  v1::Party sender = spain.party();
  sender.set_network_id("ejn\n");
  EXPECT_FALSE(Seal(spain.identity, sender, RecipientsOf({&member("FR-MJ")}), DefaultOptions(), kPlaintext).ok());
}

TEST_F(EnvelopeTest, MessagesDoNotEchoControlCharacters) {
  // Parties supplied by a caller, or claimed by a validly signed header, are escaped.
  const Bytes envelope = SealFromSpain({"FR-MJ"});
  v1::Party reader = member("PT-PGR").party();
  reader.set_member_id("PT-PGR\x1b[31m");
  auto opened = Open(member("PT-PGR").identity, reader, envelope, member("ES-MJ").signed_certificate, trust_, kNow);
  ASSERT_EQ(ErrorCode(opened), OpenCode::kNotRecipient);
  EXPECT_TRUE(IsPrintableUtf8(opened.error().message)) << EscapeForDisplay(opened.error().message);

  const Bytes claims_other = HandSealed(member("ES-MJ"), {&member("FR-MJ")}, [](v1::EnvelopeHeader& h) {
    h.mutable_sender()->set_member_id("IT-MG\x1b[2K");
  });
  auto refused = OpenAs("FR-MJ", claims_other);
  ASSERT_EQ(ErrorCode(refused), OpenCode::kBadSignature);
  EXPECT_TRUE(IsPrintableUtf8(refused.error().message)) << EscapeForDisplay(refused.error().message);
}

TEST_F(EnvelopeTest, SealRefusesBadRecipientLists) {
  const TestMember& spain = member("ES-MJ");
  EXPECT_FALSE(Seal(spain.identity, spain.party(), {}, DefaultOptions(), kPlaintext).ok());
  EXPECT_FALSE(Seal(spain.identity, spain.party(),
                    RecipientsOf({&member("FR-MJ"), &member("DE-BMJ"), &member("FR-MJ")}),
                    DefaultOptions(), kPlaintext)
                   .ok());
  std::vector<Recipient> keyless = RecipientsOf({&member("FR-MJ")});
  keyless[0].agree_key.pop_back();
  EXPECT_FALSE(Seal(spain.identity, spain.party(), keyless, DefaultOptions(), kPlaintext).ok());
}

// ---- Attachments (header field `files`) ---------------------------------------------------

v1::FileRef FileRefOf(const Bytes& stream_hash, std::uint64_t stream_size) {
  v1::FileRef file;
  file.set_stream_hash(AsString(stream_hash));
  file.set_stream_size(stream_size);
  return file;
}

// `count` attachments with distinct random stream hashes and sizes from the smallest up.
std::vector<v1::FileRef> SomeFiles(int count) {
  std::vector<v1::FileRef> files;
  for (int i = 0; i < count; ++i) files.push_back(FileRefOf(RandomBytes(32), kMinFileStreamSize + 1000 * i));
  return files;
}

// File lists that break one part of the rule each, named for the failure messages.
std::vector<std::pair<std::string, std::vector<v1::FileRef>>> BadFileLists() {
  std::vector<v1::FileRef> duplicate = SomeFiles(3);
  duplicate[2].set_stream_hash(duplicate[0].stream_hash());
  return {
      {"65 files", SomeFiles(kMaxFiles + 1)},
      {"a 31-byte stream hash", {FileRefOf(RandomBytes(32), 1000), FileRefOf(RandomBytes(31), 1000)}},
      {"a 33-byte stream hash", {FileRefOf(RandomBytes(33), 1000)}},
      {"stream size 92", {FileRefOf(RandomBytes(32), kMinFileStreamSize - 1)}},
      {"stream size 2^42 + 1", {FileRefOf(RandomBytes(32), kMaxFileStreamSize + 1)}},
      {"a stream hash twice", duplicate},
  };
}

void ExpectSameFiles(const v1::EnvelopeHeader& header, const std::vector<v1::FileRef>& files) {
  ASSERT_EQ(header.files_size(), static_cast<int>(files.size()));
  for (int i = 0; i < header.files_size(); ++i) {
    EXPECT_EQ(header.files(i).stream_hash(), files[i].stream_hash()) << i;
    EXPECT_EQ(header.files(i).stream_size(), files[i].stream_size()) << i;
  }
}

TEST_F(EnvelopeTest, FileRefsReachOpenAndInspect) {
  SealOptions options = DefaultOptions();
  options.files = SomeFiles(2);
  const Bytes envelope = SealFromSpain({"FR-MJ"}, options);
  auto opened = OpenAs("FR-MJ", envelope);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ExpectSameFiles(opened->header, options.files);
  auto seen = Inspect(envelope, member("ES-MJ").signed_certificate, trust_, kNow);
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  ExpectSameFiles(seen->header, options.files);
}

TEST_F(EnvelopeTest, FileRefsAtTheLimitsAreAccepted) {
  SealOptions options = DefaultOptions();
  options.files = SomeFiles(kMaxFiles);
  options.files.front().set_stream_size(kMinFileStreamSize);
  options.files.back().set_stream_size(kMaxFileStreamSize);
  const Bytes envelope = SealFromSpain({"FR-MJ"}, options);
  auto opened = OpenAs("FR-MJ", envelope);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ExpectSameFiles(opened->header, options.files);
}

TEST_F(EnvelopeTest, SealRefusesBadFileLists) {
  const TestMember& spain = member("ES-MJ");
  for (const auto& [what, files] : BadFileLists()) {
    SealOptions options = DefaultOptions();
    options.files = files;
    auto sealed = Seal(spain.identity, spain.party(), RecipientsOf({&member("FR-MJ")}), options, kPlaintext);
    ASSERT_FALSE(sealed.ok()) << what;
    EXPECT_NE(sealed.error().message.find("attachments"), std::string::npos) << sealed.error().message;
  }
}

TEST_F(EnvelopeTest, HeaderWithBadFileListIsMalformed) {
  // Validly signed and authenticated: only the file-list rule refuses these, for readers and
  // relays alike.
  const v1::Signed& cert = member("ES-MJ").signed_certificate;
  const std::vector<v1::FileRef> good = SomeFiles(2);
  const Bytes control = HandSealed(member("ES-MJ"), {&member("FR-MJ")}, [&](v1::EnvelopeHeader& h) {
    for (const v1::FileRef& f : good) *h.add_files() = f;
  });
  ASSERT_TRUE(OpenAs("FR-MJ", control).ok());
  ASSERT_TRUE(Inspect(control, cert, trust_, kNow).ok());

  for (const auto& [what, files] : BadFileLists()) {
    const Bytes forged = HandSealed(member("ES-MJ"), {&member("FR-MJ")}, [&, &list = files](v1::EnvelopeHeader& h) {
      for (const v1::FileRef& f : list) *h.add_files() = f;
    });
    EXPECT_EQ(ErrorCode(OpenAs("FR-MJ", forged)), OpenCode::kMalformed) << what;
    EXPECT_EQ(ErrorCode(Inspect(forged, cert, trust_, kNow)), OpenCode::kMalformed) << what;
  }
}

TEST(EnvelopeBridge, RecipientInBridgedNetworkOpens) {
  // ES-MJ in ejn writes to AR-MJ in iberred. iberred's roster bridges ejn; AR-MJ's node trusts
  // only iberred's root and accepts ejn's roster through that bridge.
  TestNetwork ejn("ejn");
  TestNetwork iberred("iberred");
  const TestMember& spain = ejn.Admit("ES-MJ");
  const TestMember& argentina = iberred.Admit("AR-MJ");
  iberred.AddBridge(ejn);
  TrustStore argentina_trust = TrustingOnly(iberred, iberred.Publish());
  ASSERT_TRUE(argentina_trust.AcceptRoster(ejn.Publish(), kNow).ok());

  auto sealed = Seal(spain.identity, spain.party(), {RecipientOf(argentina.certificate)},
                     DefaultOptions(), kPlaintext);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  auto opened = Open(argentina.identity, argentina.party(), *sealed, spain.signed_certificate,
                     argentina_trust, kNow);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
  EXPECT_EQ(opened->header.sender().network_id(), "ejn");
  EXPECT_EQ(opened->message_id, MessageId(*sealed));

  // Once iberred withdraws the bridge, ejn's members are strangers to AR-MJ's node.
  iberred.RemoveBridge("ejn");
  ASSERT_TRUE(argentina_trust.AcceptRoster(iberred.Publish(), kNow).ok());
  EXPECT_EQ(ErrorCode(Open(argentina.identity, argentina.party(), *sealed, spain.signed_certificate,
                           argentina_trust, kNow)),
            OpenCode::kUnknownSender);
}

}  // namespace
}  // namespace comity::crypto

namespace comity::crypto {
namespace {

// Disclosure (docs/PROTOCOL.md §13): the content key Seal hands back opens the envelope for
// someone who is no recipient, and nothing else does.
TEST_F(EnvelopeTest, ADisclosedContentKeyOpensTheEnvelopeForANonRecipient) {
  Bytes key;
  auto sealed = Seal(member("ES-MJ").identity, member("ES-MJ").party(), RecipientsOf({&member("FR-MJ")}),
                     DefaultOptions(), kPlaintext, &key);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(key.size(), 32u);
  auto opened = OpenDisclosed(*sealed, key, member("ES-MJ").certificate);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, kPlaintext);
  EXPECT_EQ(opened->content_key, key);
  EXPECT_EQ(opened->message_id, MessageId(*sealed));
  // The recipient's Open gives the same key.
  auto as_recipient = OpenAs("FR-MJ", *sealed);
  ASSERT_TRUE(as_recipient.ok());
  EXPECT_EQ(as_recipient->content_key, key);

  Bytes wrong = key;
  wrong[0] ^= 1;
  EXPECT_EQ(test::ErrorCode(OpenDisclosed(*sealed, wrong, member("ES-MJ").certificate)), OpenCode::kTampered);
  EXPECT_EQ(test::ErrorCode(OpenDisclosedVerified(*sealed, wrong, member("ES-MJ").certificate)), OpenCode::kTampered);
  // Under another member's certificate the signature does not verify (OpenDisclosed), and the
  // header names another sender (OpenDisclosedVerified, whose caller checked the signature).
  EXPECT_EQ(test::ErrorCode(OpenDisclosed(*sealed, key, member("IT-MG").certificate)), OpenCode::kBadSignature);
  EXPECT_EQ(test::ErrorCode(OpenDisclosedVerified(*sealed, key, member("IT-MG").certificate)), OpenCode::kBadSignature);
  auto verified = OpenDisclosedVerified(*sealed, key, member("ES-MJ").certificate);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->plaintext, kPlaintext);
}

}  // namespace
}  // namespace comity::crypto
