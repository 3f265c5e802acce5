// node/daemon/node under hostile input, with real nodes and archives as in daemon_node_test:
// keys of no current member at the transport, envelopes a connected member sends that break
// the format or its rules, local API clients that send junk or are another Unix user, and a
// member's link flooding junk while another member delivers.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include "tests/unit/daemon_test_support.h"

namespace comity::node {
namespace {

using namespace std::chrono_literals;

std::string Text(const crypto::Bytes& b) { return std::string(b.begin(), b.end()); }

class DaemonHostileTest : public DaemonNodeTest {
 protected:
  // An envelope from `from` to `to` (member ids of this network, in order), sealed here with
  // `options` (created_at kNow unless set).
  std::string Sealed(const std::string& from, const std::vector<crypto::Recipient>& to, crypto::SealOptions options,
                     const std::string& text = "hostile") {
    if (options.created_at == 0) options.created_at = kNow;
    if (options.content_type.empty()) options.content_type = "text/plain; charset=utf-8";
    auto sealed = crypto::Seal(net_.member(from).identity, Party(from), to, options, crypto::AsBytes(text));
    EXPECT_TRUE(sealed.ok()) << sealed.error().message;
    return sealed ? Text(*sealed) : std::string();
  }
  // Envelope(), as the bytes a frame carries.
  std::string Env(const std::string& from, const std::string& to, const std::string& text) {
    return Text(Envelope(from, to, text));
  }
  crypto::Recipient To(const std::string& id) { return crypto::RecipientOf(net_.member(id).certificate); }

  // A valid envelope from `from` whose header and body `edit` changes, then signed again by
  // `from`: what a member's own software could send (the signature holds, the format does not).
  std::string Resigned(const std::string& envelope, const std::string& from,
                       const std::function<void(v1::EnvelopeHeader&, v1::EnvelopeBody&)>& edit) {
    v1::Signed outer;
    v1::EnvelopeBody body;
    v1::EnvelopeHeader header;
    EXPECT_TRUE(outer.ParseFromString(envelope) && body.ParseFromString(outer.body()) &&
                header.ParseFromString(body.header()));
    edit(header, body);
    body.set_header(header.SerializeAsString());
    outer.set_body(body.SerializeAsString());
    outer.set_signature(Text(net_.member(from).identity.Sign(crypto::kDomainEnvelope, crypto::AsBytes(outer.body()))));
    return outer.SerializeAsString();
  }

  // The created_at the archive holds for `id`, nullopt when it holds no such message.
  std::optional<std::int64_t> StoredCreatedAt(Running& n, const std::string& id) {
    std::optional<std::int64_t> out;
    n->WithArchive([&](archive::Archive& a) {
      auto m = a.GetMessage(crypto::ToBytes(id));
      if (m.ok() && m->has_value()) out = (*m)->created_at;
    });
    return out;
  }
};

// ---- the transport --------------------------------------------------------------------------

TEST_F(DaemonHostileTest, KeysOfAnUnbridgedNetworkAndOfARevokedMemberAreRefusedAtTheTransport) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  // A member in good standing of another network, with a valid certificate under a root FR-MJ
  // does not trust, and no bridge to it.
  TestNetwork other("acme");
  const auto& xx = other.Admit("XX-MJ");
  other.Publish();
  const auto& xx_pub = xx.identity.public_identity().transport;
  const auto& xx_sec = xx.identity.transport_secret();
  auto outsider = RawLink(ctx, "FR-MJ", Text(xx_pub),
                          std::string(reinterpret_cast<const char*>(xx_sec.data()), xx_sec.size()));
  outsider.set(zmq::sockopt::rcvtimeo, 1500);
  auto to_fr = crypto::Seal(xx.identity, xx.party(), {To("FR-MJ")}, crypto::SealOptions{kNow, 0, "text/plain", {}},
                            crypto::AsBytes(std::string("from another network")));
  ASSERT_TRUE(to_fr.ok()) << to_fr.error().message;
  EXPECT_TRUE(Exchange(outsider, Text(*to_fr)).empty()) << "a member of an unbridged network got an answer";
  outsider.close();  // it would go on reconnecting, and being refused
  const std::int64_t refused_outsider = (*fr)->Counters().links_refused;
  EXPECT_GE(refused_outsider, 1);
  EXPECT_EQ((*fr)->Counters().links_admitted, 0);
  EXPECT_EQ((*fr)->Counters().frames_in, 0) << "a frame got past the ZAP handler";

