// Tests of crypto/keystore: passphrase sealing of secret keys (Argon2id + XChaCha20-Poly1305).
// Every keystore here uses MinimumKdf() so that hundreds of opens stay fast.
#include "crypto/keystore.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "crypto/keys.h"
#include "proto/node.pb.h"
#include "tests/unit/test_network.h"

namespace comity::crypto {
namespace {

constexpr std::string_view kWrongPassphraseMessage = "wrong passphrase or damaged keystore";

Bytes Passphrase(std::string_view text) { return ToBytes(text); }

SecretBytes SecretOf(ByteView bytes) {
  SecretBytes secret(bytes.size());
  std::copy(bytes.begin(), bytes.end(), secret.data());
  return secret;
}

Bytes Copy(const SecretBytes& secret) { return Bytes(secret.data(), secret.data() + secret.size()); }

// A node keystore holding a fresh identity's secret under "correct horse".
class KeystoreTest : public ::testing::Test {
 protected:
  SecretBytes secret_ = Identity::Generate().ExportSecret();
  Bytes passphrase_ = Passphrase("correct horse");
  Bytes keystore_ = [this] {
    auto sealed = SealKeystore("node", secret_, passphrase_, MinimumKdf());
    EXPECT_TRUE(sealed.ok()) << sealed.error().message;
    return sealed.ok() ? sealed.value() : Bytes{};
  }();

  // The keystore with one field changed and re-encoded, as an attacker could write it.
  template <class Change>
  Bytes Altered(Change change) const {
    v1::Keystore ks;
    EXPECT_TRUE(ks.ParseFromArray(keystore_.data(), static_cast<int>(keystore_.size())));
    change(ks);
    return ToBytes(ks.SerializeAsString());
  }
};

TEST_F(KeystoreTest, RoundTripReturnsTheSecret) {
  auto opened = OpenKeystore(keystore_, "node", passphrase_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(Copy(*opened), Copy(secret_));
}

TEST_F(KeystoreTest, TwoSealsOfOneSecretDiffer) {
  auto again = SealKeystore("node", secret_, passphrase_, MinimumKdf());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_NE(*again, keystore_);  // fresh salt and nonce each time
}

TEST_F(KeystoreTest, WrongPassphraseRefused) {
  auto opened = OpenKeystore(keystore_, "node", Passphrase("correct horsf"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message, kWrongPassphraseMessage);

  auto empty = OpenKeystore(keystore_, "node", Passphrase(""));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, kWrongPassphraseMessage);
}

TEST_F(KeystoreTest, WrongKindRefused) {
  auto opened = OpenKeystore(keystore_, "root", passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message, "keystore holds a node key, not a root key");
}

TEST_F(KeystoreTest, RelabelledKindFailsAuthentication) {
  // The kind is authenticated: rewriting "node" to "root" in the clear does not make a root keystore.
  Bytes relabelled = Altered([](v1::Keystore& ks) { ks.set_kind("root"); });
  auto opened = OpenKeystore(relabelled, "root", passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message, kWrongPassphraseMessage);
}

TEST_F(KeystoreTest, EverySingleByteFlipRefused) {
  int checked = 0;
  test::ForEachByteFlip(AsString(keystore_), [&](const std::string& where, const std::string& damaged) {
    ++checked;
    auto opened = OpenKeystore(AsBytes(damaged), "node", passphrase_);
    EXPECT_FALSE(opened.ok()) << where << " still opens";
  });
  EXPECT_EQ(checked, 3 * static_cast<int>(keystore_.size()));
}

TEST_F(KeystoreTest, OutOfRangeParametersRefusedBeforeDerivation) {
  // "out of range" (not "ran out of memory") shows no allocation was attempted.
  const std::string out_of_range = "key derivation parameters are out of range";
  const KdfParams huge_memory{MinimumKdf().opslimit, std::uint64_t{100} << 30};
  const KdfParams huge_passes{std::uint64_t{1} << 32, MinimumKdf().memlimit};
  const KdfParams too_cheap{MinimumKdf().opslimit, MinimumKdf().memlimit - 1};
  for (const KdfParams& params : {huge_memory, huge_passes, too_cheap}) {
    auto sealed = SealKeystore("node", secret_, passphrase_, params);
    ASSERT_FALSE(sealed.ok());
    EXPECT_EQ(sealed.error().message, out_of_range);

    // A crafted keystore asking a reader for these costs.
    Bytes crafted = Altered([&](v1::Keystore& ks) {
      ks.set_opslimit(params.opslimit);
      ks.set_memlimit(params.memlimit);
    });
    auto opened = OpenKeystore(crafted, "node", passphrase_);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().message, out_of_range);
  }
}

TEST_F(KeystoreTest, MalformedKeystoreRefused) {
  auto garbage = OpenKeystore(ToBytes("not a keystore"), "node", passphrase_);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().message, "keystore is malformed");

