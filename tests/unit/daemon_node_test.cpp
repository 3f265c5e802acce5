// node/daemon/node: real nodes in one process, each with its own io_context thread, ZeroMQ
// context and SQLCipher archive, talking CURVE over loopback TCP. Strangers and hostile
// members are played by raw ZeroMQ sockets with their own CURVE keys.
#include "node/daemon/node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <set>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "tests/unit/daemon_test_support.h"

namespace comity::node {
namespace {

TEST_F(DaemonNodeTest, DirectDeliveryIsArchivedAtBothEndsAndAcknowledged) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain; charset=utf-8", "solicitud de asistencia judicial").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; })) << "no custody from FR-MJ";
  EXPECT_EQ((*es)->Counters().outbox, 0);
  EXPECT_EQ((*fr)->Counters().received, 1);
  EXPECT_GE((*fr)->Counters().links_admitted, 1);
  (*fr)->WithArchive([&](archive::Archive& a) {
    auto m = a.GetMessage(*id);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->direction, "in");
    EXPECT_EQ((*m)->sender, "ES-MJ@ejn");
    EXPECT_EQ((*m)->body, "solicitud de asistencia judicial");
    EXPECT_EQ(crypto::MessageId((*m)->envelope), *id);
    auto hits = a.Search("asistencia", 10);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), 1u);
    auto log = a.AuditTail(10);
    ASSERT_TRUE(log.ok());
    std::vector<std::string> actions;
    for (const auto& e : *log) actions.push_back(e.action);
    // Oldest last: received, then the receipt sent back in the same transaction.
    EXPECT_EQ(actions, (std::vector<std::string>{"delivered", "send", "receive"}));
  });
  // The signed receipt comes back to ES-MJ.
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; })) << "no receipt from FR-MJ";
  (*es)->WithArchive([&](archive::Archive& a) {
    auto m = a.GetMessage(*id);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->direction, "out");
    auto receipts = a.Receipts(*id);
    ASSERT_TRUE(receipts.ok());
    // Its own node's evidence that it accepted the message, then FR-MJ's that it received it.
    ASSERT_EQ(receipts->size(), 2u);
    const std::pair<const char*, const char*> expected[] = {{"ES-MJ@ejn", "accepted"}, {"FR-MJ@ejn", "delivered"}};
    for (std::size_t i = 0; i < 2; ++i) {
      const archive::ReceiptRecord& r = (*receipts)[i];
      EXPECT_EQ(r.party, expected[i].first);
      EXPECT_EQ(r.kind, expected[i].second);
      v1::Signed signed_receipt;
      v1::Receipt body;
      ASSERT_TRUE(signed_receipt.ParseFromArray(r.signed_receipt.data(), static_cast<int>(r.signed_receipt.size())));
      ASSERT_TRUE(body.ParseFromString(signed_receipt.body()));
      EXPECT_EQ(body.kind(), r.kind);
      ASSERT_EQ(body.message_ids_size(), 1);
      EXPECT_EQ(crypto::ToBytes(body.message_ids(0)), *id);
      const std::string signer = i == 0 ? "ES-MJ" : "FR-MJ";
      EXPECT_EQ(body.signer().member_id(), signer);
      EXPECT_TRUE(crypto::VerifySignature(crypto::AsBytes(net_.member(signer).certificate.keys().sign_ed25519()),
                                          crypto::kDomainReceipt, crypto::AsBytes(signed_receipt.body()),
                                          crypto::AsBytes(signed_receipt.signature())));
    }
    auto log = a.AuditTail(10);
    ASSERT_TRUE(log.ok());
    std::vector<std::string> actions;
    for (const auto& e : *log) actions.push_back(e.action);
    EXPECT_EQ(actions, (std::vector<std::string>{"receipt", "delivered", "send"}));
  });
  // Nothing of the content reached the log lines.
  std::lock_guard<std::mutex> lock(log_mutex_);
  for (const std::string& line : logs_) EXPECT_EQ(line.find("asistencia"), std::string::npos) << line;
}

