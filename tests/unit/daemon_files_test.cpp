// Attachments between real nodes (docs/PROTOCOL.md §10.6): pulled piece by piece beside their
// envelope, checked against the hash the sender sealed, carried blind by relays, resumed after
// a restart of either side.
#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "crypto/stream.h"
#include "tests/unit/daemon_test_support.h"

namespace comity::node {
namespace {

class DaemonFilesTest : public DaemonNodeTest {
 protected:
  // A file of `size` random bytes in the test's own directory.
  std::string RandomFile(std::size_t size, const std::string& name = "evidence.bin") {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream out(path, std::ios::binary);
    std::vector<std::uint8_t> block(1 << 20);
    for (std::size_t left = size; left > 0;) {
      const std::size_t n = std::min(left, block.size());
      randombytes_buf(block.data(), n);
      out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
      left -= n;
    }
    return path;
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  DaemonSettings Sweeping(const std::string& id) {
    DaemonSettings s = Settings(id);
    s.file_sweep_every = std::chrono::seconds(1);
    return s;
  }
  // The names in a node's transfer directory (partial and relay copies).
  std::vector<std::string> TransferFiles(const std::string& id) {
    std::vector<std::string> out;
    DIR* d = ::opendir((homes_.at(id)->path() + "/blobs/transfer").c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    }
    ::closedir(d);
    return out;
  }
  // The attachment with this content hash at `node`, decrypted from its archive; empty if it
  // has none. (Compared by hash: a failure must not print megabytes.)
  std::string Attachment(Running& node, const crypto::Bytes& content_hash) {
    std::string got;
    node->WithArchive([&](archive::Archive& a) {
      std::ostringstream out;
      if (a.ReadAttachment(content_hash, out)) got = out.str();
    });
    return got;
  }
  static std::string Dump(Node& n) {
    NodeCounters c = n.Counters();
    return " sent " + std::to_string(c.sent) + " frames_in " + std::to_string(c.frames_in) + " malformed " +
           std::to_string(c.dropped_malformed) + " rejected " + std::to_string(c.rejected) + " deferred " +
           std::to_string(c.deferred) + " oversize " + std::to_string(c.dropped_oversize) + " rate " +
           std::to_string(c.dropped_rate) + " active " + std::to_string(c.files_active) + " bytes_in " +
           std::to_string(c.file_bytes_in) + " served " + std::to_string(c.pieces_served) + ";";
  }
  static crypto::Bytes HashOf(const std::string& bytes) { return crypto::Blake2b(crypto::AsBytes(bytes)); }

  archive::test::TempDir dir_;
};

TEST_F(DaemonFilesTest, AnAttachmentArrivesCheckedWithItsMessage) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  const std::string path = RandomFile(3 * 1024 * 1024 + 12345);
  const std::string bytes = Slurp(path);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain; charset=utf-8", "bank records, see attachment", 0, {path}).get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; })) << "no custody from FR-MJ: " << Dump(**es) << Dump(**fr);
  const NodeCounters c = (*fr)->Counters();
  EXPECT_EQ(c.received, 1);
  EXPECT_EQ(c.files_in, 1);
  EXPECT_EQ(static_cast<std::uint64_t>(c.file_bytes_in), crypto::StreamSizeFor(bytes.size()));
  EXPECT_EQ(c.files_active, 0);
  EXPECT_GT((*es)->Counters().pieces_served, 0);
  // The recipient holds the same bytes, in its own encrypted blob store, with the message.
  EXPECT_EQ(HashOf(Attachment(*fr, HashOf(bytes))), HashOf(bytes)) << "fr does not hold the same bytes";
  (*fr)->WithArchive([&](archive::Archive& a) {
    auto m = a.GetMessage(*id);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->body, "bank records, see attachment");
    auto rec = a.GetAttachment(HashOf(bytes));
    ASSERT_TRUE(rec.ok() && rec->has_value());
    EXPECT_EQ((*rec)->name, "evidence.bin");
    EXPECT_EQ((*rec)->message_id, *id);
  });
  // The sender keeps its copy too (its legal record), and the receipt comes back.
  EXPECT_EQ(HashOf(Attachment(*es, HashOf(bytes))), HashOf(bytes)) << "es does not hold the same bytes";
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().receipts_in == 1; }));
  EXPECT_TRUE(TransferFiles("FR-MJ").empty()) << "the checked file moved into the blob store";
}

