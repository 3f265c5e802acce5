#include "crypto/keys.h"

#include <sodium.h>

#include <algorithm>

namespace comity::crypto {
namespace {

Bytes DomainMessage(std::string_view domain, ByteView message) {
  Bytes m;
  m.reserve(domain.size() + 1 + message.size());
  m.insert(m.end(), domain.begin(), domain.end());
  m.push_back(0);
  m.insert(m.end(), message.begin(), message.end());
  return m;
}

// Derives the public key of an X25519 / Curve25519 secret scalar. Cannot fail: a clamped
// scalar is never a multiple of the base point's order.
Bytes ScalarBase(const SecretBytes& secret) {
  Bytes pub(crypto_scalarmult_BYTES);
  RequireSodium(crypto_scalarmult_base(pub.data(), secret.data()), "crypto_scalarmult_base");
  return pub;
}

SecretBytes NewBoxSecret() {
  SecretBytes secret(crypto_box_SECRETKEYBYTES);
  Bytes pub(crypto_box_PUBLICKEYBYTES);
  RequireSodium(crypto_box_keypair(pub.data(), secret.data()), "crypto_box_keypair");
  return secret;
}

// A fixed clamped scalar (2^254 + 8): X25519 of it with a point is all zeros, which
// crypto_scalarmult reports as -1, exactly when the point's order divides 8.
constexpr std::uint8_t kLowOrderProbe[crypto_scalarmult_SCALARBYTES] = {
    8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40};

}  // namespace

bool VerifySignature(ByteView public_key, std::string_view domain, ByteView message,
                     ByteView signature) {
  EnsureSodium();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  Bytes m = DomainMessage(domain, message);
  return crypto_sign_verify_detached(signature.data(), m.data(), m.size(), public_key.data()) == 0;
}

bool IsValidEd25519PublicKey(ByteView key) {
  EnsureSodium();
  return key.size() == crypto_core_ed25519_BYTES && crypto_core_ed25519_is_valid_point(key.data()) == 1;
}

bool IsValidX25519PublicKey(ByteView key) {
  EnsureSodium();
  if (key.size() != crypto_scalarmult_BYTES) return false;
  std::uint8_t product[crypto_scalarmult_BYTES];
  return crypto_scalarmult(product, kLowOrderProbe, key.data()) == 0;
}

std::string Fingerprint(ByteView sign_public_key) {
  std::string hex = ToHex(Blake2b(sign_public_key, 16));
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) out.push_back(' ');
    out.append(hex, i, 4);
  }
  return out;
}

SigningKey SigningKey::Generate() {
  EnsureSodium();
  SecretBytes secret(crypto_sign_SECRETKEYBYTES);
  Bytes pub(crypto_sign_PUBLICKEYBYTES);
  RequireSodium(crypto_sign_keypair(pub.data(), secret.data()), "crypto_sign_keypair");
  return SigningKey(std::move(secret), std::move(pub));
}

Result<SigningKey> SigningKey::FromSecret(ByteView secret64) {
  EnsureSodium();
  if (secret64.size() != crypto_sign_SECRETKEYBYTES) {
    return MakeError("signing key has the wrong length");
  }
  // Recompute the key pair from the seed: a stored public half that disagrees means damage.
  SecretBytes secret(crypto_sign_SECRETKEYBYTES);
  Bytes pub(crypto_sign_PUBLICKEYBYTES);
  RequireSodium(crypto_sign_seed_keypair(pub.data(), secret.data(), secret64.data()),
                "crypto_sign_seed_keypair");
  if (!ConstantTimeEqual(pub, secret64.subspan(crypto_sign_SEEDBYTES))) {
    return MakeError("signing key is damaged: its public half does not match its seed");
  }
  return SigningKey(std::move(secret), std::move(pub));
}

Bytes SigningKey::Sign(std::string_view domain, ByteView message) const {
  Bytes m = DomainMessage(domain, message);
  Bytes sig(crypto_sign_BYTES);
  RequireSodium(crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), secret_.data()),
                "crypto_sign_detached");
  return sig;
}

Identity Identity::Generate() {
  SigningKey sign = SigningKey::Generate();
  SecretBytes agree = NewBoxSecret();
  SecretBytes transport = NewBoxSecret();
  PublicIdentity pub{sign.public_key(), ScalarBase(agree), ScalarBase(transport)};
  return Identity(std::move(sign), std::move(agree), std::move(transport), std::move(pub));
}

Result<Identity> Identity::FromSecret(const SecretBytes& material) {
  if (material.size() != kSecretSize) return MakeError("identity key material has the wrong length");
  auto sign = SigningKey::FromSecret(material.view().subspan(0, 64));
  if (!sign) return sign.error();
  SecretBytes agree(32);
  SecretBytes transport(32);
  std::copy_n(material.data() + 64, 32, agree.data());
  std::copy_n(material.data() + 96, 32, transport.data());
  PublicIdentity pub{sign->public_key(), ScalarBase(agree), ScalarBase(transport)};
  return Identity(std::move(sign).value(), std::move(agree), std::move(transport), std::move(pub));
}

SecretBytes Identity::ExportSecret() const {
  SecretBytes out(kSecretSize);
  std::copy_n(sign_.secret().data(), 64, out.data());
  std::copy_n(agree_secret_.data(), 32, out.data() + 64);
  std::copy_n(transport_secret_.data(), 32, out.data() + 96);
  return out;
}

}  // namespace comity::crypto
