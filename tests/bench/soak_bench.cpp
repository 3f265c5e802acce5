// comity-bench soak: four real nodes (node/daemon/node.h), each in a process of its own, on
// loopback TCP with CURVE: two senders, SENDER-A and SENDER-B, each sending 20 messages a
// second to RECEIVER; all three are outbound only, so every message and every receipt goes
// through RELAY, the only node that listens. Every minute, 30 s into it, one node is killed
// with SIGKILL and started again 1 s later on the same archive, in turn RECEIVER, RELAY,
// SENDER-B (SENDER-A is never killed: its resident memory is the one watched). After M minutes
// the senders stop; each reports how many messages its archive holds as sent (a message counts
// as sent once Node::Send's future resolved, i.e. once it is committed; one committed just
// before a kill counts too, since the archive is the record). The run then waits (5 minutes at
// most) until every outbox is empty and every message sent has its delivered receipt at its
// sender (the receiver signs it in the transaction that stores the message). The nodes stop; the parent opens the four archives
// itself and counts, by message body ("soakmsg SENDER INCARNATION SEQUENCE"):
//   sent        - messages the senders' archives hold as sent;
//   delivered   - distinct sent messages the receiver's archive holds;
//   duplicated  - messages the receiver holds more than once (must be 0);
//   lost        - sent messages the receiver does not hold (must be 0);
//   unexpected  - messages the receiver holds that no sender sent (must be 0);
// and checks that each archive verifies (Archive::Verify: page integrity, the audit chain).
// Resident memory: SENDER-A's VmRSS and its archive's page cache (Archive::PageCacheBytes)
// reported every second; "start" is the first sample 15 s into the sending (the node and its
// links up), "end" the last sample before the senders stop. The page cache grows with the
// archive up to its bound (PRAGMA cache_size, 64 MiB) and then stays: in a short run that is
// most of the growth, so the goal, at most +10 %, is on VmRSS less the page cache; both are
// printed. The exit status is 1 unless nothing was lost, duplicated or unexpected, every
// archive verifies, every message has its receipt and that growth is at most 10 %.
// The parent starts no ZeroMQ context or thread: children are forked (and re-forked after a
// kill) from a process that only holds pipes, until it opens the archives at the end.
// Usage: comity-bench soak [--quick] [--minutes M]   (--quick: 1 minute; default 10)
#include "soak_bench.h"
#include "bench_children.h"
#include "bench_nodes.h"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "node/archive/archive.h"

namespace comity::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kRelay = "RELAY";
const std::string kReceiver = "RECEIVER";
const std::string kSenderA = "SENDER-A";
const std::string kSenderB = "SENDER-B";
const std::string kToken = "soakmsg";  // in every soak message's body: how the archives are searched
constexpr int kRatePerSender = 20;     // messages per second
constexpr auto kKillOffset = seconds(30);
constexpr auto kDowntime = seconds(1);
constexpr auto kWarmup = seconds(15);
constexpr auto kDrainLimit = seconds(300);
constexpr double kMaxRssGrowth = 0.10;

// What every child needs, fixed before the first fork.
struct Plan {
  const Network& net;
  std::map<std::string, int> ports;  // the relay's only: the others are outbound only
  std::string dir;
};

std::string HomeOf(const Plan& plan, const std::string& id) { return plan.dir + "/" + id; }

NodeOptions OptionsFor(const std::string& id, int incarnation) {
  NodeOptions o;
  o.reopen = incarnation > 0;
  if (id != kRelay) o.relays = {kRelay};
  // A restarted peer is tried again within 5 s, not after the default's minutes of backoff:
  // the drain at the end measures recovery, not the backoff ceiling.
  o.retry_max = seconds(5);
  return o;
}

// The soak messages an archive holds, by direction: their bodies, one entry per stored row.
struct Held {
  std::vector<std::string> out, in;
};
std::optional<Held> SoakMessages(archive::Archive& a, std::string* why) {
  auto hits = a.Search(kToken, -1);
  if (!hits) {
    *why = "search: " + hits.error().message;
    return std::nullopt;
  }
  Held held;
  for (const archive::SearchHit& h : *hits) {
    if (h.kind != "message") continue;
    auto m = a.GetMessage(h.message_id);
    if (!m || !m->has_value()) {
      *why = "a search hit without its message";
      return std::nullopt;
    }
    if ((*m)->body.rfind(kToken + " ", 0) != 0) continue;
    ((*m)->direction == "out" ? held.out : held.in).push_back((*m)->body);
  }
  return held;
}

