// comity-bench e2e: two real nodes (node/daemon/node.h) in one process, each with its own
// io_context thread, ZeroMQ context and SQLCipher archive, on loopback TCP with CURVE.
// Node A sends 1 KiB text messages to node B: sealed and signed, committed to A's archive
// with their outbox entries, opened and committed to B's archive, acknowledged (CUSTODY) and
// settled in A's archive; B's signed receipt for each goes back to A the same way. Prints one
// JSON object:
//   sustained  - N messages submitted at once; messages/s from the first send to the last
//                receipt stored at A (every message then in both archives, every receipt in
//                A's).
//   latency    - sends paced at half the sustained rate (capped at 5,000/s, the goal's
//                rate, when the sustained rate allows more); per message, from the Send call
//                to the custody reaching A; p50/p99.
//   idle node  - resident memory one node adds to this process once started and idle (its
//                archive open, its links listening).
//   baselines  - in the same run: Ed25519 verification of an envelope-sized message (one per
//                message is the least a receiver does), and raw ZeroMQ CURVE PUSH/PULL of the
//                same 1.3 KB over loopback TCP.
// The archives use Argon2id at its minimum cost (keys are derived once, at open) and live in
// a temporary directory on the disk, removed at the end. The setup (roster, nodes, scratch
// directory, the ZeroMQ baseline) is bench_nodes.h's, shared with attach_bench.cpp.
// Usage: comity-bench e2e [--quick] [--messages N]
//
// comity-bench broadcast: a coordinator node sends one notice to M member nodes (100 by
// default), all in this process with their own archives; prints the time until every member
// has stored it and the time until all M signed receipts are stored at the coordinator.
// Usage: comity-bench broadcast [--quick] [--members M]
#include "e2e_bench.h"
#include "bench_nodes.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/envelope.h"
#include "node/daemon/node.h"