TEST_F(DaemonNodeTest, AnOfflineRecipientGetsTheMessageWhenItComesBack) {
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "while you were away").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  std::this_thread::sleep_for(std::chrono::seconds(10));  // retried meanwhile, in vain
  EXPECT_GE((*es)->Counters().sent, 2);
  EXPECT_EQ((*es)->Counters().custody, 0);
  EXPECT_EQ((*es)->Counters().outbox, 1);
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody >= 1; }));
  EXPECT_EQ(Messages(*fr), 1);
  // The retries queued while it was away all arrive and are all acknowledged: the entry is
  // settled once, with one audit entry.
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; }));
  EXPECT_EQ((*es)->Counters().custody, 1);
  (*es)->WithArchive([&](archive::Archive& a) {
    auto log = a.AuditTail(100);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(std::count_if(log->begin(), log->end(), [](const archive::AuditEntry& e) { return e.action == "delivered"; }), 1);
  });
}

TEST_F(DaemonNodeTest, OnlyTheHopAMessageWentToCanTakeCustodyOfIt) {
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "for FR only").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().sent >= 1; }));
  // IT-MG, a member, claims custody of it for FR-MJ.
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "ES-MJ", "IT-MG");
  SendFrames(it, {"COMITY1", "CUSTODY", std::string(id->begin(), id->end()), "FR-MJ@ejn"});
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().dropped_malformed >= 1; }));
  EXPECT_EQ((*es)->Counters().custody, 0);
  EXPECT_EQ((*es)->Counters().outbox, 1) << "a false custody claim removed the entry";
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  EXPECT_EQ(Messages(*fr), 1);
}

TEST_F(DaemonNodeTest, AReceiptSignedBySomeoneElseIsRefused) {
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "ES-MJ", "IT-MG");
  // IT-MG forwards a receipt FR-MJ signed, as if it were its own.
  const crypto::Bytes some_id(32, 7);
  const std::string fr_receipt = MakeReceipt(net_.member("FR-MJ").identity, Party("FR-MJ"), "delivered", {some_id}, kNow);
  crypto::SealOptions o;
  o.created_at = kNow;
  o.content_type = std::string(kReceiptContentType);
  auto env = crypto::Seal(net_.member("IT-MG").identity, Party("IT-MG"), {crypto::RecipientOf(net_.member("ES-MJ").certificate)},
                          o, crypto::AsBytes(fr_receipt));
  ASSERT_TRUE(env.ok());
  auto reply = Exchange(it, std::string(env->begin(), env->end()));
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[1], "REJECT");
  EXPECT_EQ(reply[4], "the receipt is not signed by its sender");
  // Signed by IT-MG but naming FR-MJ: refused too.
  v1::Signed relabelled;
  ASSERT_TRUE(relabelled.ParseFromString(MakeReceipt(net_.member("IT-MG").identity, Party("FR-MJ"), "delivered", {some_id}, kNow)));
  auto env2 = crypto::Seal(net_.member("IT-MG").identity, Party("IT-MG"), {crypto::RecipientOf(net_.member("ES-MJ").certificate)},
                           o, crypto::AsBytes(relabelled.SerializeAsString()));
  ASSERT_TRUE(env2.ok());
  reply = Exchange(it, std::string(env2->begin(), env2->end()));
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[4], "the receipt is malformed or names someone else");
  // Signed by IT-MG as itself, but of a kind no peer sends (only the sender's node signs
  // accepted and not-delivered evidence): refused too.
  for (const char* kind : {"accepted", "not-delivered", ""}) {
    auto env3 = crypto::Seal(net_.member("IT-MG").identity, Party("IT-MG"),
                             {crypto::RecipientOf(net_.member("ES-MJ").certificate)}, o,
                             crypto::AsBytes(MakeReceipt(net_.member("IT-MG").identity, Party("IT-MG"), kind, {some_id}, kNow)));
    ASSERT_TRUE(env3.ok());
    reply = Exchange(it, std::string(env3->begin(), env3->end()));
    ASSERT_EQ(reply.size(), 5u) << kind;
    EXPECT_EQ(reply[4], "the receipt is malformed or names someone else") << kind;
  }
  EXPECT_EQ((*es)->Counters().receipts_in, 0);
}

