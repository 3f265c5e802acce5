// Tests of crypto/keys.h: domain-separated signatures, fingerprints, and the export/import
// of a member Identity (including refusal of damaged key material).
#include "crypto/keys.h"

#include "tests/unit/test_network.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>

namespace comity::crypto {
namespace {

constexpr std::string_view kAllDomains[] = {kDomainCertificate, kDomainRoster,
                                            kDomainEnrollment, kDomainEnvelope};

TEST(KeysTest, SignatureVerifiesUnderItsDomain) {
  const SigningKey key = SigningKey::Generate();
  ASSERT_EQ(key.public_key().size(), kPublicKeySize);
  for (std::string_view domain : kAllDomains) {
    for (const Bytes& message : {Bytes{}, ToBytes("roster v7"), RandomBytes(1000)}) {
      const Bytes sig = key.Sign(domain, message);
      ASSERT_EQ(sig.size(), kSignatureSize);
      EXPECT_TRUE(VerifySignature(key.public_key(), domain, message, sig)) << domain;
    }
  }
}

TEST(KeysTest, SignatureDoesNotVerifyUnderAnotherDomain) {
  const SigningKey key = SigningKey::Generate();
  const Bytes message = ToBytes("the same bytes, signed for one purpose");
  for (std::string_view signed_for : kAllDomains) {
    const Bytes sig = key.Sign(signed_for, message);
    for (std::string_view checked_as : kAllDomains) {
      EXPECT_EQ(VerifySignature(key.public_key(), checked_as, message, sig),
                signed_for == checked_as)
          << "signed for " << signed_for << ", checked as " << checked_as;
    }
  }
}

TEST(KeysTest, DomainSeparatorCannotBeShiftedIntoTheMessage) {
  // DOMAIN 0x00 message: "ab" + "c" must not verify as "a" + "bc", nor as a raw signature.
  const SigningKey key = SigningKey::Generate();
  const Bytes sig = key.Sign("ab", ToBytes("c"));
  EXPECT_TRUE(VerifySignature(key.public_key(), "ab", ToBytes("c"), sig));
  EXPECT_FALSE(VerifySignature(key.public_key(), "a", ToBytes("bc"), sig));
  EXPECT_FALSE(VerifySignature(key.public_key(), "abc", {}, sig));
  const Bytes raw = ToBytes("c");
  EXPECT_NE(crypto_sign_verify_detached(sig.data(), raw.data(), raw.size(),
                                        key.public_key().data()),
            0);
}

TEST(KeysTest, AnyFlippedByteOfMessageOrSignatureFails) {
  const SigningKey key = SigningKey::Generate();
  const Bytes message = RandomBytes(97);
  const Bytes sig = key.Sign(kDomainEnvelope, message);
  ASSERT_TRUE(VerifySignature(key.public_key(), kDomainEnvelope, message, sig));
  for (std::size_t i = 0; i < message.size(); ++i) {
    for (std::uint8_t bit : {0x01, 0x80}) {
      Bytes damaged = message;
      damaged[i] ^= bit;
      EXPECT_FALSE(VerifySignature(key.public_key(), kDomainEnvelope, damaged, sig))
          << "message byte " << i;
    }
  }
  for (std::size_t i = 0; i < sig.size(); ++i) {
    for (std::uint8_t bit : {0x01, 0x80}) {
      Bytes damaged = sig;
      damaged[i] ^= bit;
      EXPECT_FALSE(VerifySignature(key.public_key(), kDomainEnvelope, message, damaged))
          << "signature byte " << i << " bit " << int{bit};
    }
  }
}

TEST(KeysTest, VerifyRefusesWrongKeyAndWrongLengths) {
  const SigningKey key = SigningKey::Generate();
  const SigningKey other = SigningKey::Generate();
  const Bytes message = ToBytes("hello");
  const Bytes sig = key.Sign(kDomainRoster, message);
  EXPECT_FALSE(VerifySignature(other.public_key(), kDomainRoster, message, sig));

  Bytes longer = sig;
  longer.push_back(0);
  EXPECT_FALSE(VerifySignature(key.public_key(), kDomainRoster, message, longer));
  EXPECT_FALSE(VerifySignature(key.public_key(), kDomainRoster, message,
                               ByteView(sig).first(kSignatureSize - 1)));
  EXPECT_FALSE(VerifySignature(key.public_key(), kDomainRoster, message, {}));
  EXPECT_FALSE(VerifySignature(ByteView(key.public_key()).first(31), kDomainRoster, message, sig));
  Bytes long_key = key.public_key();
  long_key.push_back(0);
  EXPECT_FALSE(VerifySignature(long_key, kDomainRoster, message, sig));
  EXPECT_FALSE(VerifySignature({}, kDomainRoster, message, sig));
}

TEST(KeysTest, Ed25519PublicKeyValidity) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(IsValidEd25519PublicKey(SigningKey::Generate().public_key()));
    EXPECT_TRUE(IsValidEd25519PublicKey(Identity::Generate().public_identity().sign));
  }
  // RFC 8032 TEST 1 public key.
  EXPECT_TRUE(IsValidEd25519PublicKey(*FromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")));
  // Small order: the identity, order 4 (all zeros), order 8, order 2 (p - 1 as y).
  for (const char* hex : {"0100000000000000000000000000000000000000000000000000000000000000",
                          "0000000000000000000000000000000000000000000000000000000000000000",
                          "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
                          "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                          // not canonical: y = p, and y = p + 1 (the identity again)
                          "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                          "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"}) {
    EXPECT_FALSE(IsValidEd25519PublicKey(*FromHex(hex))) << hex;
  }
  // A valid key plus a point of order 8: on the curve, outside the prime-order subgroup.
  const SigningKey key = SigningKey::Generate();
  Bytes mixed(crypto_core_ed25519_BYTES);
  ASSERT_EQ(crypto_core_ed25519_add(mixed.data(), key.public_key().data(),
                                    FromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")->data()),
            0);
  EXPECT_FALSE(IsValidEd25519PublicKey(mixed));
  // Not on the curve: y = 2 has no x.
  EXPECT_FALSE(IsValidEd25519PublicKey(*FromHex("0200000000000000000000000000000000000000000000000000000000000000")));
  EXPECT_FALSE(IsValidEd25519PublicKey(ByteView(key.public_key()).first(31)));
  EXPECT_FALSE(IsValidEd25519PublicKey({}));
}

TEST(KeysTest, X25519LowOrderKeysRefused) {
  for (int i = 0; i < 20; ++i) {
    const Identity id = Identity::Generate();
    EXPECT_TRUE(IsValidX25519PublicKey(id.public_identity().agree));
    EXPECT_TRUE(IsValidX25519PublicKey(id.public_identity().transport));
  }
  // The base point (u = 9) and the RFC 7748 §6.1 public key.
  EXPECT_TRUE(IsValidX25519PublicKey(*FromHex("0900000000000000000000000000000000000000000000000000000000000000")));
  EXPECT_TRUE(IsValidX25519PublicKey(*FromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")));
  // u = 2 lies on the twist, with large order: usable, as RFC 7748 allows.
  EXPECT_TRUE(IsValidX25519PublicKey(*FromHex("0200000000000000000000000000000000000000000000000000000000000000")));
  for (const char* hex : test::kLowOrderX25519Hex) {
    EXPECT_FALSE(IsValidX25519PublicKey(*FromHex(hex))) << hex;
  }
  // The top bit is ignored by X25519: 0 and 1 again.
  for (const char* hex : {"0000000000000000000000000000000000000000000000000000000000000080",
                          "0100000000000000000000000000000000000000000000000000000000000080"}) {
    EXPECT_FALSE(IsValidX25519PublicKey(*FromHex(hex))) << hex;
  }
  EXPECT_FALSE(IsValidX25519PublicKey(Bytes(31, 0x09)));
  EXPECT_FALSE(IsValidX25519PublicKey({}));
}

// "xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx" with lower-case hex digits.
bool IsFingerprintFormat(const std::string& fp) {
  if (fp.size() != 8 * 4 + 7) return false;
  for (std::size_t i = 0; i < fp.size(); ++i) {
    const char c = fp[i];
    const bool ok = i % 5 == 4 ? c == ' ' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

TEST(KeysTest, FingerprintFormat) {
  EXPECT_TRUE(IsFingerprintFormat("0123 4567 89ab cdef 0123 4567 89ab cdef"));
  for (const char* bad : {"0123 4567 89AB cdef 0123 4567 89ab cdef",
                          "0123  4567 89ab cdef 0123 4567 89ab cde",
                          "0123 4567 89ab cdef 0123 4567 89ab cdef ",
                          "01234567 89ab cdef 0123 4567 89ab cdef0"}) {
    EXPECT_FALSE(IsFingerprintFormat(bad)) << bad;  // the checker itself must be strict
  }
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const SigningKey key = SigningKey::Generate();
    const std::string fp = Fingerprint(key.public_key());
    EXPECT_TRUE(IsFingerprintFormat(fp)) << '"' << fp << '"';
    EXPECT_EQ(Fingerprint(key.public_key()), fp) << "not deterministic";
    seen.insert(fp);
  }
  EXPECT_EQ(seen.size(), 50u) << "different keys gave the same fingerprint";
}

TEST(KeysTest, FingerprintIsBlake2b128OfTheKey) {
  const Bytes key = RandomBytes(kPublicKeySize);
  std::string expected;
  const std::string hex = ToHex(Blake2b(key, 16));
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    expected += (i == 0 ? "" : " ") + hex.substr(i, 4);
  }
  EXPECT_EQ(Fingerprint(key), expected);
  Bytes changed = key;
  changed[31] ^= 0x01;
  EXPECT_NE(Fingerprint(changed), Fingerprint(key));
}

TEST(KeysTest, SigningKeyFromSecretRoundTrips) {
  const SigningKey key = SigningKey::Generate();
  auto back = SigningKey::FromSecret(key.secret().view());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->public_key(), key.public_key());
  const Bytes sig = back->Sign(kDomainCertificate, ToBytes("m"));
  EXPECT_TRUE(VerifySignature(key.public_key(), kDomainCertificate, ToBytes("m"), sig));
}

TEST(KeysTest, SigningKeyFromSecretRefusesWrongLengthAndDamage) {
  const SigningKey key = SigningKey::Generate();
  const Bytes secret(key.secret().view().begin(), key.secret().view().end());
  EXPECT_FALSE(SigningKey::FromSecret(ByteView(secret).first(63)).ok());
  EXPECT_FALSE(SigningKey::FromSecret(ByteView(secret).first(32)).ok());
  EXPECT_FALSE(SigningKey::FromSecret({}).ok());
  Bytes longer = secret;
  longer.push_back(0);
  EXPECT_FALSE(SigningKey::FromSecret(longer).ok());
  for (std::size_t i = 32; i < 64; ++i) {  // the public half
    Bytes damaged = secret;
    damaged[i] ^= 0x01;
    auto result = SigningKey::FromSecret(damaged);
    EXPECT_FALSE(result.ok()) << "byte " << i;
    if (!result.ok()) {
      EXPECT_FALSE(result.error().message.empty());
    }
  }
}

TEST(KeysTest, IdentityExportAndImportGiveTheSamePublicKeys) {
  const Identity id = Identity::Generate();
  const PublicIdentity& pub = id.public_identity();
  ASSERT_EQ(pub.sign.size(), kPublicKeySize);
  ASSERT_EQ(pub.agree.size(), kPublicKeySize);
  ASSERT_EQ(pub.transport.size(), kPublicKeySize);
  EXPECT_NE(pub.agree, pub.transport);

  const SecretBytes exported = id.ExportSecret();
  ASSERT_EQ(exported.size(), Identity::kSecretSize);
  auto back = Identity::FromSecret(exported);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->public_identity().sign, pub.sign);
  EXPECT_EQ(back->public_identity().agree, pub.agree);
  EXPECT_EQ(back->public_identity().transport, pub.transport);
  EXPECT_TRUE(ConstantTimeEqual(back->agree_secret().view(), id.agree_secret().view()));
  EXPECT_TRUE(ConstantTimeEqual(back->transport_secret().view(), id.transport_secret().view()));
  EXPECT_TRUE(ConstantTimeEqual(back->ExportSecret().view(), exported.view()));

  // The public keys belong to the secrets: X25519 public = scalar * base point.
  Bytes derived(crypto_scalarmult_BYTES);
  ASSERT_EQ(crypto_scalarmult_base(derived.data(), id.agree_secret().data()), 0);
  EXPECT_EQ(derived, pub.agree);
  ASSERT_EQ(crypto_scalarmult_base(derived.data(), id.transport_secret().data()), 0);
  EXPECT_EQ(derived, pub.transport);

  // The re-imported identity signs for the same public key.
  const Bytes sig = back->Sign(kDomainEnrollment, ToBytes("enrol me"));
  EXPECT_TRUE(VerifySignature(pub.sign, kDomainEnrollment, ToBytes("enrol me"), sig));
}

TEST(KeysTest, IdentitiesAreDistinct) {
  const Identity a = Identity::Generate();
  const Identity b = Identity::Generate();
  EXPECT_NE(a.public_identity().sign, b.public_identity().sign);
  EXPECT_NE(a.public_identity().agree, b.public_identity().agree);
  EXPECT_NE(a.public_identity().transport, b.public_identity().transport);
}

TEST(KeysTest, IdentityFromSecretRefusesWrongLength) {
  const SecretBytes exported = Identity::Generate().ExportSecret();
  for (std::size_t size : {0u, 64u, 127u, 129u, 256u}) {
    SecretBytes material(size);
    std::copy_n(exported.data(), std::min(size, exported.size()), material.data());
    auto result = Identity::FromSecret(material);
    EXPECT_FALSE(result.ok()) << size;
    if (!result.ok()) {
      EXPECT_FALSE(result.error().message.empty());
    }
  }
}

TEST(KeysTest, IdentityFromSecretRefusesDamagedSigningKey) {
  const SecretBytes exported = Identity::Generate().ExportSecret();
  // Bytes 32..63 are the public half of the Ed25519 secret key (seed || public).
  for (std::size_t i = 32; i < 64; ++i) {
    SecretBytes damaged = exported.Clone();
    damaged.data()[i] ^= 0x01;
    EXPECT_FALSE(Identity::FromSecret(damaged).ok()) << "byte " << i;
  }
  // The seed half: its derived public key no longer matches the stored one.
  SecretBytes damaged_seed = exported.Clone();
  damaged_seed.data()[0] ^= 0x01;
  EXPECT_FALSE(Identity::FromSecret(damaged_seed).ok());
}

}  // namespace
}  // namespace comity::crypto
