// The fixture of the daemon tests: real nodes in one process, each with its own io_context
// thread, ZeroMQ context and SQLCipher archive, talking CURVE over loopback TCP; raw ZeroMQ
// sockets play strangers and hostile members.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <zmq_addon.hpp>

#include "crypto/envelope.h"
#include "node/daemon/node.h"
#include "node/daemon/send.h"
#include "tests/free_port.h"
#include "tests/unit/archive_test_support.h"
#include "tests/unit/test_network.h"

namespace comity::node {

using crypto::test::kNow;
using crypto::test::TestNetwork;
using Clock = std::chrono::steady_clock;

using comity::test::FreePort;

inline std::string Endpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

// The factor COMITY_TEST_TIMEOUT_SCALE (a whole number, default 1) stretches these tests
// deadlines: under a sanitizer everything runs several times slower (deploy/test.sh, stage
// threads, sets it). Deadlines bound waits for a condition; no test asserts how long a thing
// took.
inline int TimeoutScale() {
  static const int scale = [] {
    const char* e = std::getenv("COMITY_TEST_TIMEOUT_SCALE");
    const int v = e != nullptr ? std::atoi(e) : 1;
    return v >= 1 ? v : 1;
  }();
  return scale;
}

// Polls `done` until it holds or `limit` (times TimeoutScale()) passes.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = Clock::now() + limit * TimeoutScale();
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A node running on its own thread; stopped and joined on destruction.
class Running {
 public:
  Running(std::unique_ptr<Node> node) : node_(std::move(node)), thread_([this] { node_->Run(); }) {}
  ~Running() {
    node_->Stop();
    thread_.join();
  }
  Node& operator*() { return *node_; }
  Node* operator->() { return node_.get(); }

