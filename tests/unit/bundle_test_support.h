// What the tests of evidence bundles share (bundle_test.cpp, client_evidence_test.cpp): two
// networks bridged both ways, envelopes sealed with their content keys kept, signed receipts,
// and the bundle signed by ES-MJ. Test-only; one thread.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"
#include "proto/content.pb.h"
#include "tests/unit/test_network.h"

namespace comity::service::test {

using crypto::test::kDay;
using crypto::test::kNow;
using crypto::test::TestMember;
using crypto::test::TestNetwork;

inline constexpr const char* kThread = "0123456789abcdef";

// `plaintext` sealed from `from` to `to` at `at` (content type a thread event's unless
// `options` says), with its content key: a bundle's item.
inline Result<v1::DisclosedEnvelope> Disclosed(const TestMember& from, const TestMember& to,
                                               const std::string& plaintext, std::int64_t at,
                                               crypto::SealOptions options = {}) {
  if (options.content_type.empty()) options.content_type = std::string(kThreadEventContentType);
  options.created_at = at;
  crypto::Bytes key;
  auto sealed = crypto::Seal(from.identity, from.party(), {crypto::RecipientOf(to.certificate)}, options,
                             crypto::AsBytes(plaintext), &key);
  if (!sealed) return sealed.error();
  v1::DisclosedEnvelope disclosed;
  disclosed.set_envelope(crypto::AsString(*sealed));
  disclosed.set_content_key(crypto::AsString(key));
  return disclosed;
}

// A signed receipt, as node/daemon/send.cpp MakeReceipt signs one.
inline std::string SignReceipt(const TestMember& signer, const std::string& kind,
                               const std::vector<crypto::Bytes>& ids, std::int64_t at,
                               const TestMember* about = nullptr) {
  v1::Receipt receipt;
  receipt.set_format(1);
  *receipt.mutable_signer() = signer.party();
  receipt.set_kind(kind);
  receipt.set_at(at);
  for (const crypto::Bytes& id : ids) receipt.add_message_ids(crypto::AsString(id));
  if (about != nullptr) *receipt.mutable_about() = about->party();
  v1::Signed signed_receipt;
  signed_receipt.set_body(receipt.SerializeAsString());
  signed_receipt.set_signature(
      crypto::AsString(signer.identity.Sign(crypto::kDomainReceipt, crypto::AsBytes(signed_receipt.body()))));
  return signed_receipt.SerializeAsString();
}

// WACAP (SN-MJ, GH-AG) and IberRed (ES-MJ, PT-PGR), bridged both ways, rosters published a day
// before kNow. Tests add envelopes_ and receipts_; File() is the bundle ES-MJ exports of them.
class BridgedBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"SN-MJ", "GH-AG"}) wacap_.Admit(id);
    for (const char* id : {"ES-MJ", "PT-PGR"}) iber_.Admit(id);
    wacap_.AddBridge(iber_);
    iber_.AddBridge(wacap_);
    wacap_roster_ = wacap_.Publish(kNow - kDay).SerializeAsString();
    iber_roster_ = iber_.Publish(kNow - kDay).SerializeAsString();
  }

  const TestMember& Spain() const { return iber_.member("ES-MJ"); }
  const TestMember& Senegal() const { return wacap_.member("SN-MJ"); }

  crypto::Bytes IdOf(std::size_t envelope) const {
    return crypto::MessageId(crypto::AsBytes(envelopes_.at(envelope).envelope()));
  }

  v1::EvidenceBundle Bundle() const {
    v1::EvidenceBundle bundle;
    bundle.set_format(1);
    bundle.set_thread_id(kThread);
    *bundle.mutable_exporter() = Spain().party();
    bundle.set_exported_at(kNow);
    for (const v1::DisclosedEnvelope& e : envelopes_) *bundle.add_envelopes() = e;
    for (const std::string& r : receipts_) bundle.add_receipts(r);
    bundle.add_rosters(iber_roster_);
    bundle.add_rosters(wacap_roster_);
    return bundle;
  }

  std::string File(const v1::EvidenceBundle& bundle) const { return SignBundle(Spain().identity, bundle); }
  std::string File() const { return File(Bundle()); }

  TestNetwork wacap_{"WACAP"};
  TestNetwork iber_{"IberRed"};
  std::string wacap_roster_;
  std::string iber_roster_;
  std::vector<v1::DisclosedEnvelope> envelopes_;
  std::vector<std::string> receipts_;
};

}  // namespace comity::service::test