TEST_F(DaemonNodeTest, OneSignedReceiptCoversManyMessages) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  constexpr int kCount = 300;
  std::vector<std::future<Result<crypto::Bytes>>> sends;
  for (int i = 0; i < kCount; ++i) sends.push_back((*es)->Send({Party("FR-MJ")}, "text/plain", "note " + std::to_string(i)));
  std::vector<crypto::Bytes> ids;
  for (auto& f : sends) {
    auto id = f.get();
    ASSERT_TRUE(id.ok()) << id.error().message;
    ids.push_back(*id);
  }
  auto delivered = [&] {
    int n = 0;
    (*es)->WithArchive([&](archive::Archive& a) {
      for (const crypto::Bytes& id : ids) {
        auto r = a.Receipts(id);
        if (!r) continue;
        for (const auto& rec : *r) n += rec.kind == "delivered" && rec.party == "FR-MJ@ejn";
      }
    });
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return delivered() == kCount; })) << delivered() << " of " << kCount;
  // Received in batches, receipted per batch: fewer signed receipts than messages.
  const std::int64_t envelopes = (*es)->Counters().receipts_in;
  EXPECT_GE(envelopes, 1);
  EXPECT_LT(envelopes, kCount / 2) << "a receipt per message";
  // Each covers its messages and verifies; every message's row points at one of them.
  (*es)->WithArchive([&](archive::Archive& a) {
    std::set<std::string> distinct;
    int covered = 0;
    for (const crypto::Bytes& id : ids) {
      auto r = a.Receipts(id);
      ASSERT_TRUE(r.ok());
      for (const auto& rec : *r) {
        if (rec.kind != "delivered") continue;
        v1::Signed signed_receipt;
        v1::Receipt body;
        ASSERT_TRUE(signed_receipt.ParseFromArray(rec.signed_receipt.data(), static_cast<int>(rec.signed_receipt.size())));
        ASSERT_TRUE(body.ParseFromString(signed_receipt.body()));
        bool listed = false;
        for (const std::string& m : body.message_ids()) listed |= crypto::ToBytes(m) == id;
        EXPECT_TRUE(listed);
        if (distinct.insert(signed_receipt.signature()).second) covered += body.message_ids_size();
      }
    }
    EXPECT_EQ(static_cast<std::int64_t>(distinct.size()), envelopes);
    EXPECT_EQ(covered, kCount);
  });
}

TEST_F(DaemonNodeTest, NoDeliveredReceiptInTimeIsRecordedAndALateOneStillCounts) {
  DaemonSettings s = Settings("ES-MJ");
  s.not_delivered_after = std::chrono::seconds(2);
  s.file_sweep_every = std::chrono::seconds(1);
  auto es = Start("ES-MJ", s);
  ASSERT_TRUE(es);
  // IT-MG is down.
  auto id = (*es)->Send({Party("IT-MG")}, "text/plain", "urgent: freezing order").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().not_delivered == 1; }, std::chrono::seconds(12)));
  auto kinds = [&] {
    std::vector<std::string> out;
    (*es)->WithArchive([&](archive::Archive& a) {
      auto r = a.Receipts(*id);
      if (!r) return;
      for (const auto& rec : *r) out.push_back(rec.kind + " " + rec.party);
    });
    return out;
  };
  EXPECT_EQ(kinds(), (std::vector<std::string>{"accepted ES-MJ@ejn", "not-delivered IT-MG@ejn"}));
  // It comes up: the message goes, and the late receipt is recorded after the evidence.
  auto it = Start("IT-MG");
  ASSERT_TRUE(it);
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; }, std::chrono::seconds(15)));
  EXPECT_EQ(kinds(), (std::vector<std::string>{"accepted ES-MJ@ejn", "not-delivered IT-MG@ejn", "delivered IT-MG@ejn"}));
  // Recorded once, not at every check.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ((*es)->Counters().not_delivered, 1);
}

v1::ApiRequest PingOf(const std::string& to, std::uint32_t timeout_ms) {
  v1::ApiRequest r;
  r.set_version(1);
  r.mutable_ping()->set_to(to);
  r.mutable_ping()->set_timeout_ms(timeout_ms);
  return r;
}

TEST_F(DaemonNodeTest, APingThroughARelayListsEveryStepOfTheRealPath) {
  DaemonSettings pt_settings = Settings("PT-PGR");
  pt_settings.relays = {"RELAY-1@ejn"};
  auto es = Start("ES-MJ");
  auto relay = Start("RELAY-1");
  auto pt = Start("PT-PGR", pt_settings);
  ASSERT_TRUE(es && relay && pt);
  const std::string socket = homes_.at("ES-MJ")->path() + "/comity.sock";
  const v1::ApiResponse r = ApiCall(socket, PingOf("PT-PGR", 10000));
  ASSERT_EQ(r.error(), "");
  ASSERT_TRUE(r.has_ping());
  EXPECT_TRUE(r.ping().delivered());
  EXPECT_EQ(r.ping().to(), "PT-PGR@ejn");
  std::vector<std::string> steps;
  double last = 0;
  for (const auto& step : r.ping().steps()) {
    steps.push_back(step.kind() + " " + step.by());
    EXPECT_GE(step.after_ms(), last);
    last = step.after_ms();
  }
  // The relay's custody and its relayed receipt may come in either order.
  ASSERT_EQ(steps.size(), 4u) << ::testing::PrintToString(steps);
  EXPECT_EQ(steps[0], "accepted ES-MJ@ejn");
  EXPECT_EQ(std::set<std::string>(steps.begin() + 1, steps.begin() + 3),
            (std::set<std::string>{"custody RELAY-1@ejn", "relayed RELAY-1@ejn"}));
  EXPECT_EQ(steps[3], "delivered PT-PGR@ejn");
}