TEST_F(DaemonFilesTest, TheSameFileTwiceInAMessageOrInTwoMessagesArrives) {
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(es && fr);
  const std::string path = RandomFile(300'000);
  const std::string bytes = Slurp(path);
  auto twice = (*es)->Send({Party("FR-MJ")}, "text/plain", "twice", 0, {path, path});
  auto again = (*es)->Send({Party("FR-MJ")}, "text/plain", "again", 0, {path});
  ASSERT_TRUE(twice.get().ok());
  ASSERT_TRUE(again.get().ok());
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 2; }))
      << "custody " << (*es)->Counters().custody << ", refused " << (*es)->Counters().refused_by_peer;
  EXPECT_EQ((*es)->Counters().refused_by_peer, 0);
  EXPECT_EQ((*fr)->Counters().received, 2);
  EXPECT_EQ(HashOf(Attachment(*fr, HashOf(bytes))), HashOf(bytes));
}

TEST_F(DaemonFilesTest, ARelayCarriesAnAttachmentItCannotReadAndDropsItsCopyAfterwards) {
  DaemonSettings pt_settings = Settings("PT-PGR");
  pt_settings.relays = {"RELAY-1@ejn"};
  auto es = Start("ES-MJ");
  auto relay = Start("RELAY-1", Sweeping("RELAY-1"));
  ASSERT_TRUE(es && relay);
  const std::string path = RandomFile(1024 * 1024 + 7);
  const std::string bytes = Slurp(path);
  auto id = (*es)->Send({Party("PT-PGR")}, "text/plain", "", 0, {path}).get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  // The relay takes custody only once it holds the whole file, checked against its hash.
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; })) << "the relay took no custody";
  EXPECT_EQ((*relay)->Counters().files_in, 1);
  ASSERT_EQ(TransferFiles("RELAY-1").size(), 1u);
  EXPECT_NE(TransferFiles("RELAY-1")[0].find(".relay"), std::string::npos);
  // It holds ciphertext only: no attachment row, and the plaintext appears nowhere in its copy.
  (*relay)->WithArchive([&](archive::Archive& a) {
    auto rec = a.GetAttachment(HashOf(bytes));
    ASSERT_TRUE(rec.ok());
    EXPECT_FALSE(rec->has_value());
  });
  const std::string copy = Slurp(homes_.at("RELAY-1")->path() + "/blobs/transfer/" + TransferFiles("RELAY-1")[0]);
  EXPECT_EQ(copy.find(bytes.substr(1000, 64)), std::string::npos);
  auto pt = Start("PT-PGR", pt_settings);
  ASSERT_TRUE(pt);
  ASSERT_TRUE(WaitFor([&] { return (*pt)->Counters().files_in == 1 && (*relay)->Counters().outbox == 0; }))
      << "PT-PGR took no custody";
  EXPECT_EQ(HashOf(Attachment(*pt, HashOf(bytes))), HashOf(bytes)) << "pt does not hold the same bytes";
  // Delivered: the relay's copy goes at its next sweep.
  EXPECT_TRUE(WaitFor([&] { return TransferFiles("RELAY-1").empty(); }, std::chrono::seconds(8)));
}

TEST_F(DaemonFilesTest, AReceiverThatStopsMidwayResumesFromWhatItHolds) {
  DaemonSettings slow = Settings("FR-MJ");
  slow.file_bytes_per_second = 4 << 20;  // 16 MiB take 4 s: time to stop it halfway
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ", slow);
  ASSERT_TRUE(es && fr);
  const std::string path = RandomFile(16 << 20);
  const std::string bytes = Slurp(path);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "", 0, {path}).get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*fr)->Counters().file_bytes_in > (4 << 20); }));
  const std::int64_t before = (*fr)->Counters().file_bytes_in;
  fr.reset();  // stopped with a partial file
  EXPECT_EQ(TransferFiles("FR-MJ").size(), 1u);
  fr = Start("FR-MJ");  // no pace now
  ASSERT_TRUE(fr);
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }, std::chrono::seconds(20)));
  const NodeCounters c = (*fr)->Counters();
  EXPECT_EQ(c.files_resumed, 1);
  // What it fetched after the restart is only the rest.
  EXPECT_LE(static_cast<std::uint64_t>(c.file_bytes_in), crypto::StreamSizeFor(bytes.size()) - before);
  EXPECT_EQ(HashOf(Attachment(*fr, HashOf(bytes))), HashOf(bytes)) << "fr does not hold the same bytes";
}