  Bytes short_salt = Altered([](v1::Keystore& ks) { ks.set_salt("0123456789"); });
  auto opened = OpenKeystore(short_salt, "node", passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message, "keystore is malformed");
}

TEST_F(KeystoreTest, OversizedKeystoreIsMalformed) {
  // Padding with an unknown field keeps the meaning: a keystore of exactly kMaxKeystoreSize
  // opens, one byte more is refused before it is parsed.
  const std::string at_limit = test::PaddedTo(AsString(keystore_), kMaxKeystoreSize);
  ASSERT_EQ(at_limit.size(), kMaxKeystoreSize);
  auto opened = OpenKeystore(AsBytes(at_limit), "node", passphrase_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(Copy(*opened), Copy(secret_));
  EXPECT_TRUE(KeystoreParams(AsBytes(at_limit)).ok());

  const std::string over_limit = test::PaddedTo(AsString(keystore_), kMaxKeystoreSize + 1);
  ASSERT_EQ(over_limit.size(), kMaxKeystoreSize + 1);
  auto refused = OpenKeystore(AsBytes(over_limit), "node", passphrase_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "keystore is malformed");
  EXPECT_FALSE(KeystoreParams(AsBytes(over_limit)).ok());
}

TEST_F(KeystoreTest, WrongKindMessageDoesNotEchoControlCharacters) {
  // The kind is read before anything is authenticated; a crafted one must not reach a terminal.
  Bytes crafted = Altered([](v1::Keystore& ks) { ks.set_kind("node\x1b[2J\nwrong passphrase"); });
  auto opened = OpenKeystore(crafted, "node", passphrase_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message, "keystore holds a differently labelled key, not a node key");
}

TEST_F(KeystoreTest, KeystoreParamsReportsTheParameters) {
  auto minimum = KeystoreParams(keystore_);
  ASSERT_TRUE(minimum.ok()) << minimum.error().message;
  EXPECT_EQ(minimum->opslimit, MinimumKdf().opslimit);
  EXPECT_EQ(minimum->memlimit, MinimumKdf().memlimit);

  const KdfParams custom{MinimumKdf().opslimit + 1, MinimumKdf().memlimit * 2};
  auto sealed = SealKeystore("root", secret_, passphrase_, custom);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  auto reported = KeystoreParams(*sealed);
  ASSERT_TRUE(reported.ok()) << reported.error().message;
  EXPECT_EQ(reported->opslimit, custom.opslimit);
  EXPECT_EQ(reported->memlimit, custom.memlimit);
  auto opened = OpenKeystore(*sealed, "root", passphrase_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(Copy(*opened), Copy(secret_));

  EXPECT_FALSE(KeystoreParams(ToBytes("not a keystore")).ok());
}

TEST(Keystore, IsBelowModerate) {
  EXPECT_TRUE(IsBelowModerate(MinimumKdf()));
  EXPECT_FALSE(IsBelowModerate(ModerateKdf()));
  const KdfParams moderate = ModerateKdf();
  EXPECT_TRUE(IsBelowModerate({moderate.opslimit - 1, moderate.memlimit}));
  EXPECT_TRUE(IsBelowModerate({moderate.opslimit, moderate.memlimit - 1}));
  EXPECT_FALSE(IsBelowModerate({moderate.opslimit + 1, moderate.memlimit * 2}));
}

TEST(Keystore, DeriveKeyIsDeterministicPerSaltAndParams) {
  const Bytes passphrase = Passphrase("correct horse");
  const Bytes salt(16, 0x11);
  const Bytes other_salt(16, 0x22);
  const KdfParams params = MinimumKdf();

  auto a = DeriveKey(passphrase, salt, params);
  auto b = DeriveKey(passphrase, salt, params);
  auto c = DeriveKey(passphrase, other_salt, params);
  auto d = DeriveKey(Passphrase("correct horsf"), salt, params);
  auto e = DeriveKey(passphrase, salt, {params.opslimit + 1, params.memlimit});
  for (const auto* key : {&a, &b, &c, &d, &e}) {
    ASSERT_TRUE(key->ok()) << key->error().message;
    EXPECT_EQ((*key)->size(), 32u);
  }
  EXPECT_EQ(Copy(*a), Copy(*b));
  EXPECT_NE(Copy(*a), Copy(*c));
  EXPECT_NE(Copy(*a), Copy(*d));
  EXPECT_NE(Copy(*a), Copy(*e));
}

TEST(Keystore, DeriveKeyRefusesWrongSaltLength) {
  auto key = DeriveKey(Passphrase("correct horse"), Bytes(15, 0x11), MinimumKdf());
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message, "key derivation salt has the wrong length");
}

TEST(Keystore, SealsArbitrarySecrets) {
  const Bytes raw = ToBytes("a root key is 64 bytes, but any secret seals");
  auto sealed = SealKeystore("root", SecretOf(raw), Passphrase("pw"), MinimumKdf());
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  auto opened = OpenKeystore(*sealed, "root", Passphrase("pw"));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(Copy(*opened), raw);
}

}  // namespace
}  // namespace comity::crypto
