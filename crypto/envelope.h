// The multi-recipient envelope (docs/PROTOCOL.md "Envelope"): Seal encrypts one plaintext
// for many recipients under one random content key and signs the whole with the sender's
// Ed25519 key; Open checks, in order, format, the sender's standing in the TrustStore, the
// signature, expiry, that the reader is a recipient, and the ciphertext, and says which
// check failed. Pure functions over bytes; thread-safe for distinct arguments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/trust.h"
#include "proto/envelope.pb.h"

namespace comity::crypto {

// The largest serialized envelope Open and MessageId read: anything longer is malformed,
// refused before it is parsed (protobuf lengths are int; past 2 GiB they would wrap).
inline constexpr std::size_t kMaxEnvelopeSize = std::size_t{64} << 20;

enum class OpenCode {
  kMalformed,      // not an envelope, or a field breaks the format rules
  kBadSignature,   // the signature is not the claimed sender's over these bytes
  kNotRecipient,   // the reader is not among the recipients
  kTampered,       // key or ciphertext fails authentication
  kExpired,        // past the envelope's expiry
  kUnknownSender,  // sender certificate not from a trusted network, superseded or not valid now
  kRevokedSender,  // sender revoked by its network
};
using OpenError = TypedError<OpenCode>;
const char* OpenCodeName(OpenCode code);

struct Recipient {
  v1::Party party;
  Bytes agree_key;  // the recipient's X25519 public key
};
Recipient RecipientOf(const v1::Certificate& certificate);
v1::Party PartyOf(const v1::Certificate& certificate);

struct SealOptions {
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;  // 0: never
  std::string content_type;
  // Attachments (header field `files`): at most kMaxFiles, each a 32-byte stream hash and a
  // stream size from kMinFileStreamSize to kMaxFileStreamSize, no hash twice. The caller
  // wraps the plaintext in a WithFiles when there are any.
  std::vector<v1::FileRef> files;
};
inline constexpr int kMaxFiles = 64;
inline constexpr std::uint64_t kMinFileStreamSize = 93;                     // an empty file (§7)
inline constexpr std::uint64_t kMaxFileStreamSize = std::uint64_t{1} << 42;  // 4 TiB

// Seals `plaintext` from `sender` (whose party is `sender_party`) to `recipients`. Returns the
// serialized comity.v1.Signed envelope. Fails only on bad arguments: no recipients, a party
// that is not a valid (network id, member id), duplicate recipients, a key that is not 32
// bytes or that nothing can be sealed to (a low-order X25519 point), or an envelope that
// would exceed kMaxEnvelopeSize. When `content_key` is given it receives the message's
// content key (32 bytes), which the sender's archive keeps to disclose this one message in an
// evidence bundle (docs/PROTOCOL.md §13).
Result<Bytes> Seal(const Identity& sender, const v1::Party& sender_party,
                   const std::vector<Recipient>& recipients, const SealOptions& options,
                   ByteView plaintext, Bytes* content_key = nullptr);

struct Opened {
  v1::EnvelopeHeader header;
  Bytes plaintext;
  Bytes message_id;
  Bytes content_key;  // 32 bytes: what discloses this message's plaintext (§13)
};

// Opens `envelope` for `reader` (party `reader_party`). `sender_certificate` is the signed
// certificate the sender claims; `trust` decides whether it is a current, unrevoked member.
Result<Opened, OpenError> Open(const Identity& reader, const v1::Party& reader_party,
                               ByteView envelope, const v1::Signed& sender_certificate,
                               const TrustStore& trust, std::int64_t now);

// Opens `envelope` with a disclosed content key (an evidence bundle, §13), for someone who is
// no recipient: checks the format, the signature under `sender`'s signing key (whose standing
// the caller has established), that the header names `sender` as sender, the key against the
// header's commitment, and the ciphertext. Expiry is not checked: evidence outlives it.
Result<Opened, OpenError> OpenDisclosed(ByteView envelope, ByteView content_key, const v1::Certificate& sender);
// The same for an envelope whose signature the caller has just verified under `sender`'s key
// (an evidence bundle's verifier, which verifies it while finding the certificate that
// certifies it): every check of OpenDisclosed but the signature, so it is not verified twice.
Result<Opened, OpenError> OpenDisclosedVerified(ByteView envelope, ByteView content_key,
                                                const v1::Certificate& sender);

// What a relay can check without being a recipient: everything Open checks before it
// unwraps the key (size, format, the sender's membership and signature, expiry).
struct Inspected {
  v1::EnvelopeHeader header;
  Bytes message_id;
};
Result<Inspected, OpenError> Inspect(ByteView envelope, const v1::Signed& sender_certificate, const TrustStore& trust,
                                     std::int64_t now);

// The message id, 32 bytes: the header's created_at as 8 big-endian bytes, then BLAKE2b-192
// of the envelope's signed body. Empty if `envelope` is longer than kMaxEnvelopeSize or its
// body or header does not parse.
Bytes MessageId(ByteView envelope);

}  // namespace comity::crypto