namespace comity::bench {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPayload = 1024;

std::string Text(std::int64_t n) {
  std::string t = "message " + std::to_string(n) + " ";
  while (t.size() < kPayload) t += "lorem ipsum dolor sit amet ";
  t.resize(kPayload);
  return t;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// Ed25519 verifications per second of an envelope-sized message (about one second).
double VerifyRate(const Network& net) {
  const crypto::Identity& a = net.ids.at("A-ONE");
  const std::string body(kPayload + 256, 'x');
  const crypto::Bytes sig = a.Sign(crypto::kDomainEnvelope, crypto::AsBytes(body));
  const auto start = Clock::now();
  std::int64_t n = 0;
  while (Seconds(start, Clock::now()) < 1.0) {
    for (int i = 0; i < 100; ++i) {
      if (!crypto::VerifySignature(a.public_identity().sign, crypto::kDomainEnvelope, crypto::AsBytes(body), sig)) {
        Die("verify failed");
      }
    }
    n += 100;
  }
  return static_cast<double>(n) / Seconds(start, Clock::now());
}

}  // namespace

int RunE2eBench(int argc, char** argv) {
  const auto args = ParseBenchArgs(argc, argv, "--messages", "comity-bench e2e [--quick] [--messages N]");
  if (!args) return 2;
  const bool quick = args->quick;
  const std::int64_t messages = args->number.value_or(quick ? 1000 : 20000);
  if (messages < 100) Die("--messages must be at least 100");
  crypto::EnsureSodium();
  const auto run_start = Clock::now();
  const ScratchDir scratch("e2e");
  const std::string& dir = scratch.path;

  const Network net({"A-ONE", "B-TWO"});
  const std::map<std::string, int> ports = {{"A-ONE", FreePort()}, {"B-TWO", FreePort()}};
  fs::create_directories(dir + "/a");
  fs::create_directories(dir + "/b");

  double sustained = 0, latency_rate = 0;
  std::vector<double> latencies;
  std::int64_t received = 0, duplicates = 0;
  long rss_before = 0, rss_idle = 0;
  {
    // Idle memory first: what one node adds to this process once it runs and waits.
    rss_before = StatusKiB("VmRSS");
    auto b = StartNode(net, "B-TWO", dir + "/b", ports);
    std::this_thread::sleep_for(std::chrono::seconds(quick ? 1 : 3));
    rss_idle = StatusKiB("VmRSS");
    auto a = StartNode(net, "A-ONE", dir + "/a", ports);
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Clock::time_point> delivered;
    a->node->OnDelivered([&](const std::string& id, const std::string&) {
      std::lock_guard<std::mutex> lock(mu);
      delivered[id] = Clock::now();
      cv.notify_all();
    });
    // Warm-up: the CURVE handshake and first writes are not part of the rates.
    if (!a->node->Send({Party("B-TWO")}, "text/plain; charset=utf-8", Text(-1)).get()) Die("warm-up send failed");
    auto wait_delivered = [&](std::size_t n, double limit_s) {
      std::unique_lock<std::mutex> lock(mu);
      return cv.wait_for(lock, std::chrono::duration<double>(limit_s), [&] { return delivered.size() >= n; });
    };
    if (!wait_delivered(1, 30)) Die("the warm-up message was never acknowledged");

    // Sustained: everything submitted at once.
    std::fprintf(stderr, "comity-bench e2e: %lld messages A -> B\n", static_cast<long long>(messages));
    std::vector<std::future<Result<crypto::Bytes>>> sends;
    sends.reserve(static_cast<std::size_t>(messages));
    const auto start = Clock::now();
    for (std::int64_t i = 0; i < messages; ++i) sends.push_back(a->node->Send({Party("B-TWO")}, "text/plain; charset=utf-8", Text(i)));
    for (auto& f : sends) {
      if (!f.get()) Die("a send failed");
    }
    if (!wait_delivered(static_cast<std::size_t>(messages) + 1, 600)) Die("not every message was acknowledged");
    // ... and every signed receipt back in A's archive.
    const auto receipts_limit = Clock::now() + std::chrono::seconds(600);
    while (a->node->Counters().delivered_receipted < messages + 1) {
      if (Clock::now() > receipts_limit) Die("not every receipt came back");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    sustained = static_cast<double>(messages) / Seconds(start, Clock::now());
    std::fprintf(stderr, "comity-bench e2e: sustained %.0f msg/s\n", sustained);

    // Latency at half that rate (at most the goal's 5,000/s), for about 3 s.
    latency_rate = std::min(sustained / 2, 5000.0);
    const std::int64_t paced = std::max<std::int64_t>(100, static_cast<std::int64_t>(latency_rate * (quick ? 1 : 3)));
    std::vector<std::pair<Clock::time_point, std::future<Result<crypto::Bytes>>>> timed;
    const auto pace_start = Clock::now();
    for (std::int64_t i = 0; i < paced; ++i) {
      const auto due = pace_start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(static_cast<double>(i) / latency_rate));
      std::this_thread::sleep_until(due);
      timed.emplace_back(Clock::now(), a->node->Send({Party("B-TWO")}, "text/plain; charset=utf-8", Text(messages + i)));
    }
    if (!wait_delivered(static_cast<std::size_t>(messages + paced) + 1, 600)) Die("paced messages not all acknowledged");
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [t0, f] : timed) {
      auto id = f.get();
      if (!id) Die("a paced send failed");
      auto it = delivered.find(std::string(id->begin(), id->end()));
      if (it == delivered.end()) Die("a paced message has no custody");
      latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t0).count());
    }
    const node::NodeCounters ca = a->node->Counters();
    std::fprintf(stderr,
                 "comity-bench e2e: A sent %lld, custody %lld, receipts %lld, dropped malformed %lld, rate %lld; ",
                 static_cast<long long>(ca.sent), static_cast<long long>(ca.custody),
                 static_cast<long long>(ca.receipts_in), static_cast<long long>(ca.dropped_malformed),
                 static_cast<long long>(ca.dropped_rate));
    const node::NodeCounters cb = b->node->Counters();
    std::fprintf(stderr, "B received %lld, duplicates %lld, sent %lld, custody %lld, dropped malformed %lld\n",
                 static_cast<long long>(cb.received), static_cast<long long>(cb.duplicates),
                 static_cast<long long>(cb.sent), static_cast<long long>(cb.custody),
                 static_cast<long long>(cb.dropped_malformed));
    received = cb.received;
    duplicates = cb.duplicates;
    if (received != messages + paced + 1) {
      Die("B holds " + std::to_string(received) + " messages, not " + std::to_string(messages + paced + 1));
    }
  }
  const double verify = VerifyRate(net);
  const double zmq_rate = ZmqCurveRate(quick ? 20000 : 200000, kPayload + 256, 0);
  const double p50 = Percentile(latencies, 0.5), p99 = Percentile(latencies, 0.99);
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"e2e\",\n  \"quick\": %s,\n", quick ? "true" : "false");
  std::printf("  \"payload_bytes\": %zu,\n  \"receipts\": true,\n  \"archive_kdf\": \"argon2id minimum\",\n", kPayload);
  std::printf("  \"sustained\": {\"messages\": %lld, \"msgs_per_s\": %.0f, \"received\": %lld, \"duplicates\": %lld},\n",
              static_cast<long long>(messages), sustained, static_cast<long long>(received),
              static_cast<long long>(duplicates));
  std::printf("  \"latency\": {\"to\": \"custody\", \"rate_per_s\": %.0f, \"messages\": %zu, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f},\n",
              latency_rate, latencies.size(), p50, p99, Percentile(latencies, 1.0));
  std::printf("  \"idle_node\": {\"process_rss_before_MiB\": %.1f, \"rss_added_by_one_idle_node_MiB\": %.1f},\n",
              static_cast<double>(rss_before) / 1024, static_cast<double>(rss_idle - rss_before) / 1024);
  std::printf("  \"baselines\": {\"ed25519_verify_per_s\": %.0f, \"zmq_curve_push_pull_msgs_per_s\": %.0f},\n", verify,
              zmq_rate);
  std::printf("  \"ratios\": {\"e2e_to_verify\": %.3f, \"e2e_to_zmq_curve\": %.3f},\n", sustained / verify,
              sustained / zmq_rate);
  std::printf("  \"goals\": {\"e2e_at_least_10000_per_s\": %s, \"p99_under_20ms_at_5000_per_s\": %s, "
              "\"idle_node_under_40_MiB\": %s},\n",
              sustained >= 10000 ? "true" : "false", latency_rate >= 5000 && p99 < 20 ? "true" : "false",
              rss_idle - rss_before < 40 * 1024 ? "true" : "false");
  std::printf("  \"seconds_total\": %.1f\n}\n", Seconds(run_start, Clock::now()));
  return 0;
}