TEST_F(DaemonFilesTest, ASenderThatStopsMidwayIsResumedFromWhereTheReceiverIs) {
  DaemonSettings slow = Settings("FR-MJ");
  slow.file_bytes_per_second = 4 << 20;
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ", slow);
  ASSERT_TRUE(es && fr);
  const std::string path = RandomFile(12 << 20);
  const std::string bytes = Slurp(path);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "", 0, {path}).get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*fr)->Counters().file_bytes_in > (3 << 20); }));
  es.reset();
  es = Start("ES-MJ");
  ASSERT_TRUE(es);
  ASSERT_TRUE(WaitFor([&] { return (*fr)->Counters().files_in == 1; }, std::chrono::seconds(30)));
  // Every byte was fetched once: nothing started over.
  EXPECT_EQ(static_cast<std::uint64_t>((*fr)->Counters().file_bytes_in), crypto::StreamSizeFor(bytes.size()));
  EXPECT_EQ(HashOf(Attachment(*fr, HashOf(bytes))), HashOf(bytes)) << "fr does not hold the same bytes";
}

TEST_F(DaemonFilesTest, TransfersAreCappedPerPeerAndInAllAndTheRestFollow) {
  DaemonSettings slow = Settings("FR-MJ");
  slow.file_bytes_per_second = 65536;  // each file takes about 2 s
  auto fr = Start("FR-MJ", slow);
  auto es = Start("ES-MJ");
  auto it = Start("IT-MG");
  auto relay = Start("RELAY-1");
  ASSERT_TRUE(fr && es && it && relay);
  int n = 0;
  auto send = [&](Running& from, int files) {
    std::vector<std::future<Result<crypto::Bytes>>> sends;
    for (int i = 0; i < files; ++i) {
      sends.push_back(from->Send({Party("FR-MJ")}, "text/plain", "", 0, {RandomFile(120'000, "f" + std::to_string(n++))}));
    }
    for (auto& f : sends) ASSERT_TRUE(f.get().ok());
  };
  auto most_until = [&](std::int64_t files) {
    std::int64_t most = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          const NodeCounters c = (*fr)->Counters();
          most = std::max(most, c.files_active);
          return c.files_in == files;
        },
        std::chrono::seconds(40)))
        << (*fr)->Counters().files_in << " of " << files << " files";
    return most;
  };
  // One sender: no more than its share at once; the ninth follows.
  send(*es, 9);
  EXPECT_EQ(most_until(9), static_cast<std::int64_t>(kMaxTransfersPerPeer));
  // Three senders, 21 files: no more than the node's cap at once; the rest follow.
  send(*es, 7);
  send(*it, 7);
  send(*relay, 7);
  EXPECT_EQ(most_until(30), static_cast<std::int64_t>(kMaxTransfers));
}

TEST_F(DaemonFilesTest, AnAttachmentOverTheReceiversLimitIsRefused) {
  DaemonSettings small = Settings("FR-MJ");
  small.max_attachment_bytes = 1000;
  auto es = Start("ES-MJ");
  auto fr = Start("FR-MJ", small);
  ASSERT_TRUE(es && fr);
  auto id = (*es)->Send({Party("FR-MJ")}, "text/plain", "", 0, {RandomFile(5000)}).get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(WaitFor([&] { return (*es)->Counters().refused_by_peer == 1; }));
  EXPECT_EQ((*fr)->Counters().received, 0);
  EXPECT_EQ((*fr)->Counters().file_bytes_in, 0);
  // And a sender refuses a file over its own limit before anything is written.
  DaemonSettings tiny = Settings("IT-MG");
  tiny.max_attachment_bytes = 10;
  auto it = Start("IT-MG", tiny);
  ASSERT_TRUE(it);
  auto refused = (*it)->Send({Party("FR-MJ")}, "text/plain", "", 0, {RandomFile(11, "eleven.bin")}).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("over the attachment limit"), std::string::npos) << refused.error().message;
  auto missing = (*it)->Send({Party("FR-MJ")}, "text/plain", "", 0, {dir_.path() + "/no-such-file"}).get();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos) << missing.error().message;
  // A file encrypted for a message that cannot be sealed (no such recipient) is not left behind.
  v1::Party nobody;
  nobody.set_network_id("ejn");
  nobody.set_member_id("NOBODY");
  auto unsealed = (*it)->Send({nobody}, "text/plain", "", 0, {RandomFile(5, "five.bin")}).get();
  ASSERT_FALSE(unsealed.ok());
  DIR* d = ::opendir((homes_.at("IT-MG")->path() + "/blobs").c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = ::readdir(d)) EXPECT_NE(std::string(e->d_name).rfind("outgoing-", 0), 0u) << e->d_name;
  ::closedir(d);
  EXPECT_EQ((*it)->Counters().outbox, 0);
}