TEST_F(DaemonNodeTest, AnOfficerReadingAMessageSendsSignedReadEvidenceOnce) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "please confirm receipt").get();
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; }));
  const std::string socket = homes_.at("FR-MJ")->path() + "/comity.sock";
  v1::ApiRequest read;
  read.set_version(1);
  read.mutable_read()->add_message_ids(crypto::AsString(*id));
  v1::ApiResponse r = ApiCall(socket, read);
  ASSERT_TRUE(r.has_read()) << r.error();
  EXPECT_EQ(r.read().receipted(), 1u);
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 2; })) << "no read receipt";
  auto kinds = [&](Running& n) {
    std::vector<std::string> out;
    n->WithArchive([&](archive::Archive& a) {
      auto rs = a.Receipts(*id);
      if (!rs) return;
      for (const auto& rec : *rs) out.push_back(rec.kind + " " + rec.party);
    });
    return out;
  };
  EXPECT_EQ(kinds(*es), (std::vector<std::string>{"accepted ES-MJ@ejn", "delivered FR-MJ@ejn", "read FR-MJ@ejn"}));
  EXPECT_EQ(kinds(*fr), (std::vector<std::string>{"read FR-MJ@ejn"})) << "FR-MJ keeps what it signed";
  // Read again: no second receipt.
  r = ApiCall(socket, read);
  ASSERT_TRUE(r.has_read()) << r.error();
  EXPECT_EQ(r.read().receipted(), 0u);
  // Only what it received can be marked read.
  v1::ApiRequest foreign;
  foreign.set_version(1);
  foreign.mutable_read()->add_message_ids(std::string(32, '\x07'));
  EXPECT_NE(ApiCall(socket, foreign).error().find("is no message this node received"), std::string::npos);
}

TEST_F(DaemonNodeTest, TheDirectoryListsCurrentMembersWithTheirLinksAndFilters) {
  net_.AdmitWith("PT-DAY", [](v1::Certificate& c) {
    c.set_country("PT");
    c.clear_languages();
    c.add_languages("pt");
    c.set_contact_24_7(false);
  });
  net_.Revoke("IT-MG");
  roster_ = net_.Publish();
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "hello").get().ok());
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  const std::string socket = homes_.at("ES-MJ")->path() + "/comity.sock";
  auto members = [&](std::function<void(v1::DirectoryRequest&)> filter) {
    v1::ApiRequest r;
    r.set_version(1);
    filter(*r.mutable_directory());
    const v1::ApiResponse a = ApiCall(socket, r);
    EXPECT_EQ(a.error(), "");
    std::vector<std::string> out;
    for (const auto& m : a.directory().members()) out.push_back(m.member_id() + " " + m.link());
    return out;
  };
  // Everyone current (IT-MG is revoked), with ES-MJ's link to FR-MJ.
  EXPECT_EQ(members([](v1::DirectoryRequest&) {}),
            (std::vector<std::string>{"ES-MJ none", "FR-MJ dialled", "PT-DAY none", "PT-PGR none", "RELAY-1 none"}));
  EXPECT_EQ(members([](v1::DirectoryRequest& q) { q.set_country("PT"); }), (std::vector<std::string>{"PT-DAY none"}));
  EXPECT_EQ(members([](v1::DirectoryRequest& q) { q.set_language("pt"); }), (std::vector<std::string>{"PT-DAY none"}));
  EXPECT_EQ(members([](v1::DirectoryRequest& q) { q.set_role("relay"); }), (std::vector<std::string>{"RELAY-1 none"}));
  EXPECT_EQ(members([](v1::DirectoryRequest& q) { q.set_contact_24_7(true); }).size(), 4u);
  v1::ApiRequest bad;
  bad.set_version(1);
  bad.mutable_directory()->set_role("judge");
  EXPECT_EQ(ApiCall(socket, bad).error(), "directory: unknown role 'judge'");
  bad.mutable_directory()->set_role("");
  bad.mutable_directory()->set_network("nowhere");
  EXPECT_EQ(ApiCall(socket, bad).error(), "directory: this node trusts no network 'nowhere'");
  // What a member publishes about itself comes through whole.
  v1::ApiRequest one;
  one.set_version(1);
  one.mutable_directory()->set_role("relay");
  const v1::DirectoryEntry relay = ApiCall(socket, one).directory().members(0);
  EXPECT_EQ(relay.networks_size(), 1);
  EXPECT_EQ(relay.networks(0), "ejn");
  EXPECT_EQ(relay.fingerprint(), crypto::Fingerprint(net_.member("RELAY-1").identity.public_identity().sign));
}