  // IT-MG is revoked while FR-MJ runs; its first link comes after (a link it had open is
  // ARevokedMembersLinkIsRefusedAfterTheNewRoster's case).
  net_.Revoke("IT-MG");
  (*fr)->ReplaceTrust(crypto::test::TrustingOnly(net_, net_.Publish()));
  (*fr)->WithArchive([](archive::Archive&) {});  // runs after the posted ReplaceTrust
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  it.set(zmq::sockopt::rcvtimeo, 1500);
  EXPECT_TRUE(Exchange(it, Env("IT-MG", "FR-MJ", "after my revocation")).empty());
  const NodeCounters c = (*fr)->Counters();
  EXPECT_GT(c.links_refused, refused_outsider);
  EXPECT_EQ(c.links_admitted, 0);
  EXPECT_EQ(c.frames_in, 0) << "the revoked member's frames reached the node";
  EXPECT_EQ(c.dropped_untrusted, 0) << "refused after the transport, not by it";

  // Neither got in the way of a member.
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  ASSERT_TRUE((*es)->Send({Party("FR-MJ")}, "text/plain", "after the outsider").get().ok());
  EXPECT_TRUE(WaitFor([&] { return (*es)->Counters().custody == 1; }));
  EXPECT_EQ(Messages(*fr), 1);
}

// ---- envelopes from a connected member ------------------------------------------------------

TEST_F(DaemonHostileTest, EnvelopesBreakingTheRulesAreRefusedOrDroppedEachWithItsCounter) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  const std::string good = Env("IT-MG", "FR-MJ", "good");
  auto reply = Exchange(it, good);
  ASSERT_EQ(reply.size(), 4u);
  ASSERT_EQ(reply[1], "CUSTODY");

