#include "crypto/envelope.h"

#include <sodium.h>

#include <set>
#include <string>

namespace comity::crypto {
namespace {

constexpr std::size_t kContentKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kWrappedKeySize = kContentKeySize + crypto_box_SEALBYTES;
constexpr std::size_t kEnvelopeNonceSize = 16;
constexpr std::string_view kCommitLabel = "comity/v1/key-commitment";

OpenError Fail(OpenCode code, std::string message) { return OpenError{code, std::move(message)}; }

// Binds the ciphertext to one content key (a sender cannot make one envelope that opens to
// different plaintexts for different recipients).
// A message's content key: on the stack and wiped when it goes out of scope. sodium_malloc
// (SecretBytes) is meant for long-lived secrets: it maps guard pages, and for a key that lives
// for one message its system calls cost more than the encryption.
struct ContentKey {
  std::uint8_t bytes[kContentKeySize];
  ContentKey() = default;
  ContentKey(const ContentKey&) = delete;
  ContentKey& operator=(const ContentKey&) = delete;
  ~ContentKey() { sodium_memzero(bytes, sizeof bytes); }
  std::uint8_t* data() { return bytes; }
  const std::uint8_t* data() const { return bytes; }
  std::size_t size() const { return sizeof bytes; }
  ByteView view() const { return {bytes, sizeof bytes}; }
};

Bytes KeyCommitment(const ContentKey& content_key) {
  return Blake2bKeyed(content_key.view(), AsBytes(kCommitLabel), 32);
}

// For messages: a party read from an envelope may hold anything until it is checked.
std::string PartyName(const v1::Party& p) {
  return EscapeForDisplay(p.member_id()) + "@" + EscapeForDisplay(p.network_id());
}
bool IsValidParty(const v1::Party& p) {
  return IsValidNetworkId(p.network_id()) && IsValidMemberId(p.member_id());
}
bool SameParty(const v1::Party& a, const v1::Party& b) {
  return a.network_id() == b.network_id() && a.member_id() == b.member_id();
}

// The rule for the header's attachment list (docs/PROTOCOL.md §6), one for what Seal is given
// and what Open and Inspect receive: at most kMaxFiles, each named by a 32-byte stream hash,
// with a size a stream can have (§7), and no stream twice. Takes the caller's vector or the
// parsed header's repeated field.
template <class FileList>
Status<> CheckFiles(const FileList& files) {
  if (static_cast<std::size_t>(files.size()) > static_cast<std::size_t>(kMaxFiles)) {
    return MakeError("lists " + std::to_string(files.size()) + " files; at most " + std::to_string(kMaxFiles) +
                     " are allowed");
  }
  std::set<std::string> hashes;
  int index = 0;
  for (const v1::FileRef& file : files) {
    const std::string which = "file " + std::to_string(index++);
    if (file.stream_hash().size() != 32) {
      return MakeError(which + " has a stream hash of " + std::to_string(file.stream_hash().size()) +
                       " bytes instead of 32");
    }
    if (file.stream_size() < kMinFileStreamSize || file.stream_size() > kMaxFileStreamSize) {
      return MakeError(which + " has a stream size of " + std::to_string(file.stream_size()) +
                       " bytes, outside " + std::to_string(kMinFileStreamSize) + " to " +
                       std::to_string(kMaxFileStreamSize));
    }
    if (!hashes.insert(file.stream_hash()).second) {
      return MakeError(which + " repeats the stream hash of an earlier file");
    }
  }
  return {};
}

// The message id (docs/PROTOCOL.md 6.3): created_at as 8 big-endian bytes, then BLAKE2b-192
// of the signed body. Ids sort by creation time, so an index keyed by them grows at its end
// instead of taking a write at a random page for every message.
Bytes IdOf(const std::string& signed_body, std::int64_t created_at) {
  Bytes id(8);
  const auto t = static_cast<std::uint64_t>(created_at);
  for (int i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
  Bytes digest = Blake2b(AsBytes(signed_body), 24);
  id.insert(id.end(), digest.begin(), digest.end());
  return id;
}

}  // namespace

const char* OpenCodeName(OpenCode code) {
  switch (code) {
    case OpenCode::kMalformed: return "malformed";
    case OpenCode::kBadSignature: return "bad signature";
    case OpenCode::kNotRecipient: return "not a recipient";
    case OpenCode::kTampered: return "tampered";
    case OpenCode::kExpired: return "expired";
    case OpenCode::kUnknownSender: return "unknown sender";
    case OpenCode::kRevokedSender: return "revoked sender";
  }
  return "unknown";
}

v1::Party PartyOf(const v1::Certificate& certificate) {
  v1::Party p;
  p.set_network_id(certificate.network_id());
  p.set_member_id(certificate.member_id());
  return p;
}

Recipient RecipientOf(const v1::Certificate& certificate) {
  return Recipient{PartyOf(certificate), ToBytes(certificate.keys().agree_x25519())};
}

Result<Bytes> Seal(const Identity& sender, const v1::Party& sender_party,
                   const std::vector<Recipient>& recipients, const SealOptions& options,
                   ByteView plaintext, Bytes* content_key_out) {
  EnsureSodium();
  if (recipients.empty()) return MakeError("an envelope needs at least one recipient");
  if (plaintext.size() >= kMaxEnvelopeSize) {
    return MakeError("the content is too large for an envelope (64 MiB at most); send it as an attachment");
  }
  if (!IsValidParty(sender_party)) {
    return MakeError("sender " + PartyName(sender_party) + " is not a valid network and member id");
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (const Recipient& r : recipients) {
    if (!IsValidParty(r.party)) {
      return MakeError("recipient " + PartyName(r.party) + " is not a valid network and member id");
    }
    if (r.agree_key.size() != crypto_box_PUBLICKEYBYTES) {
      return MakeError("recipient " + PartyName(r.party) + " has no valid X25519 key");
    }
    if (!seen.emplace(r.party.network_id(), r.party.member_id()).second) {
      return MakeError("recipient " + PartyName(r.party) + " is listed twice");
    }
  }
  if (auto files = CheckFiles(options.files); !files) {
    return MakeError("the envelope's attachments are not valid: " + files.error().message);
  }
  ContentKey content_key;
  crypto_aead_xchacha20poly1305_ietf_keygen(content_key.data());

  v1::EnvelopeHeader header;
  header.set_version(1);
  *header.mutable_sender() = sender_party;
  for (const Recipient& r : recipients) *header.add_recipients() = r.party;
  header.set_created_at(options.created_at);
  header.set_expires_at(options.expires_at);
  header.set_content_type(options.content_type);
  header.set_nonce(AsString(RandomBytes(kEnvelopeNonceSize)));
  header.set_key_commitment(AsString(KeyCommitment(content_key)));
  for (const v1::FileRef& file : options.files) *header.add_files() = file;

  v1::EnvelopeBody body;
  body.set_header(header.SerializeAsString());
  for (const Recipient& r : recipients) {
    Bytes wrapped(kWrappedKeySize);
    // Fails when the recipient's key is of low order (the shared secret would be all zeros):
    // the wrapped key could never be opened, so the envelope must not be sent.
    if (crypto_box_seal(wrapped.data(), content_key.data(), content_key.size(), r.agree_key.data()) != 0) {
      return MakeError("cannot seal the content key to recipient " + PartyName(r.party) +
                       ": its X25519 key is of low order, not a usable public key");
    }
    body.add_wrapped_keys(AsString(wrapped));
  }
  Bytes nonce = RandomBytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  body.set_aead_nonce(AsString(nonce));
  std::string ct(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long ct_len = 0;
  const std::string& aad = body.header();
  RequireSodium(crypto_aead_xchacha20poly1305_ietf_encrypt(
                    reinterpret_cast<std::uint8_t*>(ct.data()), &ct_len, plaintext.data(), plaintext.size(),
                    reinterpret_cast<const std::uint8_t*>(aad.data()), aad.size(), nullptr, nonce.data(),
                    content_key.data()),
                "crypto_aead_xchacha20poly1305_ietf_encrypt");
  ct.resize(static_cast<std::size_t>(ct_len));
  body.set_ciphertext(std::move(ct));

  v1::Signed envelope;
  envelope.set_body(body.SerializeAsString());
  envelope.set_signature(AsString(sender.Sign(kDomainEnvelope, AsBytes(envelope.body()))));
  Bytes out = ToBytes(envelope.SerializeAsString());
  if (out.size() > kMaxEnvelopeSize) {
    return MakeError("the envelope would be larger than 64 MiB; send large content as an attachment");
  }
  if (content_key_out != nullptr) content_key_out->assign(content_key.data(), content_key.data() + content_key.size());
  return out;
}

namespace {

// An envelope whose signature, sender and format hold: what Open and Inspect share.
struct Checked {
  v1::EnvelopeBody body;
  v1::EnvelopeHeader header;
  std::string signed_body;
};

// Everything but the sender's standing: size, format, the signature under `sender`'s key,
// that the header names `sender`, and expiry (unless `now` is 0).
Result<Checked, OpenError> CheckSignedBy(ByteView envelope_bytes, const v1::Certificate& sender, std::int64_t now,
                                         bool verify_signature = true) {
  EnsureSodium();
  if (envelope_bytes.size() > kMaxEnvelopeSize) {
    return Fail(OpenCode::kMalformed, "envelope is larger than 64 MiB");
  }
  v1::Signed envelope;
  if (!envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size())) ||
      envelope.signature().size() != kSignatureSize || envelope.body().empty()) {
    return Fail(OpenCode::kMalformed, "envelope is malformed");
  }
  if (verify_signature && !VerifySignature(AsBytes(sender.keys().sign_ed25519()), kDomainEnvelope,
                                           AsBytes(envelope.body()), AsBytes(envelope.signature()))) {
    return Fail(OpenCode::kBadSignature,
                "envelope signature does not verify under the key of " + PartyName(PartyOf(sender)));
  }
  Checked c;
  v1::EnvelopeBody& body = c.body;
  v1::EnvelopeHeader& header = c.header;
  if (!body.ParseFromString(envelope.body()) || !header.ParseFromString(body.header()) ||
      header.version() != 1 || header.recipients_size() != body.wrapped_keys_size() ||
      body.aead_nonce().size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      body.ciphertext().size() < crypto_aead_xchacha20poly1305_ietf_ABYTES ||
      header.key_commitment().size() != 32 || header.nonce().size() != kEnvelopeNonceSize) {
    return Fail(OpenCode::kMalformed, "envelope body is malformed");
  }
  std::set<std::pair<std::string, std::string>> listed;
  for (const v1::Party& r : header.recipients()) {
    if (!IsValidParty(r)) {
      return Fail(OpenCode::kMalformed, "envelope lists a recipient that is not a valid network and member id");
    }
    if (!listed.emplace(r.network_id(), r.member_id()).second) {
      return Fail(OpenCode::kMalformed, "envelope lists recipient " + PartyName(r) + " twice");
    }
  }
  if (auto files = CheckFiles(header.files()); !files) {
    return Fail(OpenCode::kMalformed, "envelope attachments are malformed: " + files.error().message);
  }
  if (!SameParty(header.sender(), PartyOf(sender))) {
    return Fail(OpenCode::kBadSignature, "envelope claims sender " + PartyName(header.sender()) +
                                             " but is signed by " + PartyName(PartyOf(sender)));
  }
  if (now != 0 && header.expires_at() != 0 && now >= header.expires_at()) {
    return Fail(OpenCode::kExpired, "envelope has expired");
  }
  c.signed_body = std::move(*envelope.mutable_body());
  return c;
}


Result<Checked, OpenError> Check(ByteView envelope_bytes, const v1::Signed& sender_certificate, const TrustStore& trust,
                                 std::int64_t now) {
  auto sender = trust.VerifyMember(sender_certificate, now);
  if (!sender) {
    OpenCode code = sender.error().code == TrustCode::kRevoked ? OpenCode::kRevokedSender
                                                               : OpenCode::kUnknownSender;
    return Fail(code, "sender: " + sender.error().message);
  }
  return CheckSignedBy(envelope_bytes, *sender, now);
}

// Unwraps nothing: decrypts a checked envelope with its content key, after the commitment.
Result<Opened, OpenError> Decrypt(Checked& c, ByteView content_key) {
  const v1::EnvelopeBody& body = c.body;
  if (content_key.size() != kContentKeySize ||
      !ConstantTimeEqual(Blake2bKeyed(content_key, AsBytes(kCommitLabel), 32), AsBytes(c.header.key_commitment()))) {
    return Fail(OpenCode::kTampered, "the content key does not match the header's commitment");
  }
  Opened out;
  const std::string& ct = body.ciphertext();
  out.plaintext.resize(ct.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.plaintext.data(), &plain_len, nullptr, reinterpret_cast<const std::uint8_t*>(ct.data()),
          ct.size(), reinterpret_cast<const std::uint8_t*>(body.header().data()), body.header().size(),
          reinterpret_cast<const std::uint8_t*>(body.aead_nonce().data()), content_key.data()) != 0) {
    return Fail(OpenCode::kTampered, "the ciphertext fails authentication");
  }
  out.plaintext.resize(static_cast<std::size_t>(plain_len));
  out.content_key.assign(content_key.begin(), content_key.end());
  out.header = std::move(c.header);
  out.message_id = IdOf(c.signed_body, out.header.created_at());
  return out;
}

}  // namespace

Result<Inspected, OpenError> Inspect(ByteView envelope, const v1::Signed& sender_certificate, const TrustStore& trust,
                                     std::int64_t now) {
  auto c = Check(envelope, sender_certificate, trust, now);
  if (!c) return c.error();
  Inspected out;
  out.message_id = IdOf(c->signed_body, c->header.created_at());
  out.header = std::move(c->header);
  return out;
}

Result<Opened, OpenError> Open(const Identity& reader, const v1::Party& reader_party,
                               ByteView envelope_bytes, const v1::Signed& sender_certificate,
                               const TrustStore& trust, std::int64_t now) {
  auto c = Check(envelope_bytes, sender_certificate, trust, now);
  if (!c) return c.error();
  const v1::EnvelopeBody& body = c->body;
  v1::EnvelopeHeader& header = c->header;
  int index = -1;
  for (int i = 0; i < header.recipients_size(); ++i) {
    if (SameParty(header.recipients(i), reader_party)) {
      index = i;
      break;
    }
  }
  if (index < 0) return Fail(OpenCode::kNotRecipient, PartyName(reader_party) + " is not a recipient");

  const std::string& wrapped = body.wrapped_keys(index);
  ContentKey content_key;
  if (wrapped.size() != kWrappedKeySize ||
      crypto_box_seal_open(content_key.data(), reinterpret_cast<const std::uint8_t*>(wrapped.data()),
                           wrapped.size(), reader.public_identity().agree.data(),
                           reader.agree_secret().data()) != 0) {
    return Fail(OpenCode::kTampered, "the content key sealed to this recipient does not open");
  }
  return Decrypt(*c, content_key.view());
}

Result<Opened, OpenError> OpenDisclosed(ByteView envelope, ByteView content_key, const v1::Certificate& sender) {
  auto c = CheckSignedBy(envelope, sender, 0);
  if (!c) return c.error();
  return Decrypt(*c, content_key);
}

Result<Opened, OpenError> OpenDisclosedVerified(ByteView envelope, ByteView content_key,
                                                const v1::Certificate& sender) {
  auto c = CheckSignedBy(envelope, sender, 0, false);
  if (!c) return c.error();
  return Decrypt(*c, content_key);
}

Bytes MessageId(ByteView envelope_bytes) {
  v1::Signed envelope;
  v1::EnvelopeBody body;
  v1::EnvelopeHeader header;
  if (envelope_bytes.size() > kMaxEnvelopeSize) return {};
  if (!envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size())) ||
      !body.ParseFromString(envelope.body()) || !header.ParseFromString(body.header())) {
    return {};
  }
  return IdOf(envelope.body(), header.created_at());
}

}  // namespace comity::crypto
