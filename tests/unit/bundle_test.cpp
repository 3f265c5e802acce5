// Tests of node/service/bundle: an evidence bundle signed by one node verifies offline under
// the root of either bridged network, and every kind of damage or forgery fails with a
// message that names the item (and its bytes): a flipped or missing byte, a non-canonical
// encoding, a wrong content key, another thread, a revoked or unreachable signer, a stray
// receipt, a forged exporter signature.
#include "node/service/bundle.h"

#include <google/protobuf/io/coded_stream.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "node/service/thread.h"
#include "proto/content.pb.h"
#include "tests/unit/bundle_test_support.h"
#include "tests/unit/test_network.h"

namespace comity::service {
namespace {

using test::kDay;
using test::kNow;
using test::kThread;
using test::SignReceipt;
using test::TestMember;
using test::TestNetwork;

v1::ThreadEvent Comment(const std::string& text, const std::string& thread_id = kThread) {
  v1::ThreadEvent event;
  event.set_format(1);
  event.set_thread_id(thread_id);
  event.mutable_comment()->set_text(text);
  return event;
}

// "bytes 12-345" in `message`, as [12, 346); {0, 0} when absent.
std::pair<std::size_t, std::size_t> RangeIn(const std::string& message) {
  unsigned long first = 0;
  unsigned long last = 0;
  const auto at = message.find("(bytes ");
  if (at == std::string::npos || std::sscanf(message.c_str() + at, "(bytes %lu-%lu)", &first, &last) != 2) {
    return {0, 0};
  }
  return {first, last + 1};
}

// Two networks bridged both ways: WACAP (SN-MJ, GH-AG) and IberRed (ES-MJ, PT-PGR). ES-MJ opens
// a thread with SN-MJ; three envelopes, two receipts; ES-MJ exports the bundle.
class BundleTest : public test::BridgedBundleTest {
 protected:
  void SetUp() override {
    BridgedBundleTest::SetUp();
    v1::ThreadEvent opened;
    opened.set_format(1);
    opened.set_thread_id(kThread);
    opened.mutable_opened()->set_kind("mla");
    opened.mutable_opened()->set_subject("Bank records, case 14/2025");
    opened.mutable_opened()->set_legal_basis("UNTOC art. 18");
    *opened.mutable_opened()->add_participants() = Spain().party();
    *opened.mutable_opened()->add_participants() = Senegal().party();
    envelopes_.push_back(Disclose(Spain(), Senegal(), opened, kNow - 3600));
    envelopes_.push_back(Disclose(Senegal(), Spain(), Comment("Received; the bank is named?"), kNow - 1800));
    envelopes_.push_back(Disclose(Spain(), Senegal(), Comment("Yes: see the draft."), kNow - 600));
    receipts_.push_back(SignReceipt(Spain(), "accepted", {IdOf(0)}, kNow - 3600));
    receipts_.push_back(SignReceipt(Senegal(), "delivered", {IdOf(0), IdOf(2)}, kNow - 500));
  }

  v1::DisclosedEnvelope Disclose(const TestMember& from, const TestMember& to, const v1::ThreadEvent& event,
                                 std::int64_t at, crypto::SealOptions options = {}, std::string plaintext = {}) {
    if (plaintext.empty()) plaintext = event.SerializeAsString();
    auto disclosed = test::Disclosed(from, to, plaintext, at, options);
    EXPECT_TRUE(disclosed.ok()) << disclosed.error().message;
    return disclosed.ok() ? *disclosed : v1::DisclosedEnvelope{};
  }

