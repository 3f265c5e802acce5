#include "node/daemon/send.h"

#include "crypto/envelope.h"

namespace comity::node {

std::string AddressOf(const v1::Party& p) { return p.member_id() + "@" + p.network_id(); }

std::optional<v1::Party> PartyOfAddress(const std::string& address) {
  const auto at = address.find('@');
  if (at == std::string::npos) return std::nullopt;
  v1::Party p;
  p.set_member_id(address.substr(0, at));
  p.set_network_id(address.substr(at + 1));
  if (!crypto::IsValidMemberId(p.member_id()) || !crypto::IsValidNetworkId(p.network_id())) return std::nullopt;
  return p;
}

std::string MakeReceipt(const crypto::Identity& recipient, const v1::Party& as, const crypto::Bytes& message_id,
                        std::int64_t at) {
  v1::Receipt r;
  r.set_format(1);
  r.set_message_id(std::string(message_id.begin(), message_id.end()));
  *r.mutable_recipient() = as;
  r.set_kind("delivered");
  r.set_at(at);
  v1::Signed s;
  s.set_body(r.SerializeAsString());
  const crypto::Bytes sig = recipient.Sign(crypto::kDomainReceipt, crypto::AsBytes(s.body()));
  s.set_signature(std::string(sig.begin(), sig.end()));
  return s.SerializeAsString();
}

Result<v1::Receipt> CheckReceipt(const std::string& signed_receipt, const v1::Certificate& cert) {
  v1::Signed s;
  v1::Receipt r;
  if (signed_receipt.size() > 4096 || !s.ParseFromString(signed_receipt) ||
      !crypto::VerifySignature(crypto::AsBytes(cert.keys().sign_ed25519()), crypto::kDomainReceipt,
                               crypto::AsBytes(s.body()), crypto::AsBytes(s.signature()))) {
    return MakeError("the receipt is not signed by its sender");
  }
  if (!r.ParseFromString(s.body()) || r.format() != 1 || r.message_id().size() != 32 || r.kind().empty() ||
      r.kind().size() > 64 || r.recipient().network_id() != cert.network_id() ||
      r.recipient().member_id() != cert.member_id()) {
    return MakeError("the receipt is malformed or names someone else");
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

Result<SealedMessage> SealMessage(const crypto::Identity& identity, const std::vector<v1::Party>& memberships,
                                  const crypto::TrustStore& trust, const Outgoing& message, std::int64_t now) {
  if (message.to.empty()) return MakeError("a message needs at least one recipient");
  if (memberships.empty()) return MakeError("this node is in no roster it trusts");
  std::vector<crypto::Recipient> recipients;
  const v1::Party* from = nullptr;
  for (const v1::Party& r : message.to) {
    auto cert = trust.FindMember(r, now);
    if (!cert) return MakeError("recipient " + AddressOf(r) + ": " + cert.error().message);
    recipients.push_back(crypto::RecipientOf(*cert));
    if (from == nullptr) {
      for (const v1::Party& mine : memberships) {
        if (mine.network_id() == r.network_id()) from = &mine;
      }
    }
  }
  if (from == nullptr) from = &memberships.front();
  crypto::SealOptions options;
  options.created_at = now;
  options.expires_at = message.expires_at;
  options.content_type = message.content_type;
  auto sealed = crypto::Seal(identity, *from, recipients, options, crypto::AsBytes(message.content));
  if (!sealed) return sealed.error();
  SealedMessage out;
  out.expires_at = message.expires_at;
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
  if (message.content_type.rfind("text/", 0) == 0 && IsUtf8(message.content)) m.body = message.content;
  return out;
}

archive::ArchiveStatus StoreSealed(archive::Archive& archive, const SealedMessage& s, std::int64_t now) {
  const archive::MessageRecord& m = s.record;
  auto added = archive.AddMessage(m);
  if (!added) return added.error();
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
