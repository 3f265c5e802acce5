// client/evidence.cpp: what `comity verify` makes of a bundle, offline. A thread between two
// bridged networks (ES-MJ of IberRed opens, SN-MJ of WACAP answers, through the relay GH-AG)
// folds to its timeline with every receipt under the events it covers, prints as `thread
// show` prints, and one altered byte makes it fail saying where.
#include "client/evidence.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"
#include "proto/content.pb.h"
#include "tests/unit/bundle_test_support.h"
#include "tests/unit/test_network.h"

namespace comity::client {
namespace {

using service::test::kNow;
using service::test::kThread;
using service::test::TestMember;

v1::ThreadEvent Event(const std::function<void(v1::ThreadEvent&)>& fill) {
  v1::ThreadEvent event;
  event.set_format(1);
  event.set_thread_id(kThread);
  fill(event);
  return event;
}

class VerifyThreadTest : public service::test::BridgedBundleTest {
 protected:
  void SetUp() override {
    BridgedBundleTest::SetUp();

    Send(Spain(), Senegal(), Event([&](v1::ThreadEvent& e) {
           v1::ThreadOpened* o = e.mutable_opened();
           o->set_kind("mla");
           o->set_subject("Bank records, case 14/2025");
           o->set_legal_basis("UNTOC art. 18");
           o->set_language("es");
           o->set_deadline("2025-07-31");
           *o->add_participants() = Spain().party();
           *o->add_participants() = Senegal().party();
         }),
         kNow - 4 * 3600);
    Send(Spain(), Senegal(), Event([](v1::ThreadEvent& e) {
           v1::DraftPosted* d = e.mutable_draft();
           d->set_version(1);
           d->set_name("request.txt");
           d->set_media_type("text/plain");
           d->set_content("Solicitud de asistencia\n");
           d->set_note("first draft");
         }),
         kNow - 3 * 3600);
    Send(Senegal(), Spain(), Event([](v1::ThreadEvent& e) { e.mutable_comment()->set_text("Received; which bank?"); }),
         kNow - 2 * 3600);
    Send(Senegal(), Spain(), Event([](v1::ThreadEvent& e) { e.mutable_status()->set_status("executed"); }),
         kNow - 3600 - 60);
    Send(Spain(), Senegal(), Event([](v1::ThreadEvent& e) { e.mutable_status()->set_status("agreed"); }), kNow - 3600);

    Receipt(Spain(), "accepted", {0, 1, 4}, kNow - 4 * 3600);
    Receipt(wacap_.member("GH-AG"), "relayed", {0}, kNow - 4 * 3600 + 5, &Senegal());
    Receipt(Senegal(), "delivered", {0, 1}, kNow - 4 * 3600 + 60);
    Receipt(Spain(), "read", {2}, kNow - 2 * 3600 + 120);
  }

  // Every event but the opening answers the one sent before it (its parent, §11.1).
  void Send(const TestMember& from, const TestMember& to, v1::ThreadEvent event, std::int64_t at) {
    if (!event.has_opened() && !envelopes_.empty()) event.add_parents(crypto::AsString(IdOf(envelopes_.size() - 1)));
    auto disclosed = service::test::Disclosed(from, to, event.SerializeAsString(), at);
    ASSERT_TRUE(disclosed.ok()) << disclosed.error().message;
    envelopes_.push_back(*disclosed);
  }

