// What `comity verify` makes of an evidence bundle (docs/PROTOCOL.md §13), offline: the
// thread folded from its verified envelopes, as `thread show` shows one, with each verified
// receipt under the events it covers. Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "proto/api.pb.h"
#include "proto/trust.pb.h"

namespace comity::client {

struct VerifiedThread {
  v1::ThreadView view;                // FoldThread's, with receipts; waiting_on_me unset
  std::size_t envelopes = 0;
  std::size_t receipts = 0;
  std::size_t rosters = 0;
  std::vector<std::string> networks;  // whose rosters verified, the root's first
  std::string exporter;               // MEMBER@NETWORK
  std::int64_t exported_at = 0;
};

// Verifies `file` under `root` at `now` (service::VerifyBundle) and folds what it holds. A
// receipt is shown as about the recipient it names (relayed, not-delivered) or else the node
// that signed it. The failure is VerifyBundle's, saying which item and bytes.
Result<VerifiedThread> VerifyThread(std::string_view file, const v1::RootKey& root, std::int64_t now);

// The timeline (PrintThread) and the line "Verified: N envelopes, M receipts, K rosters of
// NETWORKS; exported by X at T UTC".
void PrintVerified(const VerifiedThread& verified, std::ostream& out);
// One JSON document: {"thread": ThreadView, "verified": {file, envelopes, receipts, rosters,
// networks, exporter, exported_at}}.
std::string VerifiedJson(const VerifiedThread& verified, const std::string& file);

}  // namespace comity::client