TEST_F(DaemonNodeTest, TheLocalApiAnswersStatusRefusesBadRequestsAndTimesAPingOut) {
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  const std::string socket = homes_.at("ES-MJ")->path() + "/comity.sock";
  v1::ApiRequest status;
  status.set_version(1);
  status.mutable_status();
  v1::ApiResponse r = ApiCall(socket, status);
  ASSERT_TRUE(r.has_status()) << r.error();
  EXPECT_TRUE(r.status().running());
  ASSERT_EQ(r.status().memberships_size(), 1);
  EXPECT_EQ(r.status().memberships(0), "ES-MJ@ejn");
  // IT-MG is down: the ping ends at its timeout with what it saw.
  r = ApiCall(socket, PingOf("IT-MG@ejn", 500));
  ASSERT_TRUE(r.has_ping()) << r.error();
  EXPECT_FALSE(r.ping().delivered());
  ASSERT_EQ(r.ping().steps_size(), 1);
  EXPECT_EQ(r.ping().steps(0).kind(), "accepted");
  EXPECT_EQ(ApiCall(socket, PingOf("NOBODY", 500)).error(), "ping: 'NOBODY' is no member of this node's networks");
  v1::ApiRequest old = status;
  old.set_version(7);
  EXPECT_EQ(ApiCall(socket, old).error(), "request version 7 is not 1");
  v1::ApiRequest empty;
  empty.set_version(1);
  EXPECT_EQ(ApiCall(socket, empty).error(), "unknown request (a newer client?)");
}

TEST_F(DaemonNodeTest, ACoordinatorsBroadcastReachesTwentyMembersAsOneEnvelope) {
  net_.AdmitWith("EJN-COORD", [](v1::Certificate& c) { c.set_role(v1::ROLE_COORDINATOR); });
  std::vector<std::string> members;
  for (int i = 1; i <= 20; ++i) {
    members.push_back("M" + std::to_string(i));
    net_.Admit(members.back());
    ports_[members.back()] = FreePort();
  }
  ports_["EJN-COORD"] = FreePort();
  roster_ = net_.Publish();
  const std::int64_t now = kNow;
  crypto::TrustStore trust = crypto::test::TrustingOnly(net_, roster_);
  // Only the coordinator may address the whole network.
  auto refused = NetworkRecipients("ejn", trust, {Party("ES-MJ")}, now);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("needs the coordinator role"), std::string::npos) << refused.error().message;
  auto all = NetworkRecipients("ejn", trust, {Party("EJN-COORD")}, now);
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<std::unique_ptr<Running>> nodes;
  for (const std::string& m : members) {
    nodes.push_back(Start(m));
    ASSERT_TRUE(nodes.back());
  }
  auto coord = Start("EJN-COORD");
  ASSERT_TRUE(coord);
  // Everyone in the roster but itself; those not running (ES-MJ, ...) get it when they come.
  std::vector<v1::Party> running;
  for (const v1::Party& p : *all) {
    if (std::find(members.begin(), members.end(), p.member_id()) != members.end()) running.push_back(p);
  }
  ASSERT_EQ(running.size(), 20u);
  auto id = (*coord)->Send(running, "text/plain", "network notice: new contact points").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_TRUE(WaitFor([&] { return (*coord)->Counters().delivered_receipted == 20; }, std::chrono::seconds(20)))
      << (*coord)->Counters().delivered_receipted << " of 20 receipts";
  // One envelope: every member holds the same message id.
  for (auto& n : nodes) {
    (*n)->WithArchive([&](archive::Archive& a) {
      auto m = a.GetMessage(*id);
      ASSERT_TRUE(m.ok() && m->has_value());
    });
  }
}

