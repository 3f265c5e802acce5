#include "node/daemon/send.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <streambuf>

#include "crypto/envelope.h"
#include "crypto/stream.h"
#include "node/daemon/transfer.h"

namespace comity::node {

std::string AddressOf(const v1::Party& p) { return p.member_id() + "@" + p.network_id(); }

std::vector<std::string> SplitAddresses(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (!list.empty()) {
    const auto comma = list.find(',', start);
    out.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<v1::Party> PartyOfAddress(const std::string& address) {
  const auto at = address.find('@');
  if (at == std::string::npos) return std::nullopt;
  v1::Party p;
  p.set_member_id(address.substr(0, at));
  p.set_network_id(address.substr(at + 1));
  if (!crypto::IsValidMemberId(p.member_id()) || !crypto::IsValidNetworkId(p.network_id())) return std::nullopt;
  return p;
}

Result<v1::Party> ResolveParty(const std::string& item, const crypto::TrustStore& trust,
                               const std::vector<v1::Party>& mine) {
  if (auto p = PartyOfAddress(item)) return *p;
  std::vector<v1::Party> found;
  for (const v1::Party& m : mine) {
    const crypto::TrustedNetworkView* net = trust.network(m.network_id());
    if (net && net->roster && net->roster->members.count(item) != 0) {
      v1::Party p;
      p.set_network_id(m.network_id());
      p.set_member_id(item);
      found.push_back(p);
    }
  }
  if (found.size() != 1) {
    return MakeError("'" + crypto::EscapeForDisplay(item) + "' " +
                     (found.empty() ? "is no member of this node's networks" : "is in several networks: write MEMBER@NETWORK"));
  }
  return found.front();
}

Result<std::vector<v1::Party>> NetworkRecipients(const std::string& network_id, const crypto::TrustStore& trust,
                                                 const std::vector<v1::Party>& mine, std::int64_t now) {
  const v1::Party* me = nullptr;
  for (const v1::Party& m : mine) {
    if (m.network_id() == network_id) me = &m;
  }
  if (me == nullptr) return MakeError("this node is no member of network '" + crypto::EscapeForDisplay(network_id) + "'");
  auto cert = trust.FindMember(*me, now);
  if (!cert) return MakeError("this node's membership of " + network_id + ": " + cert.error().message);
  if (cert->role() != v1::ROLE_COORDINATOR) {
    return MakeError("broadcasting to all of " + network_id + " needs the coordinator role there; this node is " +
                     crypto::RoleName(cert->role()));
  }
  std::vector<v1::Party> out;
  const crypto::TrustedNetworkView* net = trust.network(network_id);
  if (net == nullptr || !net->roster) return MakeError("no roster of " + network_id + " is held");
  for (const auto& [member_id, c] : net->roster->members) {
    v1::Party p;
    p.set_network_id(network_id);
    p.set_member_id(member_id);
    if (member_id == me->member_id() || !trust.FindMember(p, now)) continue;  // itself, or revoked
    out.push_back(std::move(p));
  }
  if (out.empty()) return MakeError(network_id + " has no other current member");
  return out;
}

std::string MakeReceipt(const crypto::Identity& signer, const v1::Party& as, const std::string& kind,
                        const std::vector<crypto::Bytes>& message_ids, std::int64_t at, const v1::Party* about) {
  v1::Receipt r;
  r.set_format(1);
  *r.mutable_signer() = as;
  r.set_kind(kind);
  r.set_at(at);
  for (const crypto::Bytes& id : message_ids) r.add_message_ids(crypto::AsString(id));
  if (about != nullptr) *r.mutable_about() = *about;
  v1::Signed s;
  s.set_body(r.SerializeAsString());
  const crypto::Bytes sig = signer.Sign(crypto::kDomainReceipt, crypto::AsBytes(s.body()));
  s.set_signature(std::string(sig.begin(), sig.end()));
  return s.SerializeAsString();
}

Result<v1::Receipt> CheckReceipt(const std::string& signed_receipt, const v1::Certificate& cert, std::int64_t now) {
  v1::Signed s;
  v1::Receipt r;
  if (signed_receipt.size() > (std::size_t{256} << 10) || !s.ParseFromString(signed_receipt) ||
      !crypto::VerifySignature(crypto::AsBytes(cert.keys().sign_ed25519()), crypto::kDomainReceipt,
                               crypto::AsBytes(s.body()), crypto::AsBytes(s.signature()))) {
    return MakeError("the receipt is not signed by its sender");
  }
  const bool kind_ok = r.ParseFromString(s.body()) &&
                       (r.kind() == "relayed" || r.kind() == "delivered" || r.kind() == "read" ||
                        r.kind() == kConditionsAccepted);
  bool ids_ok = kind_ok && r.message_ids_size() >= 1 && r.message_ids_size() <= kMaxReceiptIds;
  for (int i = 0; ids_ok && i < r.message_ids_size(); ++i) ids_ok = r.message_ids(i).size() == 32;
  if (!ids_ok || r.format() != 1 || r.signer().network_id() != cert.network_id() ||
      r.signer().member_id() != cert.member_id() || (r.kind() == "relayed" && !PartyOfAddress(AddressOf(r.about())))) {
    return MakeError("the receipt is malformed or names someone else");
  }
  // What an evidence bundle's verifier checks (§13.2): signed while the certificate was valid,
  // and not dated ahead of this node's clock.
  if (r.at() < cert.not_before() || r.at() >= cert.not_after() || r.at() > now + crypto::kMaxClockSkewSeconds) {
    return MakeError("the receipt is dated outside its signer's certificate or in the future");
  }
  return r;
}

std::string ShortMessageId(crypto::ByteView id) {
  if (id.size() < 16) return crypto::ToHex(id);
  return crypto::ToHex(id.subspan(8, 8));
}

bool IsUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (more < 0 || (more == 1 && c < 0xC2) || i + more >= s.size() + (more == 0 ? 1 : 0)) return false;
    for (int k = 1; k <= more; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += static_cast<std::size_t>(more) + 1;
  }
  return true;
}

std::vector<v1::Party> MembershipsOf(const std::string& member_id, const crypto::TrustStore& trust,
                                     const crypto::Identity& identity) {
  std::vector<v1::Party> out;
  const auto& sign = identity.public_identity().sign;
  for (const auto& [network_id, net] : trust.networks()) {
    if (!net.roster) continue;
    auto it = net.roster->members.find(member_id);
    if (it == net.roster->members.end()) continue;
    if (it->second.keys().sign_ed25519() != std::string(sign.begin(), sign.end())) continue;
    v1::Party p;
    p.set_network_id(network_id);
    p.set_member_id(member_id);
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// A read-only stream buffer over another that tells `on_read` how much has been read.
class CountingBuffer : public std::streambuf {
 public:
  CountingBuffer(std::streambuf* source, const std::function<void(std::uint64_t)>& on_read)
      : source_(source), on_read_(on_read) {}

 protected:
  std::streamsize xsgetn(char* s, std::streamsize n) override {
    const std::streamsize got = source_->sgetn(s, n);
    Count(got);
    return got;
  }
  int_type underflow() override {
    const std::streamsize got = source_->sgetn(buffer_, sizeof buffer_);
    if (got <= 0) return traits_type::eof();
    Count(got);
    setg(buffer_, buffer_, buffer_ + got);
    return traits_type::to_int_type(buffer_[0]);
  }

 private:
  void Count(std::streamsize got) {
    if (got <= 0) return;
    read_ += static_cast<std::uint64_t>(got);
    on_read_(read_);
  }
  std::streambuf* source_;
  const std::function<void(std::uint64_t)>& on_read_;
  std::uint64_t read_ = 0;
  char buffer_[4096];
};

}  // namespace

Result<OutgoingFile> PrepareFile(const std::string& path, const std::string& dir, const std::string& media_type,
                                 std::uint64_t max_bytes, const std::function<void(std::uint64_t)>& on_read) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("cannot read " + path + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  if (!in) return MakeError("cannot read " + path);
  if (size > max_bytes) {
    return MakeError(path + " has " + std::to_string(size) + " bytes, over the attachment limit of " +
                     std::to_string(max_bytes));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return MakeError("cannot create " + dir);
  std::string tmp = dir + "/outgoing-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return MakeError("cannot create a file in " + dir + ": " + std::strerror(errno));
  ::close(fd);
  auto key = std::make_shared<crypto::SecretBytes>(crypto_secretstream_xchacha20poly1305_KEYBYTES);
  crypto_secretstream_xchacha20poly1305_keygen(key->data());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  CountingBuffer counted(in.rdbuf(), on_read);
  std::istream counted_in(&counted);
  auto summary = crypto::EncryptStream(*key, on_read ? counted_in : in, out);
  if (!summary || !out.flush()) {
    ::unlink(tmp.c_str());
    return MakeError("cannot encrypt " + path + " into " + dir + (summary ? "" : ": " + summary.error().message));
  }
  OutgoingFile f;
  f.stream_path = tmp;
  f.key = std::move(key);
  f.record.content_hash = summary->content_hash;
  f.record.size = summary->plaintext_bytes;
  const auto slash = path.find_last_of('/');
  f.record.name = slash == std::string::npos ? path : path.substr(slash + 1);
  f.record.media_type = media_type;
  f.record.stream_hash = summary->stream_hash;
  f.record.stream_size = summary->stream_bytes;
  return f;
}

archive::ArchiveStatus ReuseStored(archive::Archive& archive, OutgoingFile& f) {
  auto key = std::make_shared<crypto::SecretBytes>();
  auto stored = archive.GetAttachment(f.record.content_hash, key.get());
  if (!stored) return stored.error();
  if (!*stored) return {};
  if (!f.stream_path.empty()) ::unlink(f.stream_path.c_str());
  f.stream_path.clear();
  f.key = std::move(key);
  const std::string name = f.record.name, media_type = f.record.media_type;
  f.record = **stored;
  f.record.name = name;  // this message's name for it
  f.record.media_type = media_type;
  return {};
}

Result<std::vector<ReceivedFile>> FilesOf(const v1::EnvelopeHeader& header, const crypto::Bytes& plaintext,
                                          std::string* content) {
  std::vector<ReceivedFile> out;
  if (header.files().empty()) {
    content->assign(plaintext.begin(), plaintext.end());
    return out;
  }
  v1::WithFiles with;
  if (!with.ParseFromArray(plaintext.data(), static_cast<int>(plaintext.size())) ||
      with.files_size() != header.files_size()) {
    return MakeError("its attachments do not match its header");
  }
  for (int i = 0; i < with.files_size(); ++i) {
    const v1::FileKey& k = with.files(i);
    const v1::FileRef& r = header.files(i);
    const std::string& name = k.name();
    if (k.key().size() != crypto_secretstream_xchacha20poly1305_KEYBYTES || k.content_hash().size() != 32 ||
        crypto::StreamSizeFor(k.size()) != r.stream_size() || name.empty() || name.size() > 255 ||
        name.find('/') != std::string::npos || name == "." || name == ".." || !IsUtf8(name) ||
        k.media_type().size() > 255 || !IsUtf8(k.media_type())) {
      return MakeError("attachment " + std::to_string(i + 1) + " is described wrongly");
    }
    out.push_back({r, k});
  }
  *content = std::move(*with.mutable_content());
  return out;
}

const v1::Party* SenderFor(const std::vector<v1::Party>& memberships, const std::vector<v1::Party>& to) {
  for (const v1::Party& r : to) {
    for (const v1::Party& mine : memberships) {
      if (mine.network_id() == r.network_id()) return &mine;
    }
  }
  return memberships.empty() ? nullptr : &memberships.front();
}

Result<SealedMessage> SealMessage(const crypto::Identity& identity, const std::vector<v1::Party>& memberships,
                                  const crypto::TrustStore& trust, const Outgoing& message, std::int64_t now) {
  if (message.to.empty()) return MakeError("a message needs at least one recipient");
  if (memberships.empty()) return MakeError("this node is in no roster it trusts");
  std::vector<crypto::Recipient> recipients;
  for (const v1::Party& r : message.to) {
    auto cert = trust.FindMember(r, now);
    if (!cert) return MakeError("recipient " + AddressOf(r) + ": " + cert.error().message);
    recipients.push_back(crypto::RecipientOf(*cert));
  }
  const v1::Party* from = SenderFor(memberships, message.to);
  if (message.from) {
    from = nullptr;
    for (const v1::Party& mine : memberships) {
      if (AddressOf(mine) == AddressOf(*message.from)) from = &mine;
    }
    if (from == nullptr) return MakeError(AddressOf(*message.from) + " is not one of this node's memberships");
  }
  crypto::SealOptions options;
  options.created_at = now;
  options.expires_at = message.expires_at;
  options.content_type = message.content_type;
  std::string plaintext;
  if (!message.files.empty()) {
    // The keys go inside, to the recipients alone; the header says what every hop may check.
    v1::WithFiles with;
    with.set_content(message.content);
    for (const OutgoingFile& f : message.files) {
      v1::FileRef& ref = options.files.emplace_back();
      ref.set_stream_hash(crypto::AsString(f.record.stream_hash));
      ref.set_stream_size(f.record.stream_size);
      v1::FileKey* k = with.add_files();
      k->set_key(crypto::AsString(f.key->view()));
      k->set_content_hash(crypto::AsString(f.record.content_hash));
      k->set_size(f.record.size);
      k->set_name(f.record.name);
      k->set_media_type(f.record.media_type);
    }
    plaintext = with.SerializeAsString();
  }
  crypto::Bytes content_key;
  auto sealed = crypto::Seal(identity, *from, recipients, options,
                             crypto::AsBytes(message.files.empty() ? message.content : plaintext), &content_key);
  if (!plaintext.empty()) sodium_memzero(plaintext.data(), plaintext.size());
  if (!sealed) return sealed.error();
  SealedMessage out;
  out.expires_at = message.expires_at;
  out.files = message.files;
  archive::MessageRecord& m = out.record;
  m.message_id = crypto::MessageId(*sealed);
  m.direction = "out";
  m.sender = AddressOf(*from);
  for (const v1::Party& r : message.to) {
    out.recipients.push_back(AddressOf(r));
    m.recipients += (m.recipients.empty() ? "" : ",") + AddressOf(r);
  }
  m.created_at = now;
  m.stored_at = now;
  m.content_type = message.content_type;
  m.envelope = std::move(sealed).value();
  m.content.assign(message.content.begin(), message.content.end());
  m.content_key = std::move(content_key);
  if (message.content_type.rfind("text/", 0) == 0 && IsUtf8(message.content)) m.body = message.content;
  return out;
}

archive::ArchiveStatus StoreSealed(archive::Archive& archive, const SealedMessage& s, std::int64_t now) {
  const archive::MessageRecord& m = s.record;
  auto added = archive.AddMessage(m);
  if (!added) return added.error();
  for (const OutgoingFile& f : s.files) {
    if (f.stream_path.empty()) continue;  // stored already
    auto stored = archive.GetAttachment(f.record.content_hash);
    if (!stored) return stored.error();
    if (*stored && (*stored)->stream_hash != f.record.stream_hash) {
      // The same content was stored meanwhile (twice in this message, or by another message in
      // this batch) under another key. The archive keeps its first copy; this message's stream,
      // which its header names, is served like a relay's copy until the outbox is done with it.
      const std::string dir = archive.blob_dir() + "/transfer";
      const std::string kept = dir + "/" + FileFetcher::FileName(m.message_id, f.record.stream_hash, true);
      if ((::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) || ::rename(f.stream_path.c_str(), kept.c_str()) != 0) {
        return archive::ArchiveError{archive::ArchiveCode::kIo, "cannot keep " + f.stream_path + " as " + kept};
      }
      continue;
    }
    archive::AttachmentRecord rec = f.record;
    rec.message_id = m.message_id;
    rec.stored_at = now;
    if (auto st = archive.AdoptAttachment(f.stream_path, *f.key, rec); !st) return st.error();
  }
  for (const std::string& r : s.recipients) {
    if (auto e = archive.Enqueue({0, m.message_id, r, m.envelope, now, 0, s.expires_at}); !e) return e;
  }
  return archive.Audit(now, m.sender, "send", ShortMessageId(m.message_id) + " to " + m.recipients);
}

Result<std::vector<crypto::Bytes>> QueueMessages(archive::Archive& archive, const crypto::Identity& identity,
                                                 const std::vector<v1::Party>& memberships,
                                                 const crypto::TrustStore& trust, const std::vector<Outgoing>& messages,
                                                 std::int64_t now) {
  std::vector<SealedMessage> sealed;
  for (const Outgoing& message : messages) {
    auto s = SealMessage(identity, memberships, trust, message, now);
    if (!s) return s.error();
    sealed.push_back(std::move(s).value());
  }
  auto st = archive.Batch([&]() -> archive::ArchiveStatus {
    for (const SealedMessage& s : sealed) {
      if (auto r = StoreSealed(archive, s, now); !r) return r;
    }
    return {};
  });
  if (!st) return MakeError("archiving the message failed: " + st.error().message);
  std::vector<crypto::Bytes> ids;
  for (const SealedMessage& s : sealed) ids.push_back(s.record.message_id);
  return ids;
}

}  // namespace comity::node