int RunBroadcastBench(int argc, char** argv) {
  const auto args = ParseBenchArgs(argc, argv, "--members", "comity-bench broadcast [--quick] [--members M]");
  if (!args) return 2;
  const bool quick = args->quick;
  const long long members_arg = args->number.value_or(quick ? 10 : 100);
  if (members_arg < 1 || members_arg > 500) Die("--members must be from 1 to 500");
  const int members = static_cast<int>(members_arg);
  crypto::EnsureSodium();
  const auto run_start = Clock::now();
  const ScratchDir scratch("broadcast");
  std::vector<std::string> ids = {"COORD"};
  for (int i = 0; i < members; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "M%03d", i);
    ids.push_back(id);
  }
  const Network net(ids);
  std::map<std::string, int> ports;
  for (const std::string& id : ids) ports[id] = FreePort();
  std::vector<std::unique_ptr<Running>> nodes;
  const auto start_nodes = Clock::now();
  for (const std::string& id : ids) {
    const std::string dir = scratch.path + "/" + id;
    fs::create_directories(dir);
    nodes.push_back(StartNode(net, id, dir, ports));
  }
  const double startup = Seconds(start_nodes, Clock::now());
  std::fprintf(stderr, "comity-bench broadcast: %d members up in %.1f s\n", members, startup);
  node::Node& coord = *nodes.front()->node;
  std::vector<v1::Party> to;
  for (std::size_t i = 1; i < ids.size(); ++i) to.push_back(Party(ids[i]));
  const auto start = Clock::now();
  auto sent = coord.Send(to, "text/plain; charset=utf-8", "Notice to the network: " + Text(0)).get();
  if (!sent) Die("the broadcast failed: " + sent.error().message);
  double all_stored = 0, all_receipts = 0;
  const auto limit = start + std::chrono::seconds(120);
  while (Clock::now() < limit) {
    if (all_stored == 0) {
      bool all = true;
      for (std::size_t i = 1; i < nodes.size() && all; ++i) all = nodes[i]->node->Counters().received >= 1;
      if (all) all_stored = Seconds(start, Clock::now());
    }
    if (coord.Counters().receipts_in >= members) {
      all_receipts = Seconds(start, Clock::now());
      if (all_stored == 0) all_stored = all_receipts;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (all_receipts == 0) Die("not every receipt came back within 120 s");
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"broadcast\",\n  \"quick\": %s,\n", quick ? "true" : "false");
  std::printf("  \"members\": %d,\n  \"nodes_started_s\": %.2f,\n", members, startup);
  std::printf("  \"all_stored_s\": %.3f,\n  \"all_receipts_s\": %.3f,\n", all_stored, all_receipts);
  std::printf("  \"goals\": {\"all_receipts_under_3_s\": %s},\n", all_receipts < 3 ? "true" : "false");
  std::printf("  \"seconds_total\": %.1f\n}\n", Seconds(run_start, Clock::now()));
  nodes.clear();
  return 0;
}

}  // namespace comity::bench