 private:
  std::unique_ptr<Node> node_;
  std::thread thread_;
};

// One request on a node's local API (a blocking client, as `comity` is).
inline v1::ApiResponse ApiCall(const std::string& socket_path, const v1::ApiRequest& request) {
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::socket s(io);
  s.connect(boost::asio::local::stream_protocol::endpoint(socket_path));
  boost::asio::write(s, boost::asio::buffer(ApiFrame(request)));
  unsigned char header[4];
  boost::asio::read(s, boost::asio::buffer(header));
  std::string body((std::size_t{header[0]} << 24) | (header[1] << 16) | (header[2] << 8) | header[3], '\0');
  boost::asio::read(s, boost::asio::buffer(body));
  v1::ApiResponse r;
  EXPECT_TRUE(r.ParseFromString(body));
  return r;
}

class DaemonNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"ES-MJ", "FR-MJ", "IT-MG"}) net_.Admit(id);
    net_.AdmitWith("RELAY-1", [](v1::Certificate& c) { c.set_role(v1::ROLE_RELAY); });
    // Outbound only: no endpoints, reached through RELAY-1.
    net_.AdmitWith("PT-PGR", [](v1::Certificate& c) {
      c.clear_endpoints();
      c.add_via_relays("RELAY-1");
    });
    roster_ = net_.Publish();
    for (const char* id : {"ES-MJ", "FR-MJ", "IT-MG", "RELAY-1"}) ports_[id] = FreePort();
  }

  v1::Party Party(const std::string& id) { return net_.member(id).party(); }

  DaemonSettings Settings(const std::string& id) {
    DaemonSettings s;
    if (ports_.count(id) != 0) s.listen = {Endpoint(ports_.at(id))};
    // Every listening member's endpoint, its own included (as its certificate would list it).
    for (const auto& [member, port] : ports_) s.peer_endpoints[member + "@ejn"] = {Endpoint(port)};
    s.retry_initial = std::chrono::milliseconds(200);
    s.retry_max = std::chrono::milliseconds(1000);
    return s;
  }

  std::unique_ptr<Running> Start(const std::string& id, DaemonSettings settings) {
    auto& dir = homes_[id];
    if (!dir) dir = std::make_unique<archive::test::TempDir>();
    auto a = Exists(dir->path() + "/archive.db") ? archive::Archive::Open(dir->path(), crypto::AsBytes(std::string("pw")))
                                                   : archive::Archive::Create(dir->path(), crypto::AsBytes(std::string("pw")),
                                                                              crypto::MinimumKdf());
    EXPECT_TRUE(a.ok()) << a.error().message;
    if (!a) return nullptr;
    auto identity = crypto::Identity::FromSecret(net_.member(id).identity.ExportSecret());
    EXPECT_TRUE(identity.ok());
    NodeParams p(id, std::move(identity).value(), {Party(id)}, crypto::test::TrustingOnly(net_, roster_),
                 std::move(a).value(), std::move(settings));
    // The test network's time, moving on with the real clock (retries wait for it).
    p.now = [this] {
      return kNow + std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
    };
    p.log_sink = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      logs_.push_back(line);
      if (std::getenv("COMITY_TEST_LOG") != nullptr) std::cerr << line << "\n";  // to debug a test
    };
    p.status_path = dir->path() + "/status.pb";
    p.api_socket_path = dir->path() + "/comity.sock";
    auto node = Node::Create(std::move(p));
    EXPECT_TRUE(node.ok()) << node.error().message;
    if (!node) return nullptr;
    return std::make_unique<Running>(std::move(node).value());
  }
  std::unique_ptr<Running> Start(const std::string& id) { return Start(id, Settings(id)); }

  static bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

  // A raw CURVE DEALER to `id`'s listener with the given client keys (a member's, or a
  // stranger's).
  zmq::socket_t RawLink(zmq::context_t& ctx, const std::string& id, const std::string& public_key,
                        const std::string& secret_key) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::curve_serverkey, net_.member(id).certificate.keys().transport_curve());
    s.set(zmq::sockopt::curve_publickey, public_key);
    s.set(zmq::sockopt::curve_secretkey, secret_key);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 5000 * TimeoutScale());
    s.connect(Endpoint(ports_.at(id)));
    return s;
  }
  zmq::socket_t MemberLink(zmq::context_t& ctx, const std::string& to, const std::string& as) {
    const auto& m = net_.member(as);
    const auto& pub = m.identity.public_identity().transport;
    const auto& sec = m.identity.transport_secret();
    return RawLink(ctx, to, std::string(pub.begin(), pub.end()),
                   std::string(reinterpret_cast<const char*>(sec.data()), sec.size()));
  }

  // Sends one frame sequence on a raw link.
  static void SendFrames(zmq::socket_t& s, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  // The next answer (CUSTODY or REJECT) on a raw link, empty on timeout. A node also sends its
  // own frames (rosters, receipts) on a link: those are skipped.
  static std::vector<std::string> Answer(zmq::socket_t& s) {
    for (;;) {
      std::vector<zmq::message_t> reply;
      if (!zmq::recv_multipart(s, std::back_inserter(reply))) return {};
      std::vector<std::string> out;
      for (auto& m : reply) out.push_back(m.to_string());
      if (out.size() >= 2 && out[1] != "CUSTODY" && out[1] != "REJECT") continue;
      return out;
    }
  }
  // Sends one DELIVER and returns its answer.
  static std::vector<std::string> Exchange(zmq::socket_t& s, const std::string& envelope) {
    SendFrames(s, {"COMITY1", "DELIVER", envelope});
    return Answer(s);
  }

  // An envelope from `from` to `to`, sealed here.
  crypto::Bytes Envelope(const std::string& from, const std::string& to, const std::string& text) {
    crypto::SealOptions o;
    o.created_at = kNow;
    o.content_type = "text/plain; charset=utf-8";
    auto sealed = crypto::Seal(net_.member(from).identity, Party(from), {crypto::RecipientOf(net_.member(to).certificate)},
                               o, crypto::AsBytes(text));
    EXPECT_TRUE(sealed.ok());
    return sealed ? *sealed : crypto::Bytes{};
  }

  // Messages this node received and stored (the receipts it sends back are stored too, as
  // messages it sent, and not counted here).
  std::int64_t Messages(Running& n) {
    std::int64_t count = -1;
    n->WithArchive([&](archive::Archive& a) {
      auto log = a.AuditTail(1'000'000);
      if (!log) return;
      count = 0;
      for (const auto& e : *log) count += e.action == "receive";
    });
    return count;
  }

  const Clock::time_point started_ = Clock::now();
  TestNetwork net_{"ejn"};
  v1::Signed roster_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<archive::test::TempDir>> homes_;
  std::mutex log_mutex_;
  std::vector<std::string> logs_;
};

}  // namespace comity::node
