// Evidence bundles (docs/PROTOCOL.md §13): a thread's signed envelopes with their content
// keys, the receipts that cover them and the rosters that certify every signer, signed as a
// whole by the exporting node. VerifyBundle checks one offline, with nothing but a network's
// root key: no node, no archive, no network. Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "proto/bundle.pb.h"
#include "proto/envelope.pb.h"
#include "proto/trust.pb.h"

namespace comity::service {

inline constexpr std::size_t kMaxBundleBytes = std::size_t{256} << 20;

// Signs `bundle` as `exporter` (whose party is bundle.exporter()): the bytes of the file.
std::string SignBundle(const crypto::Identity& exporter, const v1::EvidenceBundle& bundle);

struct VerifiedEnvelope {
  crypto::Bytes message_id;
  v1::EnvelopeHeader header;
  std::string sender;      // MEMBER@NETWORK
  crypto::Bytes content;   // the plaintext (the content proper when the envelope has files)
};

struct VerifiedReceipt {
  v1::Receipt receipt;
  std::string signer;      // MEMBER@NETWORK
};

struct VerifiedBundle {
  v1::EvidenceBundle bundle;
  std::string exporter;                    // MEMBER@NETWORK
  std::vector<VerifiedEnvelope> envelopes; // in the bundle's order
  std::vector<VerifiedReceipt> receipts;
  std::vector<std::string> networks;       // whose rosters verified, the root's first
};

// Verifies a bundle file under `root` (a RootKey as `comityd network root` writes it). Every
// byte counts: the file must be the canonical encoding of what it holds, the exporter's
// signature must verify, every roster must be signed by `root` or by a root that a verified
// roster bridges, every envelope and receipt must be signed by a member certified in those
// rosters (valid then, not revoked before), every content key must open its envelope, and
// every envelope must belong to the bundle's thread. A failure says which item and which
// bytes of the file, e.g. "envelope 3 (bytes 1204-2311): the ciphertext fails authentication".
Result<VerifiedBundle> VerifyBundle(std::string_view file, const v1::RootKey& root, std::int64_t now);

}  // namespace comity::service