  // The error of verifying `file` under IberRed's root; fails the test if it verifies.
  std::string ErrorOf(const std::string& file) const {
    auto verified = VerifyBundle(file, iber_.root_key(), kNow);
    EXPECT_FALSE(verified.ok()) << "a bundle that should fail verifies";
    return verified.ok() ? std::string() : verified.error().message;
  }
};

TEST_F(BundleTest, VerifiesUnderEitherRootThroughTheBridge) {
  const std::string file = File();
  for (const TestNetwork* root : {&iber_, &wacap_}) {
    auto verified = VerifyBundle(file, root->root_key(), kNow);
    ASSERT_TRUE(verified.ok()) << root->id() << ": " << verified.error().message;
    EXPECT_EQ(verified->exporter, "ES-MJ@IberRed");
    EXPECT_EQ(verified->bundle.thread_id(), kThread);
    ASSERT_EQ(verified->envelopes.size(), 3u);
    EXPECT_EQ(verified->envelopes[0].sender, "ES-MJ@IberRed");
    EXPECT_EQ(verified->envelopes[1].sender, "SN-MJ@WACAP");
    EXPECT_EQ(verified->envelopes[2].sender, "ES-MJ@IberRed");
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(verified->envelopes[i].message_id, IdOf(i));
      EXPECT_EQ(verified->envelopes[i].header.content_type(), kThreadEventContentType);
    }
    v1::ThreadEvent event;
    ASSERT_TRUE(event.ParseFromArray(verified->envelopes[1].content.data(),
                                     static_cast<int>(verified->envelopes[1].content.size())));
    EXPECT_EQ(event.comment().text(), "Received; the bank is named?");
    ASSERT_EQ(verified->receipts.size(), 2u);
    EXPECT_EQ(verified->receipts[0].signer, "ES-MJ@IberRed");
    EXPECT_EQ(verified->receipts[0].receipt.kind(), "accepted");
    EXPECT_EQ(verified->receipts[1].signer, "SN-MJ@WACAP");
    EXPECT_EQ(verified->receipts[1].receipt.message_ids_size(), 2);
    const std::string other = root == &iber_ ? "WACAP" : "IberRed";
    EXPECT_EQ(verified->networks, (std::vector<std::string>{root->id(), other}));
  }
}

TEST_F(BundleTest, RostersVerifyInAnyOrder) {
  v1::EvidenceBundle bundle = Bundle();
  bundle.clear_rosters();
  bundle.add_rosters(wacap_roster_);  // before the roster that bridges it
  bundle.add_rosters(iber_roster_);
  auto verified = VerifyBundle(File(bundle), iber_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->networks, (std::vector<std::string>{"IberRed", "WACAP"}));
}

TEST_F(BundleTest, UnrelatedRootFails) {
  TestNetwork unrelated("EJN");
  unrelated.Admit("FR-MJ");
  auto verified = VerifyBundle(File(), unrelated.root_key(), kNow);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("roster 1 of 2 (bytes "), std::string::npos) << verified.error().message;
  EXPECT_NE(verified.error().message.find("no root the bundle reaches signs it"), std::string::npos);
}

// Every byte counts: each copy with one byte altered fails. Three masks on every byte of a
// file of about 3.3 KB: some 10,000 verifications, about 7 s under -O2 (no sampling).
TEST_F(BundleTest, EveryFlippedByteFails) {
  const std::string file = File();
  ASSERT_TRUE(VerifyBundle(file, iber_.root_key(), kNow).ok());
  int verified = 0;
  crypto::test::ForEachByteFlip(file, [&](const std::string& where, const std::string& damaged) {
    auto result = VerifyBundle(damaged, iber_.root_key(), kNow);
    if (result.ok()) {
      ++verified;
      ADD_FAILURE() << where << " still verifies";
    } else {
      EXPECT_EQ(result.error().message.find('\n'), std::string::npos) << where;
    }
  });
  EXPECT_EQ(verified, 0);
}

TEST_F(BundleTest, TruncatedFileFails) {
  const std::string file = File();
  [[maybe_unused]] crypto::test::QuietProtobufLogs quiet;
  for (std::size_t length = 0; length < file.size(); ++length) {
    EXPECT_FALSE(VerifyBundle(file.substr(0, length), iber_.root_key(), kNow).ok()) << "cut to " << length;
  }
}

