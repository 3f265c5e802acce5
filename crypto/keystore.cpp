#include "crypto/keystore.h"

#include <sodium.h>

#include <algorithm>

#include "proto/node.pb.h"

namespace comity::crypto {
namespace {

constexpr std::uint64_t kMaxOpslimit = 64;
constexpr std::uint64_t kMaxMemlimit = std::uint64_t{2} << 30;  // refuse crafted 100 GiB costs

void AppendLe64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Associated data: binds kind, parameters and salt to the ciphertext.
Bytes KeystoreAad(std::string_view kind, const KdfParams& params, ByteView salt) {
  Bytes aad = ToBytes("comity/v1/keystore");
  aad.push_back(0);
  aad.insert(aad.end(), kind.begin(), kind.end());
  aad.push_back(0);
  AppendLe64(aad, params.opslimit);
  AppendLe64(aad, params.memlimit);
  aad.insert(aad.end(), salt.begin(), salt.end());
  return aad;
}

}  // namespace

KdfParams ModerateKdf() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

KdfParams MinimumKdf() { return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN}; }

bool IsBelowModerate(const KdfParams& params) {
  return params.opslimit < crypto_pwhash_OPSLIMIT_MODERATE ||
         params.memlimit < crypto_pwhash_MEMLIMIT_MODERATE;
}

Result<SecretBytes> DeriveKey(ByteView passphrase, ByteView salt, const KdfParams& params) {
  EnsureSodium();
  if (salt.size() != crypto_pwhash_SALTBYTES) return MakeError("key derivation salt has the wrong length");
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN || params.opslimit > kMaxOpslimit ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN || params.memlimit > kMaxMemlimit) {
    return MakeError("key derivation parameters are out of range");
  }
  SecretBytes key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  // crypto_pwhash declares the password non-null even when it is empty.
  static const char kEmpty = 0;
  const char* password = passphrase.empty() ? &kEmpty : reinterpret_cast<const char*>(passphrase.data());
  if (crypto_pwhash(key.data(), key.size(), password,
                    passphrase.size(), salt.data(), params.opslimit,
                    static_cast<std::size_t>(params.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError("key derivation ran out of memory");
  }
  return key;
}

Result<Bytes> SealKeystore(std::string_view kind, const SecretBytes& secret, ByteView passphrase,
                           const KdfParams& params) {
  Bytes salt = RandomBytes(crypto_pwhash_SALTBYTES);
  auto key = DeriveKey(passphrase, salt, params);
  if (!key) return key.error();
  Bytes nonce = RandomBytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  Bytes aad = KeystoreAad(kind, params, salt);
  Bytes ct(secret.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long ct_len = 0;
  RequireSodium(crypto_aead_xchacha20poly1305_ietf_encrypt(ct.data(), &ct_len, secret.data(), secret.size(),
                                                           aad.data(), aad.size(), nullptr, nonce.data(),
                                                           key->data()),
                "crypto_aead_xchacha20poly1305_ietf_encrypt");
  v1::Keystore ks;
  ks.set_format(1);
  ks.set_kind(std::string(kind));
  ks.set_opslimit(params.opslimit);
  ks.set_memlimit(params.memlimit);
  ks.set_salt(AsString(salt));
  ks.set_nonce(AsString(nonce));
  ks.set_ciphertext(AsString({ct.data(), static_cast<std::size_t>(ct_len)}));
  return ToBytes(ks.SerializeAsString());
}

namespace {
Result<v1::Keystore> ParseKeystore(ByteView bytes) {
  v1::Keystore ks;
  if (bytes.size() > kMaxKeystoreSize ||
      !ks.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || ks.format() != 1 ||
      ks.salt().size() != crypto_pwhash_SALTBYTES ||
      ks.nonce().size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      ks.ciphertext().size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return MakeError("keystore is malformed");
  }
  return ks;
}
}  // namespace

Result<KdfParams> KeystoreParams(ByteView keystore) {
  auto ks = ParseKeystore(keystore);
  if (!ks) return ks.error();
  return KdfParams{ks->opslimit(), ks->memlimit()};
}

Result<SecretBytes> OpenKeystore(ByteView keystore, std::string_view kind, ByteView passphrase) {
  auto ks = ParseKeystore(keystore);
  if (!ks) return ks.error();
  if (ks->kind() != kind) {
    // The kind is read before anything is authenticated: name it only if it is a plain word.
    const bool plain = !ks->kind().empty() && ks->kind().size() <= 16 &&
                       std::all_of(ks->kind().begin(), ks->kind().end(), [](char c) { return c >= 'a' && c <= 'z'; });
    return MakeError("keystore holds a " + (plain ? ks->kind() : std::string("differently labelled")) +
                     " key, not a " + std::string(kind) + " key");
  }
  KdfParams params{ks->opslimit(), ks->memlimit()};
  auto key = DeriveKey(passphrase, AsBytes(ks->salt()), params);
  if (!key) return key.error();
  Bytes aad = KeystoreAad(kind, params, AsBytes(ks->salt()));
  const std::string& ct = ks->ciphertext();
  SecretBytes plain(ct.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &plain_len, nullptr, reinterpret_cast<const std::uint8_t*>(ct.data()),
          ct.size(), aad.data(), aad.size(),
          reinterpret_cast<const std::uint8_t*>(ks->nonce().data()), key->data()) != 0) {
    return MakeError("wrong passphrase or damaged keystore");
  }
  return plain;
}

}  // namespace comity::crypto