  // Refused for good: a REJECT with the reason, counted as rejected, nothing stored.
  crypto::SealOptions expired;
  expired.expires_at = kNow - 1;
  crypto::SealOptions long_expired;
  long_expired.expires_at = std::numeric_limits<std::int64_t>::min();
  std::vector<crypto::Recipient> crowd;  // 10,000 members that do not exist, FR-MJ not among them
  for (int i = 0; i < 10'000; ++i) {
    crypto::Recipient r = To("ES-MJ");
    r.party.set_member_id("X" + std::to_string(i));
    crowd.push_back(std::move(r));
  }
  v1::Signed unsigned_envelope;
  ASSERT_TRUE(unsigned_envelope.ParseFromString(Env("IT-MG", "FR-MJ", "unsigned")));
  unsigned_envelope.clear_signature();
  const std::string fresh = Env("IT-MG", "FR-MJ", "to be edited");
  const struct {
    const char* what;
    std::string envelope;
    const char* reason;
  } refused[] = {
      {"expired a second ago", Sealed("IT-MG", {To("FR-MJ")}, expired), "expired"},
      {"expires at INT64_MIN", Sealed("IT-MG", {To("FR-MJ")}, long_expired), "expired"},
      {"empty signature", unsigned_envelope.SerializeAsString(), "malformed"},
      {"format version 2", Resigned(fresh, "IT-MG", [](auto& h, auto&) { h.set_version(2); }), "malformed"},
      {"format version 0", Resigned(fresh, "IT-MG", [](auto& h, auto&) { h.set_version(0); }), "malformed"},
      {"no recipients", Resigned(fresh, "IT-MG", [](auto& h, auto& b) {
         h.clear_recipients();
         b.clear_wrapped_keys();
       }),
       "not addressed to this node"},
      {"a recipient without a wrapped key", Resigned(fresh, "IT-MG", [](auto& h, auto&) {
         *h.add_recipients() = h.recipients(0);
         h.mutable_recipients(1)->set_member_id("ES-MJ");
       }),
       "malformed"},
      {"FR-MJ listed twice", Resigned(fresh, "IT-MG", [](auto& h, auto& b) {
         *h.add_recipients() = h.recipients(0);
         b.add_wrapped_keys(b.wrapped_keys(0));
       }),
       "malformed"},
      {"an empty key commitment", Resigned(fresh, "IT-MG", [](auto& h, auto&) { h.clear_key_commitment(); }),
       "malformed"},
      {"10,000 recipients, FR-MJ not one", Sealed("IT-MG", crowd, {}), "not addressed to this node"},
      {"a sender it is not signed by", Resigned(fresh, "IT-MG", [&](auto& h, auto&) { *h.mutable_sender() = Party("ES-MJ"); }),
       "bad signature"},
      {"an empty frame", "", "not addressed to this node"},
  };
  std::int64_t rejected = (*fr)->Counters().rejected;
  for (const auto& r : refused) {
    SCOPED_TRACE(r.what);
    if (std::string(r.what) != "an empty frame") {
      ASSERT_FALSE(r.envelope.empty());
    }
    reply = Exchange(it, r.envelope);
    // Not fatal: every case is tried, whichever fails.
    EXPECT_EQ(reply.size(), 5u) << "no REJECT: " << ::testing::PrintToString(reply.size() > 1 ? reply[1] : "");
    if (reply.size() == 5u) {
      EXPECT_EQ(reply[1], "REJECT");
      EXPECT_EQ(reply[3], "FR-MJ@ejn");
      EXPECT_EQ(reply[4], r.reason);
    }
    EXPECT_EQ((*fr)->Counters().rejected, rejected + 1);
    rejected = (*fr)->Counters().rejected;
  }
  EXPECT_EQ(Messages(*fr), 1) << "a refused envelope was stored";

  // Dropped unanswered: not an envelope at all, counted as malformed.
  const std::string cut = good.substr(0, good.size() / 2);
  v1::Signed junk_body;
  junk_body.set_body(std::string("\x00\x01 not an EnvelopeBody", 22));
  junk_body.set_signature(std::string(64, 's'));
  const struct {
    const char* what;
    std::vector<std::string> frames;
  } dropped[] = {
      {"cut in half", {"COMITY1", "DELIVER", cut}},
      {"cut one byte short", {"COMITY1", "DELIVER", good.substr(0, good.size() - 1)}},
      {"a body that is no EnvelopeBody", {"COMITY1", "DELIVER", junk_body.SerializeAsString()}},
      {"DELIVER with a frame too many", {"COMITY1", "DELIVER", good, good}},
      {"DELIVER with no envelope", {"COMITY1", "DELIVER"}},
      {"a tag of another protocol", {"COMITY2", "DELIVER", good}},
  };
  it.set(zmq::sockopt::rcvtimeo, 300);
  std::int64_t malformed = (*fr)->Counters().dropped_malformed;
  for (const auto& d : dropped) {
    SCOPED_TRACE(d.what);
    SendFrames(it, d.frames);
    EXPECT_TRUE(Answer(it).empty()) << "answered";
    EXPECT_TRUE(WaitFor([&] { return (*fr)->Counters().dropped_malformed == malformed + 1; }, 2s))
        << "dropped_malformed " << (*fr)->Counters().dropped_malformed << ", expected " << malformed + 1;
    malformed = (*fr)->Counters().dropped_malformed;
  }
  EXPECT_EQ((*fr)->Counters().rejected, rejected);

  // From a sender of a network FR-MJ does not know: not accepted yet (its roster may follow),
  // unanswered, counted as deferred.
  const std::int64_t deferred = (*fr)->Counters().deferred;
  EXPECT_TRUE(Exchange(it, Resigned(fresh, "IT-MG", [](auto& h, auto&) { h.mutable_sender()->set_network_id("acme"); }))
                  .empty());
  EXPECT_EQ((*fr)->Counters().deferred, deferred + 1);
  it.set(zmq::sockopt::rcvtimeo, 5000 * TimeoutScale());

