// node/daemon/node: real nodes in one process, each with its own io_context thread, ZeroMQ
// context and SQLCipher archive, talking CURVE over loopback TCP. Strangers and hostile
// members are played by raw ZeroMQ sockets with their own CURVE keys.
#include "node/daemon/node.h"

#include <gtest/gtest.h>

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
    ASSERT_EQ(receipts->size(), 1u);
    EXPECT_EQ((*receipts)[0].party, "FR-MJ@ejn");
    EXPECT_EQ((*receipts)[0].kind, "delivered");
    v1::Signed signed_receipt;
    ASSERT_TRUE(signed_receipt.ParseFromArray((*receipts)[0].signed_receipt.data(),
                                              static_cast<int>((*receipts)[0].signed_receipt.size())));
    EXPECT_TRUE(crypto::VerifySignature(crypto::AsBytes(net_.member("FR-MJ").certificate.keys().sign_ed25519()),
                                        crypto::kDomainReceipt, crypto::AsBytes(signed_receipt.body()),
                                        crypto::AsBytes(signed_receipt.signature())));
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
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ((*es)->Counters().custody, 0);
  EXPECT_EQ((*es)->Counters().outbox, 1);
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  EXPECT_EQ(Messages(*fr), 1);
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
  const std::string fr_receipt = MakeReceipt(net_.member("FR-MJ").identity, Party("FR-MJ"), some_id, kNow);
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
  ASSERT_TRUE(relabelled.ParseFromString(MakeReceipt(net_.member("IT-MG").identity, Party("FR-MJ"), some_id, kNow)));
  auto env2 = crypto::Seal(net_.member("IT-MG").identity, Party("IT-MG"), {crypto::RecipientOf(net_.member("ES-MJ").certificate)},
                           o, crypto::AsBytes(relabelled.SerializeAsString()));
  ASSERT_TRUE(env2.ok());
  reply = Exchange(it, std::string(env2->begin(), env2->end()));
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[4], "the receipt is malformed or names someone else");
  EXPECT_EQ((*es)->Counters().receipts_in, 0);
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
  it.set(zmq::sockopt::rcvtimeo, 5000);
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
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  {
    auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
    const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "before");
    ASSERT_EQ(Exchange(it, std::string(env.begin(), env.end())).size(), 4u);
  }
  net_.Revoke("IT-MG");
  const v1::Signed newer = net_.Publish();
  crypto::TrustStore trust = crypto::test::TrustingOnly(net_, newer);
  (*fr)->ReplaceTrust(std::move(trust));
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  it.set(zmq::sockopt::rcvtimeo, 1500);
  const crypto::Bytes env = Envelope("IT-MG", "FR-MJ", "after");
  EXPECT_TRUE(Exchange(it, std::string(env.begin(), env.end())).empty());
  EXPECT_GE((*fr)->Counters().links_refused, 1);
  EXPECT_EQ(Messages(*fr), 1);
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
  EXPECT_EQ((*relay)->Counters().outbox, 1);
  auto pt = Start("PT-PGR", pt_settings);
  ASSERT_TRUE(pt);
  ASSERT_TRUE(WaitFor([&] { return (*relay)->Counters().custody == 1; })) << "PT-PGR took no custody from the relay";
  EXPECT_EQ((*relay)->Counters().outbox, 0);
  EXPECT_EQ(Messages(*pt), 1);
  EXPECT_EQ(Messages(*relay), 0) << "a relay stores ciphertext for others, never their messages";
  (*relay)->WithArchive([&](archive::Archive& a) {
    auto count = a.MessageCount();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 0);
  });
  // PT-PGR's receipt reaches ES-MJ (PT-PGR dials out to it).
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; })) << "no receipt from PT-PGR";
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