TEST_F(DaemonFilesTest, AnAttachmentAlteredOnTheWayIsRefusedAndNothingIsStored) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  // IT-MG, played by a raw link, sends an envelope whose file it then serves altered.
  auto file = PrepareFile(RandomFile(100'000), dir_.path(), "application/pdf", 1 << 20);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const std::string stream = Slurp(file->stream_path);
  auto sealed = SealMessage(net_.member("IT-MG").identity, {Party("IT-MG")}, crypto::test::TrustingOnly(net_, roster_),
                            {{Party("FR-MJ")}, "text/plain", "see the file", 0, {*file}, std::nullopt}, kNow);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  const crypto::Bytes& env = sealed->record.envelope;
  SendFrames(it, {"COMITY1", "DELIVER", std::string(env.begin(), env.end())});
  std::vector<std::string> answer;
  for (;;) {
    std::vector<zmq::message_t> frames;
    ASSERT_TRUE(zmq::recv_multipart(it, std::back_inserter(frames))) << "no answer";
    answer.clear();
    for (auto& f : frames) answer.push_back(f.to_string());
    if (answer.size() == 6 && answer[1] == "PULL") {
      // The bytes asked for, with one flipped in the middle of the first frame.
      std::string piece = stream;
      ASSERT_EQ(answer[4], std::string(8, '\0'));
      piece[500] = static_cast<char>(piece[500] ^ 1);
      SendFrames(it, {"COMITY1", "PIECE", answer[2], answer[3], answer[4], piece});
      continue;
    }
    if (answer.size() >= 2 && (answer[1] == "CUSTODY" || answer[1] == "REJECT")) break;
  }
  ASSERT_EQ(answer.size(), 5u);
  EXPECT_EQ(answer[1], "REJECT");
  EXPECT_EQ(answer[4].rfind("damaged", 0), 0u) << answer[4];
  EXPECT_EQ((*fr)->Counters().received, 0);
  EXPECT_EQ(Messages(*fr), 0);
  EXPECT_TRUE(TransferFiles("FR-MJ").empty()) << "a damaged partial file is not kept";
}

TEST_F(DaemonFilesTest, APeerAskingForAFileNobodyHoldsGetsNoFile) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  const std::string zeros(32, '\0');
  SendFrames(it, {"COMITY1", "PULL", zeros, zeros, std::string(8, '\0'), std::string("\0\0\x01\0", 4)});
  for (;;) {
    std::vector<zmq::message_t> reply;
    ASSERT_TRUE(zmq::recv_multipart(it, std::back_inserter(reply))) << "no answer";
    if (reply.size() >= 2 && reply[1].to_string() == "ROSTERS") continue;
    ASSERT_EQ(reply.size(), 4u);
    EXPECT_EQ(reply[1].to_string(), "NOFILE");
    break;
  }
  // A PULL asking for more than a piece is malformed, not served.
  const std::int64_t before = (*fr)->Counters().dropped_malformed;
  SendFrames(it, {"COMITY1", "PULL", zeros, zeros, std::string(8, '\0'), std::string("\x01\0\0\0", 4)});
  EXPECT_TRUE(WaitFor([&] { return (*fr)->Counters().dropped_malformed == before + 1; }));
}

}  // namespace
}  // namespace comity::node
