#include "node/home.h"

#include <google/protobuf/text_format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "node/files.h"

namespace comity::node {
namespace {

constexpr char kConfig[] = "node.conf";
constexpr char kKeys[] = "keys";
constexpr char kTrust[] = "trust.pb";
constexpr char kRootKey[] = "root.key";
constexpr char kNetwork[] = "network.pb";

template <class Message>
Result<Message> ReadMessage(const std::string& path, std::size_t max_bytes = 64u << 20) {
  auto bytes = ReadFile(path, max_bytes);
  if (!bytes) return bytes.error();
  Message m;
  if (!m.ParseFromString(*bytes)) return MakeError(path + " is damaged: it does not parse");
  return m;
}

}  // namespace

Result<crypto::SecretBytes> Home::OpenSealed(const char* name, std::string_view kind,
                                             const crypto::SecretBytes& passphrase) const {
  const std::string path = PathOf(name);
  auto bytes = ReadFile(path);
  if (!bytes) return bytes.error();
  auto secret = crypto::OpenKeystore(crypto::AsBytes(*bytes), kind, passphrase.view());
  const std::string pending = path + ".new";
  if (!secret && FileExists(pending)) {
    // A passphrase change was interrupted after this file's new version was written.
    auto next = ReadFile(pending);
    if (next) {
      auto opened = crypto::OpenKeystore(crypto::AsBytes(*next), kind, passphrase.view());
      if (opened) {
        if (::rename(pending.c_str(), path.c_str()) != 0) {
          return MakeError("cannot finish the passphrase change of " + path + ": " + std::strerror(errno));
        }
        return opened;
      }
    }
  }
  return secret;
}

Status<> Home::StageReseal(const char* name, std::string_view kind, const crypto::SecretBytes& secret,
                           const crypto::SecretBytes& new_passphrase, const crypto::KdfParams& kdf) const {
  auto sealed = crypto::SealKeystore(kind, secret, new_passphrase.view(), kdf);
  if (!sealed) return sealed.error();
  return WriteFileAtomic(PathOf(name) + ".new", crypto::AsString(*sealed), 0600);
}

Status<> Home::CommitReseal(const char* name) const {
  const std::string path = PathOf(name);
  if (::rename((path + ".new").c_str(), path.c_str()) != 0) {
    return MakeError("cannot replace " + path + ": " + std::strerror(errno));
  }
  return {};
}

std::string Home::DefaultDir() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.comity";
}

Result<Home> Home::Create(const std::string& dir, v1::NodeConfig config,
                          const crypto::Identity& identity, const crypto::SecretBytes& passphrase,
                          const crypto::KdfParams& kdf) {
  if (FileExists(dir + "/" + kConfig) || FileExists(dir + "/" + kKeys)) {
    return MakeError("refusing to overwrite the existing node in " + dir);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError("cannot create " + dir + ": " + std::strerror(errno));
  }
  auto sealed = crypto::SealKeystore("node", identity.ExportSecret(), passphrase.view(), kdf);
  if (!sealed) return sealed.error();
  *config.mutable_keys() = crypto::ToProto(identity.public_identity());
  config.set_format(1);
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  // Keys first: a node.conf without keys would look like a usable node.
  if (auto st = WriteFileAtomic(dir + "/" + kKeys, crypto::AsString(*sealed), 0600, true); !st) return st.error();
  if (auto st = WriteFileAtomic(dir + "/" + kConfig, text, 0644, true); !st) {
    ::unlink((dir + "/" + kKeys).c_str());  // no keys without the node.conf that describes them
    return st.error();
  }
  return Home(dir, std::move(config));
}

Result<Home> Home::Open(const std::string& dir) {
  const std::string path = dir + "/" + kConfig;
  if (!FileExists(path)) return MakeError("no node in " + dir + ": run 'comityd init' first");
  auto text = ReadFile(path);
  if (!text) return text.error();
  v1::NodeConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &config) || config.format() != 1 ||
      !crypto::IsValidMemberId(config.member_id())) {
    return MakeError(path + " is damaged: it does not parse");
  }
  return Home(dir, std::move(config));
}

v1::Party Home::PartyIn(const std::string& network_id) const {
  v1::Party p;
  p.set_network_id(network_id);
  p.set_member_id(config_.member_id());
  return p;
}

Result<crypto::Identity> Home::UnlockIdentity(const crypto::SecretBytes& passphrase) const {
  auto secret = OpenSealed(kKeys, "node", passphrase);
  if (!secret) return MakeError("cannot unlock the node keys: " + secret.error().message);
  auto identity = crypto::Identity::FromSecret(*secret);
  if (!identity) return identity.error();
  const crypto::PublicIdentity& pub = identity->public_identity();
  const v1::PublicKeys& expected = config_.keys();
  if (pub.sign != crypto::ToBytes(expected.sign_ed25519()) || pub.agree != crypto::ToBytes(expected.agree_x25519()) ||
      pub.transport != crypto::ToBytes(expected.transport_curve())) {
    return MakeError("the keys in " + dir_ + " do not belong to the node described in node.conf");
  }
  return identity;
}

// network.pb is written before root.key (see CmdNetworkCreate): both together make a coordinator.
bool Home::IsCoordinator() const { return FileExists(PathOf(kRootKey)) && FileExists(PathOf(kNetwork)); }

Status<> Home::CreateRoot(const crypto::SigningKey& root, const crypto::SecretBytes& passphrase,
                          const crypto::KdfParams& kdf) const {
  auto sealed = crypto::SealKeystore("root", root.secret(), passphrase.view(), kdf);
  if (!sealed) return sealed.error();
  return WriteFileAtomic(PathOf(kRootKey), crypto::AsString(*sealed), 0600, true);
}

Result<crypto::SigningKey> Home::UnlockRoot(const crypto::SecretBytes& passphrase) const {
  if (!IsCoordinator()) return MakeError("this node holds no network root: run 'comityd network create' first");
  auto secret = OpenSealed(kRootKey, "root", passphrase);
  if (!secret) return MakeError("cannot unlock the network root key: " + secret.error().message);
  return crypto::SigningKey::FromSecret(secret->view());
}

Result<v1::CoordinatorState> Home::LoadCoordinator() const {
  if (!IsCoordinator()) return MakeError("this node holds no network root: run 'comityd network create' first");
  auto state = ReadMessage<v1::CoordinatorState>(PathOf(kNetwork));
  if (state && state->format() != 1) return MakeError(PathOf(kNetwork) + " is damaged");
  return state;
}

Status<> Home::SaveCoordinator(const v1::CoordinatorState& state) const {
  return WriteFileAtomic(PathOf(kNetwork), state.SerializeAsString(), 0600);
}

Result<crypto::TrustStore> Home::LoadTrust() const {
  if (!FileExists(PathOf(kTrust))) return crypto::TrustStore();
  auto state = ReadMessage<v1::TrustState>(PathOf(kTrust), crypto::kMaxTrustStateSize);
  if (!state) return state.error();
  auto store = crypto::TrustStore::Load(*state);
  if (!store) return MakeError(PathOf(kTrust) + " does not verify: " + store.error().message);
  return std::move(store).value();
}

Status<> Home::SaveTrust(const crypto::TrustStore& store) const {
  return WriteFileAtomic(PathOf(kTrust), store.Save().SerializeAsString(), 0600);
}

}  // namespace comity::node
