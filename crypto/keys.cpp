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

// Derives the public key of an X25519 / Curve25519 secret scalar.
Bytes ScalarBase(const SecretBytes& secret) {
  Bytes pub(crypto_scalarmult_BYTES);
  crypto_scalarmult_base(pub.data(), secret.data());
  return pub;
}

SecretBytes NewBoxSecret() {
  SecretBytes secret(crypto_box_SECRETKEYBYTES);
  Bytes pub(crypto_box_PUBLICKEYBYTES);
  crypto_box_keypair(pub.data(), secret.data());
  return secret;
}

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
  crypto_sign_keypair(pub.data(), secret.data());
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
  crypto_sign_seed_keypair(pub.data(), secret.data(), secret64.data());
  if (!ConstantTimeEqual(pub, secret64.subspan(crypto_sign_SEEDBYTES))) {
    return MakeError("signing key is damaged: its public half does not match its seed");
  }
  return SigningKey(std::move(secret), std::move(pub));
}

Bytes SigningKey::Sign(std::string_view domain, ByteView message) const {
  Bytes m = DomainMessage(domain, message);
  Bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), secret_.data());
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