// More than a window (512) of envelopes lost on the way: the retries of those in flight must
// still go out ahead of the new ones waiting behind the full window.
TEST_F(DaemonNodeTest, AWholeLostWindowIsSentAgainAndTheRestFollows) {
  DaemonSettings slow = Settings("FR-MJ");
  slow.peer_frames_per_second = 1;  // FR-MJ drops nearly everything at first
  slow.peer_burst = 1;
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  constexpr int kCount = 1000;  // 488 wait behind the full window: more than one read of the outbox
  {
    auto fr = Start("FR-MJ", slow);
    ASSERT_TRUE(fr);
    std::vector<std::future<Result<crypto::Bytes>>> sends;
    for (int i = 0; i < kCount; ++i) sends.push_back((*es)->Send({Party("FR-MJ")}, "text/plain", "n" + std::to_string(i)));
    for (auto& f : sends) ASSERT_TRUE(f.get().ok());
    ASSERT_TRUE(WaitFor([&] { return (*fr)->Counters().dropped_rate >= 500; }));
  }
  auto fr = Start("FR-MJ");  // back without the limit
  ASSERT_TRUE(fr);
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().custody == kCount; }, std::chrono::seconds(30)))
      << "custody " << (*es)->Counters().custody << " of " << kCount << ", sent " << (*es)->Counters().sent
      << "; FR received " << (*fr)->Counters().received << ", frames " << (*fr)->Counters().frames_in << ", rate-dropped "
      << (*fr)->Counters().dropped_rate;
  EXPECT_EQ((*es)->Counters().outbox, 0);
}

TEST_F(DaemonNodeTest, AStrangersCurveKeyIsRefusedAndOthersKeepWorking) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  char pub[41], sec[41];
  ASSERT_EQ(zmq_curve_keypair(pub, sec), 0);
  auto pk = crypto::Z85Decode(pub), sk = crypto::Z85Decode(sec);
  ASSERT_TRUE(pk && sk);
  auto stranger = RawLink(ctx, "FR-MJ", std::string(pk->begin(), pk->end()), std::string(sk->begin(), sk->end()));
  stranger.set(zmq::sockopt::rcvtimeo, 1500);
  EXPECT_TRUE(Exchange(stranger, crypto::test::PaddedTo("", 100)).empty()) << "a stranger got an answer";
  EXPECT_GE((*fr)->Counters().links_refused, 1);
  EXPECT_EQ((*fr)->Counters().frames_in, 0);
  // A member still gets through.
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "after the stranger").get().ok());
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
}

TEST_F(DaemonNodeTest, ReplayForgeryOversizeAndJunkAreHandledEachWithItsCounter) {
  DaemonSettings s = Settings("FR-MJ");
  s.max_envelope_bytes = 4096;
  auto fr = Start("FR-MJ", s);
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");  // a member link carrying what IT-MG sends

  const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "first");
  const std::string env_text(env.begin(), env.end());
  auto reply = Exchange(it, env_text);
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
  const crypto::Bytes id = crypto::MessageId(env);
  EXPECT_EQ(reply[2], std::string(id.begin(), id.end()));
  EXPECT_EQ(reply[3], "FR-MJ@ejn");

  // Replayed: acknowledged again, stored once.
  reply = Exchange(it, env_text);
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
  EXPECT_EQ((*fr)->Counters().duplicates, 1);
  EXPECT_EQ(Messages(*fr), 1);

  // A forged signature: refused for good.
  v1::Signed forged;
  const crypto::Bytes to_forge = Envelope("IT-MG", "FR-MJ", "forged");
  ASSERT_TRUE(forged.ParseFromArray(to_forge.data(), static_cast<int>(to_forge.size())));
  std::string sig = forged.signature();
  sig[5] = static_cast<char>(sig[5] ^ 1);
  forged.set_signature(sig);
  reply = Exchange(it, forged.SerializeAsString());
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[1], "REJECT");
  EXPECT_EQ(reply[4], "bad signature");

  // Addressed to someone else: refused.
  const crypto::Bytes other = Envelope("IT-MG", "ES-MJ", "not for FR");
  reply = Exchange(it, std::string(other.begin(), other.end()));
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[4], "not addressed to this node");
  EXPECT_EQ((*fr)->Counters().rejected, 2);

  // Oversize and junk get no answer, only a counter; the link keeps working.
  it.set(zmq::sockopt::rcvtimeo, 500);
  EXPECT_TRUE(Exchange(it, std::string(10000, 'x')).empty());
  EXPECT_TRUE(Exchange(it, "random junk").empty());
  it.set(zmq::sockopt::rcvtimeo, 5000 * TimeoutScale());
  EXPECT_EQ((*fr)->Counters().dropped_oversize, 1);
  EXPECT_EQ((*fr)->Counters().dropped_malformed, 1);
  const crypto::Bytes after = Envelope("IT-MG", "FR-MJ", "second");
  reply = Exchange(it, std::string(after.begin(), after.end()));
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
  EXPECT_EQ(Messages(*fr), 2);
}