  void Receipt(const TestMember& signer, const std::string& kind, const std::vector<std::size_t>& envelopes,
               std::int64_t at, const TestMember* about = nullptr) {
    std::vector<crypto::Bytes> ids;
    for (std::size_t i : envelopes) ids.push_back(IdOf(i));
    receipts_.push_back(service::test::SignReceipt(signer, kind, ids, at, about));
  }
};

TEST_F(VerifyThreadTest, FoldsTheThreadWithItsReceipts) {
  auto verified = VerifyThread(File(), wacap_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  const v1::ThreadView& view = verified->view;
  EXPECT_EQ(view.thread_id(), kThread);
  EXPECT_EQ(view.status(), "agreed");
  ASSERT_EQ(view.events_size(), 5);
  // The opening: accepted by its author, relayed (about Senegal, signed by the relay), delivered.
  ASSERT_EQ(view.events(0).receipts_size(), 3);
  EXPECT_EQ(view.events(0).receipts(0).kind(), "accepted");
  EXPECT_EQ(view.events(0).receipts(0).party(), "ES-MJ@IberRed");
  EXPECT_EQ(view.events(0).receipts(1).kind(), "relayed");
  EXPECT_EQ(view.events(0).receipts(1).party(), "SN-MJ@WACAP");
  EXPECT_EQ(view.events(0).receipts(1).at(), kNow - 4 * 3600 + 5);
  EXPECT_EQ(view.events(0).receipts(2).kind(), "delivered");
  EXPECT_EQ(view.events(1).receipts_size(), 2);
  EXPECT_EQ(view.events(2).receipts_size(), 1);
  EXPECT_EQ(view.events(2).receipts(0).kind(), "read");
  EXPECT_EQ(view.events(3).receipts_size(), 0);
  EXPECT_FALSE(view.events(3).applied());
  EXPECT_EQ(verified->envelopes, 5u);
  EXPECT_EQ(verified->receipts, 4u);
  EXPECT_EQ(verified->rosters, 2u);
  EXPECT_EQ(verified->networks, (std::vector<std::string>{"WACAP", "IberRed"}));
  EXPECT_EQ(verified->exporter, "ES-MJ@IberRed");
  EXPECT_EQ(verified->exported_at, kNow);
}

// The whole text, as a magistrate reads it (kNow is 2025-06-15 15:06:40 UTC).
TEST_F(VerifyThreadTest, PrintsTheTimelineAsThreadShowDoes) {
  auto verified = VerifyThread(File(), iber_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  std::ostringstream out;
  PrintVerified(*verified, out);
  std::string expected =
      "Thread 0123456789abcdef\n"
      "  Kind:         mla\n"
      "  Subject:      Bank records, case 14/2025\n"
      "  Legal basis:  UNTOC art. 18\n"
      "  Language:     es\n"
      "  Urgent:       no\n"
      "  Deadline:     2025-07-31\n"
      "  Status:       agreed\n"
      "  Participants: ES-MJ@IberRed, SN-MJ@WACAP\n"
      "  Opened by:    ES-MJ@IberRed at 2025-06-15 11:06 UTC\n"
      "  Drafts:       1\n"
      "\n"
      "Timeline, oldest first (UTC):\n"
      "  2025-06-15 11:06  ES-MJ@IberRed  opened the thread\n"
      "      ES-MJ@IberRed  accepted 2025-06-15 11:06\n"
      "      SN-MJ@WACAP    relayed 2025-06-15 11:06, delivered 2025-06-15 11:07\n"
      "  2025-06-15 12:06  ES-MJ@IberRed  draft v1: request.txt (text/plain, 24 bytes, language es)\n"
      "      note:\n"
      "      | first draft\n"
      "      ES-MJ@IberRed  accepted 2025-06-15 11:06\n"
      "      SN-MJ@WACAP    delivered 2025-06-15 11:07\n"
      "  2025-06-15 13:06  SN-MJ@WACAP    comment:\n"
      "      | Received; which bank?\n"
      "      ES-MJ@IberRed  read 2025-06-15 13:08\n"
      "  2025-06-15 14:05  SN-MJ@WACAP    status executed (not applied: not a valid change from consultation)\n"
      "      ES-MJ@IberRed  no receipt yet\n"
      "  2025-06-15 14:06  ES-MJ@IberRed  status agreed\n"
      "      ES-MJ@IberRed  accepted 2025-06-15 11:06\n"
      "      SN-MJ@WACAP    no receipt yet\n";
  // The checklist's words are service::MissingItems' (the draft names none of them).
  ASSERT_FALSE(verified->view.missing().empty());
  expected += "\nMissing for a complete mla request:\n";
  for (const std::string& m : verified->view.missing()) expected += "  - " + m + "\n";
  expected += "\nVerified: 5 envelopes, 4 receipts, 2 rosters of IberRed, WACAP; exported by ES-MJ@IberRed at "
              "2025-06-15 15:06 UTC\n";
  EXPECT_EQ(out.str(), expected);
}

TEST_F(VerifyThreadTest, JsonIsOneDocumentWithTheThreadAndWhatVerified) {
  auto verified = VerifyThread(File(), iber_.root_key(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  const std::string json = VerifiedJson(*verified, "case.bundle");
  EXPECT_EQ(json.find('\n'), std::string::npos);
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &doc).ok()) << json;
  const auto& thread = doc.fields().at("thread").struct_value();
  EXPECT_EQ(thread.fields().at("thread_id").string_value(), kThread);
  EXPECT_EQ(thread.fields().at("events").list_value().values_size(), 5);
  const auto& summary = doc.fields().at("verified").struct_value();
  EXPECT_EQ(summary.fields().at("file").string_value(), "case.bundle");
  EXPECT_EQ(summary.fields().at("envelopes").number_value(), 5);
  EXPECT_EQ(summary.fields().at("receipts").number_value(), 4);
  EXPECT_EQ(summary.fields().at("exporter").string_value(), "ES-MJ@IberRed");
  EXPECT_EQ(summary.fields().at("networks").list_value().values_size(), 2);
}

TEST_F(VerifyThreadTest, OneFlippedByteFailsAndSaysWhere) {
  std::string file = File();
  ASSERT_TRUE(VerifyThread(file, iber_.root_key(), kNow).ok());
  // A byte inside the third envelope's ciphertext (the envelopes follow the exporter's party).
  const std::string& third = envelopes_[2].envelope();
  const std::size_t at = file.find(third);
  ASSERT_NE(at, std::string::npos);
  file[at + third.size() - 20] ^= 0x01;
  auto verified = VerifyThread(file, iber_.root_key(), kNow);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("envelope 3"), std::string::npos) << verified.error().message;
  EXPECT_NE(verified.error().message.find("bytes "), std::string::npos) << verified.error().message;
}

TEST_F(VerifyThreadTest, AnUnrelatedRootFails) {
  crypto::test::TestNetwork unrelated("EJN");
  unrelated.Admit("FR-MJ");
  EXPECT_FALSE(VerifyThread(File(), unrelated.root_key(), kNow).ok());
}

}  // namespace
}  // namespace comity::client