// ---- the children -----------------------------------------------------------------------------

std::string ProgressLine(node::Node& n, const std::string& extra) {
  const node::NodeCounters c = n.Counters();
  std::int64_t cache = -1;
  n.WithArchive([&](archive::Archive& a) { cache = a.PageCacheBytes(); });
  // COMITY_SOAK_TRIM=1 (a diagnosis): malloc gives its free memory back first, so that what
  // stays resident is what is in use.
  static const bool trim = std::getenv("COMITY_SOAK_TRIM") != nullptr;
  if (trim) ::malloc_trim(0);
  const struct mallinfo2 heap = ::mallinfo2();
  return "progress" + Field("rss_kib", static_cast<double>(StatusKiB("VmRSS"))) +
         Field("heap_kib", static_cast<double>(heap.uordblks + heap.hblkhd) / 1024) +
         Field("free_kib", static_cast<double>(heap.fordblks) / 1024) +
         Field("cache_kib", static_cast<double>(cache) / 1024) + Field("outbox", static_cast<double>(c.outbox)) + extra;
}

// A sender: a message every 1/20 s until the parent writes 's', then reports what its archive
// holds as sent and keeps serving (retries, receipts) until told to stop.
int SenderMain(const Plan& plan, const std::string& id, int incarnation, int report, int control) {
  auto r = StartNode(plan.net, id, HomeOf(plan, id), plan.ports, OptionsFor(id, incarnation));
  Tell(report, "ready");
  const auto period = std::chrono::microseconds(1'000'000 / kRatePerSender);
  auto next_send = Clock::now();
  auto next_report = next_send + seconds(1);
  bool sending = true;
  for (std::int64_t seq = 0;;) {
    auto now = Clock::now();
    if (sending && now >= next_send) {
      const std::string body = kToken + " " + id + " " + std::to_string(incarnation) + " " + std::to_string(seq);
      auto sent = r->node->Send({Party(kReceiver)}, "text/plain; charset=utf-8", body).get();
      if (!sent) {
        Tell(report, "error the send of " + body + " failed: " + sent.error().message);
        return 1;
      }
      ++seq;
      next_send += period;
      if (Clock::now() - next_send > seconds(1)) next_send = Clock::now();  // fell behind: no burst
      continue;
    }
    if (now >= next_report) {
      std::string extra;
      if (!sending) {
        std::int64_t unreceipted = -1;
        r->node->WithArchive([&](archive::Archive& a) {
          auto u = a.Unreceipted(0, std::numeric_limits<std::int64_t>::max());
          if (u) unreceipted = static_cast<std::int64_t>(u->size());
        });
        extra = Field("unreceipted", static_cast<double>(unreceipted));
      }
      Tell(report, ProgressLine(*r->node, extra));
      next_report += seconds(1);
    }
    now = Clock::now();
    const auto wake = sending ? std::min(next_send, next_report) : next_report;
    const int wait_ms = static_cast<int>(std::max<long long>(0, std::chrono::duration_cast<milliseconds>(wake - now).count()));
    const auto command = Command(control, wait_ms);
    if (!command) continue;
    if (*command != 's' || !sending) return 0;  // the node stops as `r` goes
    sending = false;
    std::string why;
    std::optional<Held> held;
    r->node->WithArchive([&](archive::Archive& a) { held = SoakMessages(a, &why); });
    if (!held) {
      Tell(report, "error " + why);
      return 1;
    }
    Tell(report, "stopped" + Field("sent", static_cast<double>(held->out.size())));
  }
}

// The receiver and the relay: serve, report every second, until told to stop.
int ServerMain(const Plan& plan, const std::string& id, int incarnation, int report, int control) {
  auto r = StartNode(plan.net, id, HomeOf(plan, id), plan.ports, OptionsFor(id, incarnation));
  Tell(report, "ready");
  for (;;) {
    Tell(report, ProgressLine(*r->node, ""));
    if (Command(control, 1000)) return 0;
  }
}

