// A node's home directory (--home DIR, default ~/.comity) and the files in it:
//   node.conf    who this node is (protobuf text format, no secrets)
//   keys         the node's secret keys, passphrase-protected (mode 0600)
//   trust.pb     trusted network roots and their newest verified rosters
//   root.key     a coordinator's network root key, passphrase-protected (mode 0600)
//   network.pb   a coordinator's working state, from which rosters are published
// Every write is atomic (node/files.h). A Home is a plain value used by one thread.
#pragma once

#include <string>

#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "crypto/trust.h"
#include "proto/node.pb.h"

namespace comity::node {

class Home {
 public:
  // ~/.comity (from $HOME).
  static std::string DefaultDir();

  // Creates a new home: the directory (mode 0700) if missing, then keys and node.conf.
  // Refuses a directory that already holds a node.
  static Result<Home> Create(const std::string& dir, v1::NodeConfig config,
                             const crypto::Identity& identity, const crypto::SecretBytes& passphrase,
                             const crypto::KdfParams& kdf);

  // Opens an existing home (reads node.conf only; keys stay locked).
  static Result<Home> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const v1::NodeConfig& config() const { return config_; }
  std::string PathOf(const char* name) const { return dir_ + "/" + name; }
  v1::Party PartyIn(const std::string& network_id) const;

  Result<crypto::Identity> UnlockIdentity(const crypto::SecretBytes& passphrase) const;

  bool IsCoordinator() const;
  Status<> CreateRoot(const crypto::SigningKey& root, const crypto::SecretBytes& passphrase,
                      const crypto::KdfParams& kdf) const;
  Result<crypto::SigningKey> UnlockRoot(const crypto::SecretBytes& passphrase) const;
  Result<v1::CoordinatorState> LoadCoordinator() const;
  Status<> SaveCoordinator(const v1::CoordinatorState& state) const;

  // Changing the passphrase of `keys` / `root.key` (name) in two steps: StageReseal writes
  // NAME.new sealed under the new passphrase; CommitReseal moves it into place. Until then
  // the unlock functions accept either file, so an interrupted change loses nothing.
  Status<> StageReseal(const char* name, std::string_view kind, const crypto::SecretBytes& secret,
                       const crypto::SecretBytes& new_passphrase, const crypto::KdfParams& kdf) const;
  Status<> CommitReseal(const char* name) const;

  // An empty store when no trust.pb exists yet.
  Result<crypto::TrustStore> LoadTrust() const;
  Status<> SaveTrust(const crypto::TrustStore& store) const;

 private:
  Result<crypto::SecretBytes> OpenSealed(const char* name, std::string_view kind,
                                         const crypto::SecretBytes& passphrase) const;
  Home(std::string dir, v1::NodeConfig config) : dir_(std::move(dir)), config_(std::move(config)) {}
  std::string dir_;
  v1::NodeConfig config_;
};

}  // namespace comity::node
