#include "tests/unit/test_network.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <utility>

namespace comity::crypto {

void PrintTo(TrustCode code, std::ostream* os) { *os << TrustCodeName(code); }
void PrintTo(OpenCode code, std::ostream* os) { *os << OpenCodeName(code); }

}  // namespace comity::crypto

namespace comity::crypto::test {
namespace {

std::string Varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// 32 bytes derived from (seed, n, part): the deterministic keys of a seeded TestNetwork.
void Derive(std::uint8_t seed, std::uint32_t n, std::uint8_t part, std::uint8_t* out) {
  const std::uint8_t in[6] = {seed, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                              static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), part};
  crypto_generichash(out, 32, in, sizeof in, nullptr, 0);
}

SigningKey DerivedSigningKey(std::uint8_t seed, std::uint32_t n) {
  std::uint8_t seed32[32];
  std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  Derive(seed, n, 0, seed32);
  crypto_sign_seed_keypair(pk, sk.data(), seed32);
  sodium_memzero(seed32, sizeof seed32);
  return SigningKey::FromSecret(sk.view()).value();
}

}  // namespace

std::string PaddedTo(std::string message, std::size_t size) {
  const std::string tag = Varint((std::uint64_t{2047} << 3) | 2);  // field 2047, length-delimited
  for (std::size_t length_bytes = 1; length_bytes <= 5; ++length_bytes) {
    if (size < message.size() + tag.size() + length_bytes) break;
    const std::size_t length = size - message.size() - tag.size() - length_bytes;
    if (Varint(length).size() != length_bytes) continue;
    message += tag;
    message += Varint(length);
    message.append(length, '\xA5');
    return message;
  }
  ADD_FAILURE() << "cannot pad a " << message.size() << "-byte message to exactly " << size << " bytes";
  return message;
}

TestNetwork::TestNetwork(std::string network_id) : id_(std::move(network_id)) {}

TestNetwork::TestNetwork(std::string network_id, std::uint8_t key_seed)
    : id_(std::move(network_id)), root_(DerivedSigningKey(key_seed, 0)), key_seed_(key_seed) {}

Identity TestNetwork::NewIdentity() {
  if (!key_seed_) return Identity::Generate();
  const std::uint32_t n = ++keys_made_;
  SecretBytes material(Identity::kSecretSize);
  SigningKey sign = DerivedSigningKey(*key_seed_, n);
  std::copy_n(sign.secret().data(), 64, material.data());
  Derive(*key_seed_, n, 1, material.data() + 64);
  Derive(*key_seed_, n, 2, material.data() + 96);
  return Identity::FromSecret(material).value();
}

v1::RootKey TestNetwork::root_key() const {
  v1::RootKey root;
  root.set_format(1);
  root.set_network_id(id_);
  root.set_root_key(AsString(root_.public_key()));
  return root;
}

v1::Certificate TestNetwork::CertificateFor(const std::string& member_id,
                                            const PublicIdentity& keys, Validity validity) {
  v1::Certificate cert;
  cert.set_format(1);
  cert.set_network_id(id_);
  cert.set_member_id(member_id);
  cert.set_authority_name("Central authority " + member_id);
  cert.set_country("ES");
  cert.set_role(v1::ROLE_CENTRAL_AUTHORITY);
  *cert.mutable_keys() = ToProto(keys);
  cert.add_endpoints("tcp://127.0.0.1:0");
  cert.add_languages("es");
  cert.add_languages("en");
  cert.add_transmission_forms("email");
  cert.set_contact_24_7(true);
  cert.set_not_before(validity.not_before);
  cert.set_not_after(validity.not_after);
  cert.set_root_key(AsString(root_.public_key()));
  cert.set_serial(next_serial_++);
  return cert;
}

const TestMember& TestNetwork::Admit(const std::string& member_id, Validity validity) {
  Identity identity = NewIdentity();
  v1::Certificate cert = CertificateFor(member_id, identity.public_identity(), validity);
  v1::Signed signed_cert = SignCertificate(root_, cert);
  members_.insert_or_assign(member_id, TestMember{std::move(identity), std::move(cert),
                                                  std::move(signed_cert), true});
  return members_.at(member_id);
}

const TestMember& TestNetwork::AdmitWith(const std::string& member_id,
                                         const std::function<void(v1::Certificate&)>& edit) {
  Identity identity = NewIdentity();
  v1::Certificate cert = CertificateFor(member_id, identity.public_identity());
  edit(cert);
  v1::Signed signed_cert = SignCertificate(root_, cert);
  members_.insert_or_assign(member_id, TestMember{std::move(identity), std::move(cert),
                                                  std::move(signed_cert), true});
  return members_.at(member_id);
}

void TestNetwork::Revoke(const std::string& member_id) {
  TestMember& m = members_.at(member_id);
  m.listed = false;
  v1::Revocation rev;
  rev.set_member_id(member_id);
  rev.set_sign_ed25519(m.certificate.keys().sign_ed25519());
  rev.set_revoked_at(kNow);
  rev.set_reason("keys lost");
  revocations_.push_back(std::move(rev));
}

void TestNetwork::AddBridge(const TestNetwork& other) {
  v1::Bridge bridge;
  bridge.set_network_id(other.id());
  bridge.set_root_key(AsString(other.root().public_key()));
  bridges_.push_back(std::move(bridge));
}

void TestNetwork::RemoveBridge(const std::string& network_id) {
  std::erase_if(bridges_, [&](const v1::Bridge& b) { return b.network_id() == network_id; });
}

v1::Roster TestNetwork::NextRoster(std::int64_t issued_at) const {
  v1::Roster roster;
  roster.set_format(1);
  roster.set_network_id(id_);
  roster.set_version(published_version_ + 1);
  roster.set_issued_at(issued_at);
  roster.set_root_key(AsString(root_.public_key()));
  for (const auto& [id, m] : members_) {
    if (m.listed) *roster.add_certificates() = m.signed_certificate;
  }
  for (const v1::Revocation& rev : revocations_) *roster.add_revocations() = rev;
  for (const v1::Bridge& bridge : bridges_) *roster.add_bridges() = bridge;
  return roster;
}

v1::Signed TestNetwork::Publish(std::int64_t issued_at) {
  v1::Signed roster = SignRoster(root_, NextRoster(issued_at));
  ++published_version_;
  return roster;
}

TrustStore TrustingOnly(const TestNetwork& network, const v1::Signed& roster, std::int64_t now) {
  TrustStore store;
  auto trusted = store.TrustRoot(network.root_key());
  EXPECT_TRUE(trusted.ok()) << trusted.error().message;
  auto accepted = store.AcceptRoster(roster, now);
  EXPECT_TRUE(accepted.ok()) << accepted.error().message;
  return store;
}

void ForEachByteFlip(std::string_view bytes,
                     const std::function<void(const std::string& where, const std::string& damaged)>& check) {
  // Damaged string fields make protobuf log "invalid UTF-8" for every parse: expected here.
  [[maybe_unused]] QuietProtobufLogs quiet;
  constexpr unsigned char kMasks[] = {0x01, 0x80, 0xFF};
  for (unsigned char mask : kMasks) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      std::string damaged(bytes);
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ mask);
      const std::uint8_t mask_byte = mask;
      check("byte " + std::to_string(i) + " of " + std::to_string(bytes.size()) + " ^ 0x" +
                ToHex(ByteView(&mask_byte, 1)),
            damaged);
    }
  }
}

}  // namespace comity::crypto::test