// ---- the parent's side ------------------------------------------------------------------------

struct Member {
  std::string id;
  int incarnation = 0;
  std::unique_ptr<Child> child;
  bool ready = false;
  std::map<std::string, double> progress;  // the latest "progress" line
  std::optional<double> sent;              // from the "stopped" line
  struct Sample {
    // Since the sending began; VmRSS; the page cache; malloc's bytes in use, and free in its arenas.
    double at_s, rss_kib, cache_kib, heap_kib, free_kib;
  };
  std::vector<Sample> rss;
};

struct Soak {
  Plan plan;
  std::vector<Member> members = {};
  Clock::time_point sending_began = {};
  bool sending = false;

  Member& Get(const std::string& id) {
    return *std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.id == id; });
  }

  // Forks member `m`'s next incarnation.
  bool Start(Member& m) {
    std::vector<int> inherited;
    for (const Member& o : members) {
      if (&o != &m && o.child) inherited.insert(inherited.end(), {o.child->report, o.child->control});
    }
    const Plan& p = plan;
    const std::string id = m.id;
    const int incarnation = m.incarnation;
    const bool sender = id == kSenderA || id == kSenderB;
    m.ready = false;
    m.child = Spawn(id, [&p, id, incarnation, sender](int report, int control) {
      return sender ? SenderMain(p, id, incarnation, report, control) : ServerMain(p, id, incarnation, report, control);
    }, inherited);
    return m.child != nullptr;
  }

  // Takes one line of `m`'s; an "error" line or anything unknown is returned as the failure.
  std::string Take(Member& m, const std::string& line) {
    if (line == "ready") {
      m.ready = true;
    } else if (auto f = Fields(line, "progress")) {
      m.progress = *f;
      if (sending) {
        m.rss.push_back({Seconds(sending_began, Clock::now()), (*f)["rss_kib"], (*f)["cache_kib"], (*f)["heap_kib"],
                         (*f)["free_kib"]});
      }
    } else if (auto s = Fields(line, "stopped")) {
      m.sent = (*s)["sent"];
    } else {
      return m.id + ": " + (line.rfind("error ", 0) == 0 ? line.substr(6) : "said \"" + line + "\"");
    }
    return "";
  }

  // Reads every running child's lines until `done` holds or `until` passes. A child that ends
  // here is a failure: returned, like an error line.
  std::string Pump(Clock::time_point until, const std::function<bool()>& done) {
    for (;;) {
      if (done && done()) return "";
      std::vector<pollfd> fds;
      std::vector<Member*> polled;
      for (Member& m : members) {
        if (!m.child) continue;  // killed, not started again yet
        fds.push_back({m.child->report, POLLIN, 0});
        polled.push_back(&m);
      }
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (left <= 0) return "";
      const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 1000)));
      if (n < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Member& m = *polled[i];
        const bool open = ReadLines(*m.child);
        for (; !m.child->lines.empty(); m.child->lines.pop_front()) {
          if (std::string why = Take(m, m.child->lines.front()); !why.empty()) return why;
        }
        if (!open) return "the " + m.id + " " + m.child->Ending() + " unexpectedly";
      }
    }
  }

  // SIGKILL, 1 s down (the others go on), then the next incarnation on the same archive.
  std::string KillAndRestart(Member& m) {
    m.child->Kill();
    const std::string ending = m.child->Ending();
    if (ending != "was killed by signal " + std::to_string(SIGKILL)) return "the " + m.id + " " + ending + " before its kill";
    m.child.reset();
    if (std::string why = Pump(Clock::now() + kDowntime, nullptr); !why.empty()) return why;
    ++m.incarnation;
    if (!Start(m)) return "cannot start the " + m.id + "'s process again";
    if (std::string why = Pump(Clock::now() + seconds(60), [&] { return m.ready; }); !why.empty()) return why;
    return m.ready ? "" : "the " + m.id + " did not start again within 60 s";
  }
};

