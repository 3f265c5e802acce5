// Key pairs of Comity: an Ed25519 signing key (network roots and members), and a member's
// Identity (Ed25519 + X25519 + Curve25519 for ZeroMQ CURVE). Secret halves live in
// SecretBytes (locked, wiped); objects are movable, not copyable. Signatures always cover
// DOMAIN || message so that bytes signed for one purpose never verify for another.
// All functions are pure and thread-safe on distinct objects; const methods on one object
// may be called concurrently.
#pragma once

#include <string>
#include <string_view>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::crypto {

inline constexpr std::size_t kPublicKeySize = 32;
inline constexpr std::size_t kSignatureSize = 64;

// Signature domains (ASCII, followed by one 0x00 byte when signed; docs/PROTOCOL.md).
inline constexpr std::string_view kDomainCertificate = "comity/v1/certificate";
inline constexpr std::string_view kDomainRoster = "comity/v1/roster";
inline constexpr std::string_view kDomainEnrollment = "comity/v1/enrollment";
inline constexpr std::string_view kDomainEnvelope = "comity/v1/envelope";
inline constexpr std::string_view kDomainReceipt = "comity/v1/receipt";
inline constexpr std::string_view kDomainEvidenceBundle = "comity/v1/evidence-bundle";

// True when `signature` is a valid Ed25519 signature by `public_key` over DOMAIN 0x00 message.
bool VerifySignature(ByteView public_key, std::string_view domain, ByteView message,
                     ByteView signature);

// True when `key` is 32 bytes that canonically encode a point of Ed25519's prime-order
// subgroup other than a point of small order (libsodium crypto_core_ed25519_is_valid_point).
// A small-order key lets anyone make signatures that verify under it. A key with a torsion
// component is one of eight encodings of the same secret (its holder can still sign, with
// about eight tries a signature), so it would slip past byte comparisons with revoked or
// listed keys. Generated keys always pass.
bool IsValidEd25519PublicKey(ByteView key);

// True when `key` is 32 bytes and not an X25519 point of low order. A low-order key gives an
// all-zero shared secret with every key, so a content key sealed to it cannot be opened (and
// would not be secret). Points of large order on the twist pass, as RFC 7748 allows.
bool IsValidX25519PublicKey(ByteView key);

// The fingerprint of an Ed25519 public key: BLAKE2b-128 of the key, as 8 groups of
// 4 lower-case hex digits separated by spaces ("3f2a 9c01 ..."), for reading aloud.
std::string Fingerprint(ByteView sign_public_key);

// An Ed25519 key pair (a network root, or the signing part of an Identity).
class SigningKey {
 public:
  static SigningKey Generate();
  // From the 64-byte libsodium secret key (seed || public key); checks the halves agree.
  static Result<SigningKey> FromSecret(ByteView secret64);

  const Bytes& public_key() const { return public_key_; }
  const SecretBytes& secret() const { return secret_; }
  Bytes Sign(std::string_view domain, ByteView message) const;

 private:
  SigningKey(SecretBytes secret, Bytes public_key)
      : secret_(std::move(secret)), public_key_(std::move(public_key)) {}
  SecretBytes secret_;
  Bytes public_key_;
};

// The public half of an Identity.
struct PublicIdentity {
  Bytes sign;       // Ed25519
  Bytes agree;      // X25519
  Bytes transport;  // Curve25519 for ZeroMQ CURVE
};

// A member node's three key pairs.
class Identity {
 public:
  // Size of the exported secret material: ed25519 sk (64) || x25519 sk (32) || curve sk (32).
  static constexpr std::size_t kSecretSize = 128;

  static Identity Generate();
  static Result<Identity> FromSecret(const SecretBytes& material);
  SecretBytes ExportSecret() const;

  const PublicIdentity& public_identity() const { return public_; }
  const SigningKey& signing_key() const { return sign_; }
  const SecretBytes& agree_secret() const { return agree_secret_; }
  const SecretBytes& transport_secret() const { return transport_secret_; }
  Bytes Sign(std::string_view domain, ByteView message) const { return sign_.Sign(domain, message); }

 private:
  Identity(SigningKey sign, SecretBytes agree, SecretBytes transport, PublicIdentity pub)
      : sign_(std::move(sign)), agree_secret_(std::move(agree)),
        transport_secret_(std::move(transport)), public_(std::move(pub)) {}
  SigningKey sign_;
  SecretBytes agree_secret_;
  SecretBytes transport_secret_;
  PublicIdentity public_;
};

}  // namespace comity::crypto