TEST_F(BundleTest, UnknownFieldFailsAtItsFirstByte) {
  // A body that means the same with 20 bytes more, properly signed: the bytes do not matter, so
  // the file is refused.
  const std::string body = Bundle().SerializeAsString();
  v1::Signed signed_file;
  signed_file.set_body(crypto::test::PaddedTo(body, body.size() + 20));
  signed_file.set_signature(
      crypto::AsString(Spain().identity.Sign(crypto::kDomainEvidenceBundle, crypto::AsBytes(signed_file.body()))));
  const std::size_t body_offset =
      1 + google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<std::uint32_t>(signed_file.body().size()));
  EXPECT_EQ(ErrorOf(signed_file.SerializeAsString()),
            "the file is not in canonical form at byte " + std::to_string(body_offset + body.size()));

  // The same after the signature, outside the body.
  const std::string file = File();
  EXPECT_EQ(ErrorOf(crypto::test::PaddedTo(file, file.size() + 5)),
            "the file is not in canonical form at byte " + std::to_string(file.size()));
}

TEST_F(BundleTest, NonCanonicalItemFails) {
  // An envelope whose Signed wrapper carries an unknown field: its sender's signature still
  // holds, and the exporter signs it, but the bytes mean nothing.
  v1::EvidenceBundle bundle = Bundle();
  const std::string& envelope = bundle.envelopes(1).envelope();
  bundle.mutable_envelopes(1)->set_envelope(crypto::test::PaddedTo(envelope, envelope.size() + 4));
  const std::string message = ErrorOf(File(bundle));
  EXPECT_EQ(message.rfind("envelope 2 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("the envelope is not in canonical form at byte "), std::string::npos) << message;
}

TEST_F(BundleTest, WrongContentKeyNamesTheEnvelope) {
  v1::EvidenceBundle bundle = Bundle();
  bundle.mutable_envelopes(1)->set_content_key(crypto::AsString(crypto::RandomBytes(32)));
  const std::string file = File(bundle);
  const std::string message = ErrorOf(file);
  EXPECT_EQ(message.rfind("envelope 2 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("content key"), std::string::npos) << message;
  // The bytes named hold that envelope and its key, and little else.
  const auto [begin, end] = RangeIn(message);
  ASSERT_LT(begin, end) << message;
  ASSERT_LE(end, file.size());
  const std::string_view named = std::string_view(file).substr(begin, end - begin);
  EXPECT_NE(named.find(bundle.envelopes(1).envelope()), std::string_view::npos);
  EXPECT_NE(named.find(bundle.envelopes(1).content_key()), std::string_view::npos);
  EXPECT_LT(named.size(), bundle.envelopes(1).ByteSizeLong() + 8);
}

TEST_F(BundleTest, EnvelopeOfAnotherThreadFails) {
  envelopes_.push_back(Disclose(Senegal(), Spain(), Comment("Another matter", "fedcba9876543210"), kNow - 300));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("thread 'fedcba9876543210'"), std::string::npos) << message;
}

TEST_F(BundleTest, EnvelopeOfAnotherContentTypeFails) {
  crypto::SealOptions options;
  options.content_type = "text/plain";
  envelopes_.push_back(Disclose(Senegal(), Spain(), Comment("x"), kNow - 300, options, "Plain words"));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("content type is 'text/plain'"), std::string::npos) << message;
}

TEST_F(BundleTest, SameEnvelopeTwiceFails) {
  envelopes_.push_back(envelopes_[0]);
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("same message as envelope 1"), std::string::npos) << message;
}

TEST_F(BundleTest, EnvelopeWithFilesGivesTheContentProper) {
  const v1::ThreadEvent event = Comment("The draft is attached.");
  v1::WithFiles with_files;
  with_files.set_content(event.SerializeAsString());
  v1::FileKey* key = with_files.add_files();
  key->set_key(crypto::AsString(crypto::RandomBytes(32)));
  key->set_content_hash(crypto::AsString(crypto::RandomBytes(32)));
  key->set_name("draft.odt");
  crypto::SealOptions options;
  v1::FileRef file;
  file.set_stream_hash(crypto::AsString(crypto::RandomBytes(32)));
  file.set_stream_size(crypto::kMinFileStreamSize);
  options.files.push_back(file);
  envelopes_.push_back(Disclose(Spain(), Senegal(), event, kNow - 100, options, with_files.SerializeAsString()));
  auto verified = VerifyBundle(File(), iber_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  ASSERT_EQ(verified->envelopes.size(), 4u);
  EXPECT_EQ(crypto::AsString(verified->envelopes[3].content), event.SerializeAsString());
  EXPECT_EQ(verified->envelopes[3].header.files_size(), 1);
}

// SN-MJ is revoked by WACAP's roster 2; its envelope 2 was sealed at kNow - 1800.
TEST_F(BundleTest, SenderRevokedBeforeTheEnvelopeFails) {
  wacap_.Revoke("SN-MJ");
  const std::string revoking = wacap_.Publish(kNow - 2000).SerializeAsString();
  receipts_.pop_back();  // SN-MJ's receipt, at kNow - 500, would fail too
  v1::EvidenceBundle bundle = Bundle();
  bundle.add_rosters(revoking);
  const std::string message = ErrorOf(File(bundle));
  EXPECT_EQ(message.rfind("envelope 2 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("SN-MJ@WACAP's key was revoked by roster version 2 of WACAP"), std::string::npos) << message;
}

TEST_F(BundleTest, SenderRevokedAfterTheEnvelopeStillVerifies) {
  wacap_.Revoke("SN-MJ");
  const std::string revoking = wacap_.Publish(kNow - 1000).SerializeAsString();
  receipts_.pop_back();  // at kNow - 500: after the revocation
  v1::EvidenceBundle bundle = Bundle();
  bundle.add_rosters(revoking);
  auto verified = VerifyBundle(File(bundle), wacap_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->envelopes[1].sender, "SN-MJ@WACAP");

  // SN-MJ's receipt, signed after the revocation, does not.
  bundle.add_receipts(SignReceipt(Senegal(), "delivered", {IdOf(2)}, kNow - 500));
  const std::string message = ErrorOf(File(bundle));
  EXPECT_EQ(message.rfind("receipt 2 of 2 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("revoked"), std::string::npos) << message;
}

TEST_F(BundleTest, SenderOutsideItsCertificateWindowFails) {
  iber_.Admit("PT-PGR", {kNow - 2 * kDay, kNow - 1000});
  iber_roster_ = iber_.Publish(kNow - kDay).SerializeAsString();
  envelopes_.push_back(Disclose(iber_.member("PT-PGR"), Senegal(), Comment("Late"), kNow - 900));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("PT-PGR@IberRed's certificate is not valid at"), std::string::npos) << message;
}

// Lone is bridged by WACAP only: a bridge in a bridged network's roster is not followed, so
// under IberRed's root Lone's roster and members are out of reach (under WACAP's they are not).
TEST_F(BundleTest, SenderOfUnreachableNetworkFails) {
  TestNetwork lone("Lone");
  const TestMember& stranger = lone.Admit("ZZ-MJ");
  const std::string lone_roster = lone.Publish(kNow - kDay).SerializeAsString();
  wacap_.AddBridge(lone);
  wacap_roster_ = wacap_.Publish(kNow - kDay / 2).SerializeAsString();
  envelopes_.push_back(Disclose(stranger, Spain(), Comment("Hello"), kNow - 100));

  // Without Lone's roster: nothing certifies the sender.
  std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("no roster in the bundle certifies sender ZZ-MJ@Lone"), std::string::npos) << message;

  // With it: the roster itself is signed by no root that IberRed reaches.
  v1::EvidenceBundle bundle = Bundle();
  bundle.add_rosters(lone_roster);
  message = ErrorOf(File(bundle));
  EXPECT_EQ(message.rfind("roster 3 of 3 (bytes ", 0), 0u) << message;

  // Under WACAP's root, which bridges Lone, the same file verifies.
  auto verified = VerifyBundle(File(bundle), wacap_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->networks, (std::vector<std::string>{"WACAP", "IberRed", "Lone"}));
}

TEST_F(BundleTest, SenderNotInAnyRosterFails) {
  TestMember impostor{crypto::Identity::Generate(), Spain().certificate, Spain().signed_certificate, true};
  impostor.certificate.set_member_id("ES-FGE");
  envelopes_.push_back(Disclose(impostor, Senegal(), Comment("Trust me"), kNow - 100));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("sender ES-FGE@IberRed is in no roster of the bundle"), std::string::npos) << message;
}

TEST_F(BundleTest, EnvelopeSignedWithAnotherKeyFails) {
  // Claims ES-MJ as sender, signed with a key of its own.
  TestMember impostor{crypto::Identity::Generate(), Spain().certificate, Spain().signed_certificate, true};
  envelopes_.push_back(Disclose(impostor, Senegal(), Comment("Trust me"), kNow - 100));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("envelope 4 of 4 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("envelope signature does not verify under the key of ES-MJ@IberRed"), std::string::npos)
      << message;
}

TEST_F(BundleTest, ReceiptCoveringNoEnvelopeFails) {
  receipts_.push_back(SignReceipt(Senegal(), "delivered", {crypto::RandomBytes(32)}, kNow - 100));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("receipt 3 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("covers no envelope of the bundle"), std::string::npos) << message;
}

TEST_F(BundleTest, ReceiptSignedByAnotherMemberFails) {
  // Names SN-MJ as signer, signed by GH-AG.
  TestMember forger{crypto::Identity::FromSecret(wacap_.member("GH-AG").identity.ExportSecret()).value(),
                    Senegal().certificate, Senegal().signed_certificate, true};
  receipts_.push_back(SignReceipt(forger, "read", {IdOf(0)}, kNow - 100));
  const std::string message = ErrorOf(File());
  EXPECT_EQ(message.rfind("receipt 3 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("receipt signature does not verify under the key of SN-MJ@WACAP"), std::string::npos)
      << message;
}

TEST_F(BundleTest, ExporterSignatureByAnotherMemberFails) {
  // Names ES-MJ as exporter, signed by PT-PGR.
  const std::string file = SignBundle(iber_.member("PT-PGR").identity, Bundle());
  const std::string message = ErrorOf(file);
  EXPECT_EQ(message.rfind("the exporter (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("the exporter's signature (bytes "), std::string::npos) << message;
  EXPECT_NE(message.find("does not verify under the key of ES-MJ@IberRed"), std::string::npos) << message;
}

TEST_F(BundleTest, MalformedBundleFieldsFail) {
  v1::EvidenceBundle bundle = Bundle();
  bundle.set_format(2);
  EXPECT_NE(ErrorOf(File(bundle)).find("format"), std::string::npos);
  bundle = Bundle();
  bundle.set_thread_id("0123456789ABCDEF");
  EXPECT_NE(ErrorOf(File(bundle)).find("is '0123456789ABCDEF', not 16 lower-case hex digits"), std::string::npos);
  bundle = Bundle();
  bundle.set_exported_at(kNow + kDay);
  EXPECT_NE(ErrorOf(File(bundle)).find("in the future"), std::string::npos);
  bundle = Bundle();
  bundle.clear_envelopes();
  bundle.clear_receipts();
  EXPECT_EQ(ErrorOf(File(bundle)), "the bundle holds no envelope");
  EXPECT_EQ(ErrorOf("not a bundle at all"), "the file is not an evidence bundle: it does not parse as a signed object");
}

TEST_F(BundleTest, SameRosterTwiceFails) {
  v1::EvidenceBundle bundle = Bundle();
  bundle.add_rosters(wacap_roster_);
  const std::string message = ErrorOf(File(bundle));
  EXPECT_EQ(message.rfind("roster 3 of 3 (bytes ", 0), 0u) << message;
  EXPECT_NE(message.find("version 1 of WACAP again, as roster 2"), std::string::npos) << message;
}

}  // namespace
}  // namespace comity::service
