// Passphrase protection of secret keys: Argon2id (crypto_pwhash) derives a 256-bit key,
// XChaCha20-Poly1305 seals the secret; salt and cost parameters travel with the output in a
// comity.v1.Keystore message. Pure functions over bytes: the caller reads and writes files.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::crypto {

struct KdfParams {
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
};

// A keystore holds at most a few hundred bytes; longer input is refused as malformed before
// it is parsed (a huge file could otherwise overflow the parser's int length).
inline constexpr std::size_t kMaxKeystoreSize = 4096;

// libsodium's MODERATE limits (3 passes, 256 MiB): what comityd uses for an operator's keys.
KdfParams ModerateKdf();
// libsodium's minimum limits: for tests only, never for an operator's keys.
KdfParams MinimumKdf();
bool IsBelowModerate(const KdfParams& params);

// Argon2id: a 32-byte key from `passphrase` and a 16-byte `salt`.
Result<SecretBytes> DeriveKey(ByteView passphrase, ByteView salt, const KdfParams& params);

// Seals `secret` under `passphrase`; `kind` names what it is ("node", "root") and is
// authenticated, so a root keystore cannot be passed off as a node keystore.
Result<Bytes> SealKeystore(std::string_view kind, const SecretBytes& secret, ByteView passphrase,
                           const KdfParams& params);

// Opens a keystore made by SealKeystore. Errors: malformed (including longer than
// kMaxKeystoreSize), wrong kind, or
// "wrong passphrase or damaged keystore" (the two cannot be told apart, by design).
Result<SecretBytes> OpenKeystore(ByteView keystore, std::string_view kind, ByteView passphrase);

// The Argon2id parameters recorded in a keystore (comityd gives root.key the node keys' cost).
Result<KdfParams> KeystoreParams(ByteView keystore);

}  // namespace comity::crypto
