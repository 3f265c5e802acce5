// What the node benchmarks (e2e_bench.cpp, attach_bench.cpp) share: a signed one-network
// roster with fresh keys, real nodes on loopback ports each on its own thread, a scratch
// directory, this process's memory figures and the raw ZeroMQ CURVE baseline. Everything is
// owned by the caller; a Running node is driven from any thread (see node/daemon/node.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "crypto/trust.h"
#include "node/daemon/node.h"

namespace comity::bench {

using Clock = std::chrono::steady_clock;

// Prints "comity-bench: WHAT" on stderr and ends the process with status 1 at once: no
// destructors or exit handlers run, since node threads may still be running and a forked child
// must not remove its parent's scratch directory.
[[noreturn]] void Die(const std::string& what);

double Seconds(Clock::time_point a, Clock::time_point b);

// A node benchmark's arguments: --quick, and one number after `option`. Anything else prints
// "usage: USAGE" and gives nullopt (exit code 2).
struct BenchArgs {
  bool quick = false;
  std::optional<long long> number;
};
std::optional<BenchArgs> ParseBenchArgs(int argc, char** argv, const std::string& option, const std::string& usage);

// A loopback TCP port nobody listens on right now.
int FreePort();

// A directory under /tmp for a run's archives, removed with everything in it at the end.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& name);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// One network, "bench", with the given members, each with fresh keys, in one signed roster.
// A member named in `via` is outbound only: its certificate names that relay (a member id).
struct Network {
  crypto::SigningKey root = crypto::SigningKey::Generate();
  std::map<std::string, crypto::Identity> ids;
  std::map<std::string, v1::Signed> certs;
  v1::Signed roster;
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));

  explicit Network(const std::vector<std::string>& members, const std::map<std::string, std::string>& via = {});
  crypto::TrustStore Trust() const;
};

v1::Party Party(const std::string& member);

// A node on its own thread; destroying it stops the node and waits for its thread.
struct Running {
  std::unique_ptr<node::Node> node;
  std::thread thread;
  explicit Running(std::unique_ptr<node::Node> n);
  ~Running();
};

// How StartNode makes a node, beyond its defaults.
struct NodeOptions {
  bool reopen = false;              // open the archive already in `dir` (a restart), not a new one
  std::vector<std::string> relays;  // member ids whose links it keeps open (its relays)
  std::chrono::milliseconds retry_max{300000};
};

// Member `id` of `net` with a new archive (Argon2id at its minimum cost; passphrase
// kBenchPassphrase) in `dir`, listening on its port in `ports` (none if it has none: outbound
// only) and dialling the others at theirs, rate limits lifted (benchmarks flood on purpose).
// Warnings and errors of its log go to stderr.
inline const std::string kBenchPassphrase = "bench passphrase";
std::unique_ptr<Running> StartNode(const Network& net, const std::string& id, const std::string& dir,
                                   const std::map<std::string, int>& ports, const NodeOptions& options = {});

// A line of /proc/self/status in KiB ("VmRSS": resident now, "VmHWM": the peak); -1 if absent.
long StatusKiB(const std::string& field);

// Raw ZeroMQ CURVE PUSH -> PULL of `count` messages of `message_bytes` over loopback TCP, the
// sender on its own thread, both queues capped at `hwm` messages (0: no cap); messages/s,
// the handshake left out.
double ZmqCurveRate(std::int64_t count, std::size_t message_bytes, int hwm);

}  // namespace comity::bench