TEST_F(DaemonNodeTest, ARevokedMembersLinkIsRefusedAfterTheNewRoster) {
  auto fr = Start("FR-MJ");
  auto es = Start("ES-MJ");
  ASSERT_TRUE(fr && es);
  zmq::context_t ctx;
  auto first = MemberLink(ctx, "FR-MJ", "IT-MG");
  {
    const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "before");
    ASSERT_EQ(Exchange(first, std::string(env.begin(), env.end())).size(), 4u);
  }
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "ES-MJ, linked in too").get().ok());
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  // Watch IT-MG's open link: the revocation must close it, not only ignore what it sends.
  ASSERT_EQ(zmq_socket_monitor(first.handle(), "inproc://revoked-link", ZMQ_EVENT_DISCONNECTED), 0);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::rcvtimeo, 1000);
  monitor.connect("inproc://revoked-link");
  net_.Revoke("IT-MG");
  const v1::Signed newer = net_.Publish();
  crypto::TrustStore trust = crypto::test::TrustingOnly(net_, newer);
  (*fr)->ReplaceTrust(std::move(trust));
  std::vector<zmq::message_t> event;
  ASSERT_TRUE(zmq::recv_multipart(monitor, std::back_inserter(event))) << "IT-MG's link was still open after 1 s";
  std::uint16_t kind = 0;
  std::memcpy(&kind, event[0].data(), sizeof kind);
  EXPECT_EQ(kind, ZMQ_EVENT_DISCONNECTED);
  // The other members' links come back by themselves.
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "still linked").get().ok());
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 2; })) << "ES-MJ did not get through after the reopen";
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  it.set(zmq::sockopt::rcvtimeo, 1500);
  const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "after");
  EXPECT_TRUE(Exchange(it, std::string(env.begin(), env.end())).empty());
  EXPECT_GE((*fr)->Counters().links_refused, 1);
  EXPECT_EQ(Messages(*fr), 3);  // IT-MG's before, and ES-MJ's two
}