  // The link and the node still serve.
  reply = Exchange(it, Env("IT-MG", "FR-MJ", "after it all"));
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
  EXPECT_EQ(Messages(*fr), 2);
  EXPECT_EQ((*fr)->Counters().received, 2);
}

// docs/PROTOCOL.md §6: created_at is "not checked", and no recipient count is limited: these
// are stored as they come. (Reported: whether a node should refuse them is a product decision.)
TEST_F(DaemonHostileTest, AbsurdCreationTimesAndTenThousandRecipientsAreStoredAsDocumented) {
  auto fr = Start("FR-MJ");
  ASSERT_TRUE(fr);
  zmq::context_t ctx;
  auto it = MemberLink(ctx, "FR-MJ", "IT-MG");
  std::vector<crypto::Recipient> crowd;
  for (int i = 0; i < 9'999; ++i) {
    crypto::Recipient r = To("ES-MJ");
    r.party.set_member_id("X" + std::to_string(i));
    crowd.push_back(std::move(r));
  }
  crowd.push_back(To("FR-MJ"));  // last: the whole list is read
  const auto at = [](std::int64_t t) {
    crypto::SealOptions o;
    o.created_at = t;
    return o;
  };
  const struct {
    const char* what;
    std::string envelope;
    std::int64_t created_at;
  } stored[] = {
      {"created at INT64_MAX", Sealed("IT-MG", {To("FR-MJ")}, at(std::numeric_limits<std::int64_t>::max())),
       std::numeric_limits<std::int64_t>::max()},
      {"created at INT64_MIN", Sealed("IT-MG", {To("FR-MJ")}, at(std::numeric_limits<std::int64_t>::min())),
       std::numeric_limits<std::int64_t>::min()},
      {"created at -1", Sealed("IT-MG", {To("FR-MJ")}, at(-1)), -1},
      {"10,000 recipients", Sealed("IT-MG", crowd, {}), kNow},
  };
  int count = 0;
  for (const auto& s : stored) {
    SCOPED_TRACE(s.what);
    const auto reply = Exchange(it, s.envelope);
    ASSERT_EQ(reply.size(), 4u) << (reply.size() == 5 ? reply[4] : "no answer");
    EXPECT_EQ(reply[1], "CUSTODY");
    EXPECT_EQ(reply[2], Text(crypto::MessageId(crypto::AsBytes(s.envelope))));
    EXPECT_EQ(StoredCreatedAt(*fr, reply[2]), s.created_at);
    EXPECT_EQ(Messages(*fr), ++count);
  }
  EXPECT_GT(stored[3].envelope.size(), 900'000u) << "the crowd's envelope";
  EXPECT_EQ((*fr)->Counters().rejected, 0);
  const auto reply = Exchange(it, Env("IT-MG", "FR-MJ", "an ordinary one"));
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
}

// ---- the local API --------------------------------------------------------------------------

// A raw client of the local API: what it sends is up to the test; every read gives up after
// 5 s, so a server that never answers fails the test instead of hanging it.
class ApiClient {
 public:
  explicit ApiClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~ApiClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  static std::string Header(std::uint32_t n) {
    return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  }
  bool SendFrame(std::string_view body) {
    return Send(Header(static_cast<std::uint32_t>(body.size()))) && Send(body);
  }
  // The next response; nullopt at the end of the stream or after 5 s.
  std::optional<v1::ApiResponse> Read() {
    std::string header, body;
    if (!ReadExactly(4, &header)) return std::nullopt;
    const auto* h = reinterpret_cast<const unsigned char*>(header.data());
    if (!ReadExactly((std::size_t{h[0]} << 24) | (h[1] << 16) | (h[2] << 8) | h[3], &body)) return std::nullopt;
    v1::ApiResponse r;
    if (!r.ParseFromString(body)) return std::nullopt;
    return r;
  }
  // Whether the server closed the connection (a read sees the end within 5 s).
  bool Closed() {
    std::string byte;
    return !ReadExactly(1, &byte) && eof_;
  }

 private:
  bool ReadExactly(std::size_t n, std::string* out) {
    out->assign(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      const ssize_t k = ::recv(fd_, out->data() + got, n - got, 0);
      // The end, or (a Unix socket closed with bytes of ours unread) ECONNRESET: closed either way.
      if (k == 0 || (k < 0 && errno == ECONNRESET)) eof_ = true;
      if (k <= 0) return false;
      got += static_cast<std::size_t>(k);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

v1::ApiRequest StatusRequest() {
  v1::ApiRequest r;
  r.set_version(1);
  r.mutable_status();
  return r;
}

TEST_F(DaemonHostileTest, TheLocalApiAnswersJunkAndOversizeRequestsAndKeepsServing) {
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  const std::string socket = homes_.at("ES-MJ")->path() + "/comity.sock";
  const std::string status = StatusRequest().SerializeAsString();

  // Junk on one connection: each gets an error, and the connection goes on to a good request.
  {
    ApiClient c(socket);
    ASSERT_TRUE(c.connected());
    const std::pair<std::string, std::string> junk[] = {
        {std::string("\x00\xff garbage \x01\x02", 14), "malformed request"},  // field number 0: no protobuf
        {std::string("\x0a\x7f", 2), "malformed request"},                     // a length past the end
        {std::string(1000, '\xff'), "malformed request"},
        {"", "request version 0 is not 1"},  // the empty message parses
        {std::string("\xf8\x7f\x01", 3), "request version 0 is not 1"},  // only an unknown field
    };
    for (const auto& [body, error] : junk) {
      SCOPED_TRACE(::testing::PrintToString(body.substr(0, 16)));
      ASSERT_TRUE(c.SendFrame(body));
      const auto r = c.Read();
      ASSERT_TRUE(r.has_value()) << "no answer";
      EXPECT_EQ(r->error(), error);
    }
    // A request of exactly the limit is read whole, and refused as what it is.
    ASSERT_TRUE(c.SendFrame(std::string(kMaxApiRequest, '\xff')));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << "no answer at the limit";
    EXPECT_EQ(r->error(), "malformed request");
    ASSERT_TRUE(c.SendFrame(status));
    r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->has_status()) << r->error();
  }
  // Over the limit: an error, then the connection is closed (the body is never read).
  for (const std::uint32_t size : {kMaxApiRequest + 1, std::numeric_limits<std::uint32_t>::max()}) {
    SCOPED_TRACE(size);
    ApiClient c(socket);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.Send(ApiClient::Header(size) + "the start of a body that never ends"));
    const auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << "no answer";
    EXPECT_EQ(r->error(), "request of " + std::to_string(size) + " bytes: the limit is " + std::to_string(kMaxApiRequest));
    EXPECT_TRUE(c.Closed()) << "the connection stayed open";
  }
  // A client that stops halfway, and one that sends half a header and hangs up, hold up
  // nobody.
  ApiClient stalled(socket);
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(stalled.Send(ApiClient::Header(1000) + "only ten b"));
  {
    ApiClient gone(socket);
    ASSERT_TRUE(gone.connected());
    ASSERT_TRUE(gone.Send(std::string("\x00\x00", 2)));
  }
  const v1::ApiResponse r = ApiCall(socket, StatusRequest());
  ASSERT_TRUE(r.has_status()) << r.error();
  EXPECT_TRUE(r.status().running());
  EXPECT_EQ(r.status().memberships(0), "ES-MJ@ejn");
}

// How a connect(2) to `path` by uid/gid 65534 (nobody) ended, tried in a forked child.
enum class Attempt { kConnected, kRefused, kOtherError, kCannotStat, kCannotBecomeNobody };

Attempt ConnectAsNobody(const std::string& path) {
  const pid_t child = ::fork();
  if (child == 0) {
    // Only system calls from here: the parent has other threads.
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(static_cast<int>(Attempt::kCannotBecomeNobody));
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) ::_exit(static_cast<int>(Attempt::kCannotStat));  // the path is reachable
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), std::min(path.size(), sizeof a.sun_path - 1));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) ::_exit(static_cast<int>(Attempt::kConnected));
    ::_exit(static_cast<int>(errno == EACCES ? Attempt::kRefused : Attempt::kOtherError));
  }
  int wstatus = 0;
  if (child < 0 || ::waitpid(child, &wstatus, 0) != child || !WIFEXITED(wstatus)) return Attempt::kOtherError;
  return static_cast<Attempt>(WEXITSTATUS(wstatus));
}

