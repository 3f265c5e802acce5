// The node benchmarks' shared setup (see bench_nodes.h).
#include "bench_nodes.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string_view>
#include <zmq.hpp>

#include "crypto/envelope.h"
#include "tests/free_port.h"
#include "crypto/keystore.h"
#include "node/archive/archive.h"

namespace comity::bench {

namespace fs = std::filesystem;

void Die(const std::string& what) {
  std::fprintf(stderr, "comity-bench: %s\n", what.c_str());
  std::_Exit(1);
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::optional<BenchArgs> ParseBenchArgs(int argc, char** argv, const std::string& option, const std::string& usage) {
  BenchArgs out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      out.quick = true;
    } else if (a == option && i + 1 < argc) {
      out.number = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s\n", usage.c_str());
      return std::nullopt;
    }
  }
  return out;
}

int FreePort() { return test::FreePort(); }

ScratchDir::ScratchDir(const std::string& name) {
  std::string tmpl = "/tmp/comity-bench-" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) Die("cannot create a temporary directory");
  path = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Network::Network(const std::vector<std::string>& members, const std::map<std::string, std::string>& via) {
  v1::Roster r;
  r.set_format(1);
  r.set_network_id("bench");
  r.set_version(1);
  r.set_issued_at(now);
  r.set_root_key(std::string(root.public_key().begin(), root.public_key().end()));
  std::uint64_t serial = 1;
  for (const std::string& m : members) {
    crypto::Identity id = crypto::Identity::Generate();
    v1::Certificate c;
    c.set_format(1);
    c.set_network_id("bench");
    c.set_member_id(m);
    c.set_authority_name("Bench authority " + m);
    c.set_country("ES");
    c.set_role(v1::ROLE_CENTRAL_AUTHORITY);
    *c.mutable_keys() = crypto::ToProto(id.public_identity());
    c.set_not_before(now - 3600);
    c.set_not_after(now + 400 * 86400);  // a soak may run for a day
    c.set_root_key(r.root_key());
    c.set_serial(serial++);
    if (auto v = via.find(m); v != via.end()) c.add_via_relays(v->second);
    certs[m] = crypto::SignCertificate(root, c);
    *r.add_certificates() = certs[m];
    ids.emplace(m, std::move(id));
  }
  roster = crypto::SignRoster(root, r);
}

crypto::TrustStore Network::Trust() const {
  crypto::TrustStore t;
  v1::RootKey k;
  k.set_format(1);
  k.set_network_id("bench");
  k.set_root_key(std::string(root.public_key().begin(), root.public_key().end()));
  if (!t.TrustRoot(k)) Die("trusting the bench root failed");
  if (auto a = t.AcceptRoster(roster, now); !a) Die("the bench roster is refused: " + a.error().message);
  return t;
}

v1::Party Party(const std::string& member) {
  v1::Party p;
  p.set_network_id("bench");
  p.set_member_id(member);
  return p;
}

Running::Running(std::unique_ptr<node::Node> n) : node(std::move(n)), thread([this] { node->Run(); }) {}

Running::~Running() {
  node->Stop();
  thread.join();
}

std::unique_ptr<Running> StartNode(const Network& net, const std::string& id, const std::string& dir,
                                   const std::map<std::string, int>& ports, const NodeOptions& options) {
  const crypto::ByteView passphrase = crypto::AsBytes(kBenchPassphrase);
  auto archive = options.reopen ? archive::Archive::Open(dir, passphrase)
                                : archive::Archive::Create(dir, passphrase, crypto::MinimumKdf());
  if (!archive) Die("archive for " + id + ": " + archive.error().message);
  auto identity = crypto::Identity::FromSecret(net.ids.at(id).ExportSecret());
  if (!identity) Die("identity");
  node::DaemonSettings s;
  if (auto own = ports.find(id); own != ports.end()) s.listen = {"tcp://127.0.0.1:" + std::to_string(own->second)};
  for (const auto& [m, port] : ports) s.peer_endpoints[m + "@bench"] = {"tcp://127.0.0.1:" + std::to_string(port)};
  for (const std::string& relay : options.relays) s.relays.push_back(relay + "@bench");
  s.retry_initial = std::chrono::milliseconds(1000);
  s.retry_max = options.retry_max;
  s.peer_frames_per_second = 1'000'000;  // the benchmark floods on purpose
  s.peer_burst = 1'000'000;
  node::NodeParams p(id, std::move(identity).value(), {Party(id)}, net.Trust(), std::move(archive).value(), s);
  p.log_sink = [](const std::string& line) {
    if (line.find(": error:") != std::string::npos || line.find(": warn:") != std::string::npos) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  };
  auto n = node::Node::Create(std::move(p));
  if (!n) Die("node " + id + ": " + n.error().message);
  return std::make_unique<Running>(std::move(n).value());
}

long StatusKiB(const std::string& field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  const std::string prefix = field + ":";
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::string_view(line).substr(0, prefix.size()) == prefix) {
      kib = std::strtol(line + prefix.size(), nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

double ZmqCurveRate(std::int64_t count, std::size_t message_bytes, int hwm) {
  zmq::context_t ctx;
  char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
  if (zmq_curve_keypair(server_pub, server_sec) != 0 || zmq_curve_keypair(client_pub, client_sec) != 0) Die("keys");
  zmq::socket_t pull(ctx, zmq::socket_type::pull);
  pull.set(zmq::sockopt::curve_server, 1);
  pull.set(zmq::sockopt::curve_secretkey, std::string(server_sec));
  pull.set(zmq::sockopt::rcvhwm, hwm);
  const int port = FreePort();
  pull.bind("tcp://127.0.0.1:" + std::to_string(port));
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::curve_serverkey, std::string(server_pub));
  push.set(zmq::sockopt::curve_publickey, std::string(client_pub));
  push.set(zmq::sockopt::curve_secretkey, std::string(client_sec));
  push.set(zmq::sockopt::sndhwm, hwm);
  push.connect("tcp://127.0.0.1:" + std::to_string(port));
  const std::string payload(message_bytes, 'y');
  // One message through first: the handshake is not part of the rate.
  push.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::message_t m;
  if (!pull.recv(m)) Die("zmq");
  const auto start = Clock::now();
  std::thread sender([&] {
    for (std::int64_t i = 0; i < count; ++i) push.send(zmq::buffer(payload), zmq::send_flags::none);
  });
  for (std::int64_t i = 0; i < count; ++i) {
    if (!pull.recv(m)) Die("zmq recv");
  }
  const double t = Seconds(start, Clock::now());
  sender.join();
  return static_cast<double>(count) / t;
}

}  // namespace comity::bench