TEST_F(DaemonNodeTest, ARelayCarriesToAnOutboundOnlyMemberItCannotRead) {
  DaemonSettings pt_settings = Settings("PT-PGR");
  pt_settings.relays = {"RELAY-1@ejn"};
  auto es = Start("ES-MJ");
  auto relay = Start("RELAY-1");
  ASSERT_TRUE(es && relay);
  // PT-PGR is not up yet: the relay takes custody and holds the envelope.
  auto id = (*es)->Send({Party("PT-PGR")}, "text/plain", "spontaneous information, art. 18(4)").get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; })) << "the relay took no custody";
  EXPECT_EQ((*es)->Counters().outbox, 0);
  EXPECT_EQ((*relay)->Counters().relayed, 1);
  // The relay signs that it took the message for PT-PGR, and sends that evidence back.
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; })) << "no relayed receipt";
  EXPECT_EQ((*relay)->Counters().outbox, 1) << "the envelope for PT-PGR, held";
  (*es)->WithArchive([&](archive::Archive& a) {
    auto receipts = a.Receipts(*id);
    ASSERT_TRUE(receipts.ok());
    ASSERT_EQ(receipts->size(), 2u);
    EXPECT_EQ((*receipts)[1].kind, "relayed");
    EXPECT_EQ((*receipts)[1].party, "PT-PGR@ejn");
    v1::Signed signed_receipt;
    v1::Receipt body;
    ASSERT_TRUE(signed_receipt.ParseFromArray((*receipts)[1].signed_receipt.data(),
                                              static_cast<int>((*receipts)[1].signed_receipt.size())));
    ASSERT_TRUE(body.ParseFromString(signed_receipt.body()));
    EXPECT_EQ(body.signer().member_id(), "RELAY-1");
    EXPECT_EQ(body.about().member_id(), "PT-PGR");
  });
  auto pt = Start("PT-PGR", pt_settings);
  ASSERT_TRUE(pt);
  ASSERT_TRUE(WaitFor([&] { return Messages(*pt) == 1 && (*relay)->Counters().outbox == 0; }))
      << "PT-PGR took no custody from the relay";
  EXPECT_EQ(Messages(*relay), 0) << "a relay stores ciphertext for others, never their messages";
  (*relay)->WithArchive([&](archive::Archive& a) {
    auto m = a.GetMessage(*id);
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(m->has_value());
  });
  // PT-PGR's receipt reaches ES-MJ (PT-PGR dials out to it).
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 2; })) << "no receipt from PT-PGR";
  (*pt)->WithArchive([&](archive::Archive& a) {
    auto m = a.GetMessage(*id);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->sender, "ES-MJ@ejn");
  });
  // The relay refuses to carry for a member that does not name it.
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "RELAY-1", "IT-MG");
  const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "not through you");
  SendFrames(it, {"COMITY1", "FORWARD", "FR-MJ@ejn", std::string(env.begin(), env.end())});
  const std::vector<std::string> reply = Answer(it);
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[1], "REJECT");
  EXPECT_EQ(reply[4], "this node is not a relay of FR-MJ@ejn");
  // A forged signature is dropped at the relay: it checks what it cannot read.
  const std::int64_t queued = (*relay)->Counters().relayed;
  crypto::Bytes forged = Envelope("IT-MG", "PT-PGR", "forged on the way");
  v1::Signed outer;
  ASSERT_TRUE(outer.ParseFromArray(forged.data(), static_cast<int>(forged.size())));
  std::string sig = outer.signature();
  sig[10] = static_cast<char>(sig[10] ^ 1);
  outer.set_signature(sig);
  SendFrames(it, {"COMITY1", "FORWARD", "PT-PGR@ejn", outer.SerializeAsString()});
  const std::vector<std::string> refused = Answer(it);
  ASSERT_EQ(refused.size(), 5u);
  EXPECT_EQ(refused[1], "REJECT");
  EXPECT_EQ(refused[4], "bad signature");
  EXPECT_EQ((*relay)->Counters().relayed, queued);
}

TEST_F(DaemonNodeTest, ANewerRosterSpreadsAndCutsTheRevokedMemberOff) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "hello").get().ok());  // opens ES -> FR
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  net_.Revoke("IT-MG");
  const v1::Signed newer = net_.Publish();
  // Only ES-MJ is told; FR-MJ must learn it from ES-MJ.
  (*es)->ReplaceTrust(crypto::test::TrustingOnly(net_, newer));
  ASSERT_TRUE(WaitFor([&] { return (*fr)->Counters().rosters_accepted == 1; })) << "FR-MJ never got roster v2";
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  it.set(zmq::sockopt::rcvtimeo, 1500);
  const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "after revocation");
  EXPECT_TRUE(Exchange(it, std::string(env.begin(), env.end())).empty());
  EXPECT_GE((*fr)->Counters().links_refused, 1);
  (*fr)->WithArchive([&](archive::Archive& a) {
    auto rosters = a.RosterCount();
    ASSERT_TRUE(rosters.ok());
    EXPECT_EQ(*rosters, 1);
    auto log = a.AuditTail(5);
    ASSERT_TRUE(log.ok());
    bool audited = false;
    for (const auto& e : *log) audited |= e.action == "roster";
    EXPECT_TRUE(audited);
  });
}

TEST_F(DaemonNodeTest, AListenEndpointInUseIsANamedError) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  archive::test::TempDir other;
  auto a = archive::Archive::Create(other.path(), crypto::AsBytes(std::string("pw")), crypto::MinimumKdf());
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto identity = crypto::Identity::FromSecret(net_.member("ES-MJ").identity.ExportSecret());
  ASSERT_TRUE(identity.ok());
  NodeParams p("ES-MJ", std::move(identity).value(), {Party("ES-MJ")}, crypto::test::TrustingOnly(net_, roster_),
               std::move(a).value(), Settings("FR-MJ"));
  p.now = [] { return kNow; };
  p.log_sink = [](const std::string&) {};
  auto node = Node::Create(std::move(p));
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.error().message.find(Endpoint(ports_.at("FR-MJ"))), std::string::npos) << node.error().message;
}

}  // namespace
}  // namespace comity::node