TEST_F(DaemonHostileTest, AnotherUnixUserCannotConnectToTheLocalApi) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to become uid 65534 (nobody) in a forked child";
  auto es = Start("ES-MJ");
  ASSERT_TRUE(es);
  const std::string home = homes_.at("ES-MJ")->path();
  const std::string socket = home + "/comity.sock";
  struct stat st{};
  ASSERT_EQ(::lstat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
  EXPECT_EQ(st.st_uid, ::geteuid());
  // The test's home is mkdtemp's 0700 (comityd's Home::Create makes it 0700 too): nobody
  // cannot even reach the socket.
  struct stat dir{};
  ASSERT_EQ(::stat(home.c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0077, 0u) << std::oct << (dir.st_mode & 07777);
  EXPECT_EQ(ConnectAsNobody(socket), Attempt::kCannotStat);
  // With a home anyone may traverse, the socket's own mode must refuse it.
  ASSERT_EQ(::chmod(home.c_str(), 0755), 0);
  EXPECT_EQ(ConnectAsNobody(socket), Attempt::kRefused) << "not EACCES from the socket's mode";
  // Its owner is still served.
  const v1::ApiResponse r = ApiCall(socket, StatusRequest());
  EXPECT_TRUE(r.has_status()) << r.error();
}

// ---- a flood --------------------------------------------------------------------------------

TEST_F(DaemonHostileTest, AMembersJunkFloodIsCountedAndAnotherMembersMessagesAllArrive) {
  DaemonSettings s = Settings("FR-MJ");
  s.max_envelope_bytes = 64 << 10;  // the flood's large frames are over it
  ASSERT_EQ(s.peer_frames_per_second, 2000u);
  ASSERT_EQ(s.peer_burst, 4000u);
  auto fr = Start("FR-MJ", s);
  auto es = Start("ES-MJ");
  ASSERT_TRUE(fr && es);

  // IT-MG's link sends 100,000 junk messages as fast as FR-MJ takes them: random single
  // frames, DELIVERs of no envelope, and every 1000th one over the size limit. A send that
  // finds the queue full waits for room (at most 100 ms at a time), so the flood cannot block
  // the test; it gives up after 30 s.
  constexpr int kJunk = 100'000;
  zmq::context_t flood_ctx;
  auto it = MemberLink(flood_ctx, "FR-MJ", "IT-MG");
  it.set(zmq::sockopt::sndhwm, 1000);
  std::atomic<std::int64_t> junk_sent{0};
  std::atomic<bool> stop{false};                 // the test ends early
  std::atomic<std::int64_t> custody_at_end{-1};  // ES-MJ's custody when the flood's last send went
  const auto flood_start = Clock::now();
  std::thread flood([&] {
    std::mt19937_64 rng(20250615);
    std::string small(64, '\0'), large(80 << 10, '\x5a');
    const auto give_up = Clock::now() + 30s;
    for (int i = 0; i < kJunk && !stop && Clock::now() < give_up;) {
      for (char& c : small) c = static_cast<char>(rng());
      bool ok = false;
      if (i % 1000 == 999) {
        ok = static_cast<bool>(it.send(zmq::buffer(large), zmq::send_flags::dontwait));
      } else if (i % 2 == 0) {
        ok = static_cast<bool>(it.send(zmq::buffer(small), zmq::send_flags::dontwait));
      } else {
        small[0] = '\0';  // field number 0: no protobuf, so never an envelope
        ok = it.send(zmq::str_buffer("COMITY1"), zmq::send_flags::dontwait | zmq::send_flags::sndmore) &&
             it.send(zmq::str_buffer("DELIVER"), zmq::send_flags::sndmore) && it.send(zmq::buffer(small));
      }
      if (ok) {
        ++i;
        ++junk_sent;
        continue;
      }
      zmq::pollitem_t room{it.handle(), 0, ZMQ_POLLOUT, 0};
      zmq::poll(&room, 1, 100ms);
    }
    custody_at_end = (*es)->Counters().custody;
  });
  struct Joined {  // so that a failed ASSERT below does not leave the thread running
    std::thread& t;
    std::atomic<bool>& stop;
    ~Joined() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joined{flood, stop};

  // While it floods, ES-MJ sends 200 messages, 20 after each 8,000 junk messages.
  constexpr int kReal = 200;
  std::vector<std::future<Result<crypto::Bytes>>> sends;
  for (int k = 1; k <= 10; ++k) {
    ASSERT_TRUE(WaitFor([&] { return junk_sent >= 8000 * k; }, 30s)) << "the flood stalled at " << junk_sent.load();
    for (int i = 0; i < kReal / 10; ++i) {
      sends.push_back((*es)->Send({Party("FR-MJ")}, "text/plain", "real " + std::to_string(sends.size())));
    }
  }
  for (auto& f : sends) ASSERT_TRUE(f.get().ok());
  const bool all_custody = WaitFor([&] { return (*es)->Counters().custody == kReal; }, 40s);
  flood.join();
  const auto flood_took = Clock::now() - flood_start;
  const std::int64_t sent = junk_sent.load();
  EXPECT_TRUE(all_custody) << "custody " << (*es)->Counters().custody << " of " << kReal;
  EXPECT_EQ(sent, kJunk) << "the flood gave up";
  std::cout << "flood: " << sent << " junk messages in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(flood_took).count() << " ms; ES-MJ's "
            << kReal << " sent during it, " << custody_at_end.load() << " in custody when it ended\n";

  // Every junk message that reached FR-MJ is counted once, under one reason; IT-MG sent
  // nothing else, and ES-MJ's frames are never dropped.
  auto dropped = [&] {
    const NodeCounters c = (*fr)->Counters();
    return c.dropped_rate + c.dropped_malformed + c.dropped_oversize;
  };
  EXPECT_TRUE(WaitFor([&] { return dropped() == sent; }, 20s)) << dropped() << " dropped of " << sent;
  const NodeCounters c = (*fr)->Counters();
  std::cout << "FR-MJ: frames_in " << c.frames_in << ", dropped_rate " << c.dropped_rate << ", dropped_malformed "
            << c.dropped_malformed << ", dropped_oversize " << c.dropped_oversize << ", received " << c.received << "\n";
  EXPECT_GT(c.dropped_rate, 0) << "the rate limit let a flood through";
  // The limit let at least the burst through, and no more than it allows over the flood's time
  // (with a second's slack for the last frames queued).
  const double seconds = std::chrono::duration<double>(Clock::now() - flood_start).count() + 1;
  EXPECT_GE(c.dropped_malformed + c.dropped_oversize, 4000);
  EXPECT_LE(c.dropped_malformed + c.dropped_oversize, 4000 + 2000 * seconds);
  EXPECT_GE(c.frames_in, sent + kReal);
  EXPECT_EQ(c.rejected, 0);
  EXPECT_EQ(c.received, kReal);
  EXPECT_EQ(Messages(*fr), kReal);
  EXPECT_EQ((*es)->Counters().outbox, 0);

  // The flooding link itself is served again once it behaves.
  it.set(zmq::sockopt::rcvtimeo, 5000 * TimeoutScale());
  const auto reply = Exchange(it, Env("IT-MG", "FR-MJ", "sorry about that"));
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "CUSTODY");
  EXPECT_EQ(Messages(*fr), kReal + 1);
}

}  // namespace
}  // namespace comity::node