int Fail(const std::string& why) {
  std::fprintf(stderr, "comity-bench: soak: %s\n", why.c_str());
  return 1;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

int RunSoakBench(int argc, char** argv) {
  const auto args = ParseBenchArgs(argc, argv, "--minutes", "comity-bench soak [--quick] [--minutes M]");
  if (!args) return 2;
  const long long minutes = args->number.value_or(args->quick ? 1 : 10);
  if (minutes < 1 || minutes > 24 * 60) return Fail("--minutes must be from 1 to 1440");
  crypto::EnsureSodium();
  ::signal(SIGPIPE, SIG_IGN);  // a child gone shows as a failed write, not as this process's end
  const auto run_start = Clock::now();
  const ScratchDir scratch("soak");
  const Network net({kRelay, kReceiver, kSenderA, kSenderB},
                    {{kReceiver, kRelay}, {kSenderA, kRelay}, {kSenderB, kRelay}});
  Soak soak{Plan{net, {{kRelay, FreePort()}}, scratch.path}};
  for (const std::string& id : {kRelay, kReceiver, kSenderA, kSenderB}) {
    fs::create_directories(HomeOf(soak.plan, id));
    Member m;
    m.id = id;
    soak.members.push_back(std::move(m));
  }
  // The relay first, so that the others' first dial finds it.
  for (Member& m : soak.members) {
    if (!soak.Start(m)) return Fail("cannot start the " + m.id + "'s process");
    if (std::string why = soak.Pump(Clock::now() + seconds(60), [&] { return m.ready; }); !why.empty()) return Fail(why);
    if (!m.ready) return Fail("the " + m.id + " was not up within 60 s");
  }
  std::fprintf(stderr, "comity-bench soak: 4 nodes up; sending for %lld minute(s)\n", minutes);

  // Sending, with a kill every minute.
  soak.sending = true;
  soak.sending_began = Clock::now();
  const auto sending_ends = soak.sending_began + std::chrono::minutes(minutes);
  const std::vector<std::string> victims = {kReceiver, kRelay, kSenderB};
  std::vector<std::pair<double, std::string>> kills;
  for (long long k = 0;; ++k) {
    const auto kill_at = soak.sending_began + std::chrono::minutes(k) + kKillOffset;
    if (std::string why = soak.Pump(std::min(kill_at, sending_ends), nullptr); !why.empty()) return Fail(why);
    if (kill_at >= sending_ends) break;
    Member& victim = soak.Get(victims[static_cast<std::size_t>(k) % victims.size()]);
    kills.emplace_back(Seconds(soak.sending_began, Clock::now()), victim.id);
    std::fprintf(stderr, "comity-bench soak: %.0f s: killing the %s (SIGKILL)\n", kills.back().first, victim.id.c_str());
    if (std::string why = soak.KillAndRestart(victim); !why.empty()) return Fail(why);
  }
  soak.sending = false;

  // The senders stop; everything they hold as sent must arrive, with its receipts.
  Member& a = soak.Get(kSenderA);
  Member& b = soak.Get(kSenderB);
  for (Member* s : {&a, &b}) {
    if (::write(s->child->control, "s", 1) != 1) return Fail("cannot tell the " + s->id + " to stop sending");
  }
  if (std::string why = soak.Pump(Clock::now() + seconds(60), [&] { return a.sent && b.sent; }); !why.empty()) {
    return Fail(why);
  }
  if (!a.sent || !b.sent) return Fail("the senders did not report what they sent within 60 s");
  const double owed = *a.sent + *b.sent;
  std::fprintf(stderr, "comity-bench soak: sending stopped, %.0f sent; draining\n", owed);
  const auto drain_start = Clock::now();
  Member& receiver = soak.Get(kReceiver);
  auto drained = [&] {
    for (Member& m : soak.members) {
      if (m.progress["outbox"] != 0) return false;
    }
    // Only progress lines reported since the stop carry the receipt count.
    return a.progress.count("unreceipted") && a.progress["unreceipted"] == 0 && b.progress.count("unreceipted") &&
           b.progress["unreceipted"] == 0;
  };
  if (std::string why = soak.Pump(Clock::now() + kDrainLimit, drained); !why.empty()) return Fail(why);
  const double drain_s = Seconds(drain_start, Clock::now());
  const bool complete = drained();
  if (!complete) {
    std::fprintf(stderr,
                 "comity-bench soak: not drained within %lld s: %.0f and %.0f without receipts at the senders, "
                 "outboxes %.0f %.0f %.0f %.0f\n",
                 static_cast<long long>(kDrainLimit.count()), a.progress["unreceipted"], b.progress["unreceipted"],
                 a.progress["outbox"], b.progress["outbox"], receiver.progress["outbox"],
                 soak.Get(kRelay).progress["outbox"]);
  }

  // Stop them all and see them leave cleanly.
  for (Member& m : soak.members) {
    if (::write(m.child->control, "x", 1) != 1) return Fail("cannot tell the " + m.id + " to stop");
  }
  std::vector<Child*> children;
  for (Member& m : soak.members) children.push_back(m.child.get());
  if (!Await(children, Clock::now() + seconds(60), [](const Child& c) { return c.closed; })) {
    return Fail("the nodes did not stop within 60 s: killed");
  }
  for (Member& m : soak.members) {
    const std::string ending = m.child->Ending();
    if (!WIFEXITED(m.child->status) || WEXITSTATUS(m.child->status) != 0) return Fail("the " + m.id + " " + ending + " when stopped");
  }

  // The count, from the archives themselves.
  std::multiset<std::string> sent, stored;
  std::map<std::string, bool> verified;
  for (Member& m : soak.members) {
    auto archive = archive::Archive::Open(HomeOf(soak.plan, m.id), crypto::AsBytes(kBenchPassphrase));
    if (!archive) return Fail("the " + m.id + "'s archive does not open: " + archive.error().message);
    std::string why;
    auto held = SoakMessages(**archive, &why);
    if (!held) return Fail("the " + m.id + "'s archive: " + why);
    if (m.id == kSenderA || m.id == kSenderB) sent.insert(held->out.begin(), held->out.end());
    if (m.id == kReceiver) stored.insert(held->in.begin(), held->in.end());
    auto report = (*archive)->Verify();
    verified[m.id] = report && report->ok;
    if (!verified[m.id]) {
      std::fprintf(stderr, "comity-bench soak: the %s's archive does not verify: %s\n", m.id.c_str(),
                   report ? report->first_break.c_str() : report.error().message.c_str());
    }
  }
  const std::set<std::string> sent_set(sent.begin(), sent.end()), stored_set(stored.begin(), stored.end());
  std::int64_t delivered = 0, lost = 0, unexpected = 0;
  for (const std::string& s : sent_set) (stored_set.count(s) ? delivered : lost) += 1;
  for (const std::string& s : stored_set) unexpected += sent_set.count(s) ? 0 : 1;
  const auto duplicated = static_cast<std::int64_t>(stored.size() - stored_set.size());
  const auto sent_twice = static_cast<std::int64_t>(sent.size() - sent_set.size());

  // SENDER-A's resident memory, from 15 s into the sending to its end: all of it, and without
  // the archive's page cache, which fills up to its bound (64 MiB) as the archive grows.
  const Member::Sample* start = nullptr;
  const Member::Sample* end = nullptr;
  double rss_peak = -1;
  for (const Member::Sample& x : a.rss) {
    if (x.at_s < static_cast<double>(kWarmup.count())) continue;
    if (start == nullptr) start = &x;
    end = &x;
    rss_peak = std::max(rss_peak, x.rss_kib);
  }
  const bool sampled = start != nullptr && start->cache_kib >= 0 && end->cache_kib >= 0;
  const double growth = sampled ? end->rss_kib / start->rss_kib - 1 : -1;
  const double rest_start = sampled ? start->rss_kib - start->cache_kib : -1;
  const double rest_end = sampled ? end->rss_kib - end->cache_kib : -1;
  const double rest_growth = sampled ? rest_end / rest_start - 1 : -1;
  const bool all_verify = std::all_of(verified.begin(), verified.end(), [](const auto& v) { return v.second; });
  const bool ok_counts = duplicated == 0 && lost == 0 && unexpected == 0 && sent_twice == 0 && complete;
  const bool ok_rss = sampled && rest_growth <= kMaxRssGrowth;

  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"soak\",\n  \"quick\": %s,\n  \"minutes\": %lld,\n",
              Bool(args->quick), minutes);
  std::printf("  \"nodes\": {\"senders\": [\"%s\", \"%s\"], \"receiver\": \"%s\", \"relay\": \"%s\", "
              "\"outbound_only\": 3},\n", kSenderA.c_str(), kSenderB.c_str(), kReceiver.c_str(), kRelay.c_str());
  std::printf("  \"rate_per_sender_per_s\": %d,\n  \"archive_kdf\": \"argon2id minimum\",\n  \"kills\": [", kRatePerSender);
  for (std::size_t i = 0; i < kills.size(); ++i) {
    std::printf("%s{\"at_s\": %.1f, \"node\": \"%s\", \"down_s\": %lld}", i ? ", " : "", kills[i].first,
                kills[i].second.c_str(), static_cast<long long>(kDowntime.count()));
  }
  std::printf("],\n");
  std::printf("  \"sent\": %zu,\n  \"delivered\": %lld,\n  \"duplicated\": %lld,\n  \"lost\": %lld,\n"
              "  \"unexpected\": %lld,\n  \"sent_twice\": %lld,\n",
              sent_set.size(), static_cast<long long>(delivered), static_cast<long long>(duplicated),
              static_cast<long long>(lost), static_cast<long long>(unexpected), static_cast<long long>(sent_twice));
  std::printf("  \"drain_s\": %.1f,\n  \"drained_with_all_receipts\": %s,\n", drain_s, Bool(complete));
  std::printf("  \"archives_verify\": {");
  bool first = true;
  for (const auto& [id, ok] : verified) {
    std::printf("%s\"%s\": %s", first ? "" : ", ", id.c_str(), Bool(ok));
    first = false;
  }
  std::printf("},\n");
  std::printf("  \"rss_kib\": {\"node\": \"%s\", \"start\": %.0f, \"end\": %.0f, \"peak\": %.0f, \"growth_pct\": %.1f, "
              "\"page_cache_start\": %.0f, \"page_cache_end\": %.0f, \"without_page_cache_start\": %.0f, "
              "\"without_page_cache_end\": %.0f, \"without_page_cache_growth_pct\": %.1f, "
              "\"malloc_in_use_start\": %.0f, \"malloc_in_use_end\": %.0f, \"malloc_free_start\": %.0f, "
              "\"malloc_free_end\": %.0f, \"samples\": %zu, \"start_after_s\": %lld},\n",
              kSenderA.c_str(), sampled ? start->rss_kib : -1, sampled ? end->rss_kib : -1, rss_peak, growth * 100,
              sampled ? start->cache_kib : -1, sampled ? end->cache_kib : -1, rest_start, rest_end, rest_growth * 100,
              sampled ? start->heap_kib : -1, sampled ? end->heap_kib : -1, sampled ? start->free_kib : -1,
              sampled ? end->free_kib : -1, a.rss.size(),
              static_cast<long long>(kWarmup.count()));
  if (std::getenv("COMITY_SOAK_SAMPLES") != nullptr) {
    for (const Member::Sample& x : a.rss) {
      std::fprintf(stderr, "sample %.0f s: rss %.0f cache %.0f malloc %.0f free %.0f KiB\n", x.at_s, x.rss_kib,
                   x.cache_kib, x.heap_kib, x.free_kib);
    }
  }
  std::printf("  \"goals\": {\"no_duplicates\": %s, \"no_losses\": %s, \"rss_growth_at_most_10_pct\": %s, "
              "\"archives_verify\": %s},\n",
              Bool(duplicated == 0 && sent_twice == 0), Bool(lost == 0 && unexpected == 0 && complete), Bool(ok_rss),
              Bool(all_verify));
  std::printf("  \"seconds_total\": %.1f\n}\n", Seconds(run_start, Clock::now()));
  return ok_counts && ok_rss && all_verify ? 0 : 1;
}

}  // namespace comity::bench
