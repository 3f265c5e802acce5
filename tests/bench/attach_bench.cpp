// comity-bench attach: one file attachment between two real nodes (node/daemon/node.h) on
// loopback TCP with CURVE, each node in a process of its own so that each one's peak resident
// memory (VmHWM) is its own. The parent makes the network's keys and writes a file of random
// bytes in 1 MiB chunks (hashing it as it goes; it never holds the file), then forks the
// receiver and, once that one listens, the sender; it starts no ZeroMQ context or thread
// before both are forked. Each child creates its archive and node and reports to the parent
// on a pipe, with times in seconds from the parent's steady_clock start (CLOCK_MONOTONIC, the
// same clock in every process):
//   encrypt_store_s - the sender's Send call until its future resolves: the file encrypted
//                     into the sender's blob store and the envelope committed.
//   transfer_s      - from then until the receiver holds the message and the file, pulled
//                     piece by piece (256 KiB, 16 in flight), checked and stored (its
//                     counters received == 1 and files_in == 1, polled every 5 ms).
//   total_s         - the Send call until then.
// Where the time goes: a thread beside each node watches the file that node writes (the
// sender's encrypted copy, the receiver's partial file) every 5 ms, which gives a timeline of
// phases without asking the node's thread, which a large file keeps busy; and each child
// reports its CPU time (user + system, all threads) over the timed part. The receiver then
// checks its archive: the attachment's record (content hash and size) and, outside the timed
// part, that it decrypts to the same BLAKE2b. Each child reports its VmHWM at the end.
// Baselines, in the parent once both children have ended: raw ZeroMQ CURVE PUSH/PULL of the
// same bytes in 256 KiB messages over loopback, raw libsodium secretstream push and BLAKE2b in
// 64 KiB chunks in memory. MB = 10^6 bytes. A child that hangs is killed at the deadline
// (10 minutes for 1 GiB) and the run fails.
// Usage: comity-bench attach [--quick] [--mib N]
#include "attach_bench.h"
#include "bench_children.h"
#include "bench_nodes.h"

#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "crypto/stream.h"
#include "node/archive/archive.h"
#include "node/daemon/node.h"
#include "node/daemon/transfer.h"

namespace comity::bench {
namespace {

namespace fs = std::filesystem;

const std::string kSender = "SENDER";
const std::string kReceiver = "RECEIVER";
constexpr std::size_t kWriteChunk = 1 << 20;
constexpr std::size_t kZmqMessage = node::kPieceBytes;
constexpr int kZmqQueue = node::kPiecesAhead;

// What both children need, fixed before they are forked.
struct Plan {
  const Network& net;
  std::map<std::string, int> ports;
  std::string dir;
  std::string file;
  std::uint64_t file_bytes = 0;
  crypto::Bytes content_hash;
  Clock::time_point start;
};

// `bytes` random bytes written to `path` in 1 MiB chunks and synced (so no write-back of the
// parent's file runs under the measurement); returns their BLAKE2b-256.
std::optional<crypto::Bytes> WriteRandomFile(const std::string& path, std::uint64_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return std::nullopt;
  std::vector<std::uint8_t> chunk(kWriteChunk);
  crypto::Blake2bHasher hash;
  bool ok = true;
  for (std::uint64_t left = bytes; left > 0 && ok;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    randombytes_buf(chunk.data(), n);
    hash.Update(crypto::ByteView(chunk.data(), n));
    ok = std::fwrite(chunk.data(), 1, n, f) == n;
    left -= n;
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return std::nullopt;
  return hash.Final();
}

// An output stream buffer that only hashes what is written to it: checks a decrypted
// attachment without keeping it.
class HashingBuf : public std::streambuf {
 public:
  crypto::Bytes Final() { return hash_.Final(); }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    hash_.Update(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(s), static_cast<std::size_t>(n)));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      const char b = traits_type::to_char_type(c);
      xsputn(&b, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  crypto::Blake2bHasher hash_;
};

// Watches a directory from a thread of its own, every 5 ms, for the file a node writes (the
// first whose name `matches`): when it first holds bytes, when it holds `full_bytes`, and
// when it is gone (renamed into place). Seconds from `start`, -1 for what was not seen. It
// does not depend on the node's thread, which a large file keeps busy.
struct FileTimes {
  double first_bytes = -1, full = -1, gone = -1;
};
class FileWatch {
 public:
  FileWatch(std::string dir, std::function<bool(const std::string&)> matches, std::uint64_t full_bytes,
            Clock::time_point start)
      : thread_([this, dir = std::move(dir), matches = std::move(matches), full_bytes, start](std::stop_token stop) {
          Watch(stop, dir, matches, full_bytes, start);
        }) {}
  FileTimes Stop() {
    thread_.request_stop();
    thread_.join();
    return times_;
  }

 private:
  void Watch(const std::stop_token& stop, const std::string& dir,
             const std::function<bool(const std::string&)>& matches, std::uint64_t full_bytes,
             Clock::time_point start) {
    std::string seen;
    for (;;) {
      const bool last = stop.stop_requested();  // one more look once stopped
      const double t = Seconds(start, Clock::now());
      std::error_code ec;
      for (fs::directory_iterator it(dir, ec), end; seen.empty() && !ec && it != end; it.increment(ec)) {
        if (matches(it->path().filename().string())) seen = it->path().string();
      }
      if (!seen.empty()) {
        const auto size = fs::file_size(seen, ec);
        if (ec) {
          // Renamed between two looks: what was not seen happened by then.
          for (double* at : {&times_.first_bytes, &times_.full, &times_.gone}) {
            if (*at < 0) *at = t;
          }
          return;
        }
        if (size > 0 && times_.first_bytes < 0) times_.first_bytes = t;
        if (size >= full_bytes && times_.full < 0) times_.full = t;
      }
      if (last) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  FileTimes times_;
  std::jthread thread_;  // declared last: it starts once times_ exists
};

// ---- the children ---------------------------------------------------------------------------

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The receiver: listens, waits for the message and its file, checks its archive.
int ReceiverMain(const Plan& plan, int report, int control) {
  auto r = StartNode(plan.net, kReceiver, plan.dir + "/receiver", plan.ports);
  // The partial file (transfer.h): bytes arriving, all there, synced and renamed.
  FileWatch partial(
      plan.dir + "/receiver/blobs/transfer", [](const std::string& name) { return EndsWith(name, ".in.part"); },
      crypto::StreamSizeFor(plan.file_bytes), plan.start);
  Tell(report, "ready");
  const double cpu_start = ProcessCpu();
  const double busy =
      PollCounters(*r->node, [](const node::NodeCounters& c) { return c.received == 1 && c.files_in == 1; });
  const double stored = Seconds(plan.start, Clock::now());
  const double cpu = ProcessCpu() - cpu_start;
  const FileTimes part = partial.Stop();

  // The check, after the timed part: the record, then the plaintext's hash.
  std::string wrong;
  const auto check_start = Clock::now();
  r->node->WithArchive([&](archive::Archive& a) {
    auto rec = a.GetAttachment(plan.content_hash);
    if (!rec.ok() || !rec->has_value()) {
      wrong = "the receiver's archive has no attachment with the file's content hash";
    } else if ((*rec)->size != plan.file_bytes) {
      wrong = "the stored attachment has " + std::to_string((*rec)->size) + " bytes, not " +
              std::to_string(plan.file_bytes);
    } else {
      HashingBuf sink;
      std::ostream out(&sink);
      if (!a.ReadAttachment(plan.content_hash, out)) {
        wrong = "the stored attachment does not decrypt";
      } else if (sink.Final() != plan.content_hash) {
        wrong = "the stored attachment decrypts to other bytes";
      }
    }
  });
  if (!wrong.empty()) {
    Tell(report, "error " + wrong);
    return 1;
  }
  const double check_s = Seconds(check_start, Clock::now());
  // Its receipt acknowledged by the sender: nothing is left in flight when both stop.
  PollCounters(*r->node, [](const node::NodeCounters& c) { return c.custody >= 1; });
  Tell(report, "done" + Field("first_bytes_s", part.first_bytes) + Field("all_bytes_s", part.full) +
                   Field("synced_s", part.gone) + Field("stored_s", stored) + Field("busy_s", busy) +
                   Field("cpu_s", cpu) + Field("check_s", check_s) +
                   Field("hwm_kib", static_cast<double>(StatusKiB("VmHWM"))));
  AwaitStop(control);
  return 0;
}

// The sender: sends the file, waits for custody and the signed receipt.
int SenderMain(const Plan& plan, int report, int control) {
  auto s = StartNode(plan.net, kSender, plan.dir + "/sender", plan.ports);
  // The encrypted copy (send.cpp's PrepareFile): written, then synced and moved into the blob
  // store on the node's thread.
  FileWatch outgoing(
      plan.dir + "/sender/blobs", [](const std::string& name) { return name.rfind("outgoing-", 0) == 0; },
      crypto::StreamSizeFor(plan.file_bytes), plan.start);
  const double cpu_start = ProcessCpu();
  const auto call = Clock::now();
  auto id =
      s->node->Send({Party(kReceiver)}, "text/plain; charset=utf-8", "The file, attached.", 0, {plan.file}).get();
  const auto resolved = Clock::now();
  const double cpu_encrypt_store = ProcessCpu() - cpu_start;
  if (!id) {
    Tell(report, "error the send failed: " + id.error().message);
    return 1;
  }
  const FileTimes encrypted = outgoing.Stop();
  std::int64_t pieces_served = 0;
  PollCounters(*s->node, [&](const node::NodeCounters& c) {
    pieces_served = c.pieces_served;
    return c.custody >= 1;
  });
  const double custody = Seconds(plan.start, Clock::now());
  const double cpu = ProcessCpu() - cpu_start;
  PollCounters(*s->node, [](const node::NodeCounters& c) { return c.receipts_in >= 1; });
  Tell(report, "done" + Field("call_s", Seconds(plan.start, call)) + Field("encrypted_s", encrypted.full) +
                   Field("in_blob_store_s", encrypted.gone) + Field("resolved_s", Seconds(plan.start, resolved)) +
                   Field("custody_s", custody) + Field("cpu_s", cpu) +
                   Field("cpu_encrypt_store_s", cpu_encrypt_store) +
                   Field("pieces_served", static_cast<double>(pieces_served)) +
                   Field("hwm_kib", static_cast<double>(StatusKiB("VmHWM"))));
  AwaitStop(control);
  return 0;
}

// ---- the parent's side ------------------------------------------------------------------------

int Fail(const std::string& why) {
  std::fprintf(stderr, "comity-bench: attach: %s\n", why.c_str());
  return 1;
}

// Raw libsodium secretstream push of `bytes` in 64 KiB chunks in memory (one chunk reused);
// MB/s.
double SecretstreamRate(std::uint64_t bytes) {
  std::vector<unsigned char> plain(crypto::kStreamChunkSize),
      cipher(crypto::kStreamChunkSize + crypto_secretstream_xchacha20poly1305_ABYTES);
  randombytes_buf(plain.data(), plain.size());
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_state st;
  const auto start = Clock::now();
  crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
  for (std::uint64_t off = 0; off < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(plain.size(), bytes - off));
    off += n;
    const unsigned char tag = off == bytes ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
    unsigned long long out = 0;
    crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &out, plain.data(), n, nullptr, 0, tag);
  }
  const double t = Seconds(start, Clock::now());
  sodium_memzero(key, sizeof key);
  return static_cast<double>(bytes) / t / 1e6;
}

// BLAKE2b-256 of `bytes` in 64 KiB updates in memory (one chunk reused); MB/s. Encrypting a
// file hashes its plaintext and its stream, checking one hashes its plaintext.
double Blake2bRate(std::uint64_t bytes) {
  std::vector<std::uint8_t> chunk(crypto::kStreamChunkSize);
  randombytes_buf(chunk.data(), chunk.size());
  crypto::Blake2bHasher hash;
  const auto start = Clock::now();
  for (std::uint64_t off = 0; off < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), bytes - off));
    hash.Update(crypto::ByteView(chunk.data(), n));
    off += n;
  }
  (void)hash.Final();
  return static_cast<double>(bytes) / Seconds(start, Clock::now()) / 1e6;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

int RunAttachBench(int argc, char** argv) {
  const auto args = ParseBenchArgs(argc, argv, "--mib", "comity-bench attach [--quick] [--mib N]");
  if (!args) return 2;
  const bool quick = args->quick;
  const long long mib = args->number.value_or(quick ? 32 : 1024);
  if (mib < 1 || mib > 4095) return Fail("--mib must be from 1 to 4095 (the attachment limit is 4 GiB)");
  crypto::EnsureSodium();
  // A child gone unexpectedly shows as a failed write on its pipe, not as a signal that ends
  // this process before it can clean up.
  ::signal(SIGPIPE, SIG_IGN);
  const auto run_start = Clock::now();
  // 10 minutes for 1 GiB, at least 2 for a small file: then both nodes are killed.
  const auto limit = std::chrono::seconds(std::max<long long>(120, 600 * mib / 1024));
  const ScratchDir scratch("attach");
  const Network net({kSender, kReceiver});
  Plan plan{net, {{kSender, FreePort()}, {kReceiver, FreePort()}}, scratch.path, scratch.path + "/evidence.bin",
            static_cast<std::uint64_t>(mib) << 20, {}, run_start};
  fs::create_directories(plan.dir + "/sender");
  fs::create_directories(plan.dir + "/receiver");
  std::fprintf(stderr, "comity-bench attach: writing %lld MiB of random bytes to %s\n", mib, plan.file.c_str());
  auto hash = WriteRandomFile(plan.file, plan.file_bytes);
  if (!hash) return Fail("cannot write " + plan.file + ": " + std::strerror(errno));
  plan.content_hash = std::move(hash).value();
  const long parent_rss = StatusKiB("VmRSS");

  // The nodes, each in its own process; no ZeroMQ context or thread exists here yet.
  const auto deadline = Clock::now() + limit;
  auto receiver = Spawn("receiver", [&](int report, int control) {
    return ReceiverMain(plan, report, control);
  }, {});
  if (!receiver) return Fail("cannot start the receiver's process");
  if (!Await({receiver.get()}, deadline, HasLine)) return Fail("the receiver was not listening within the deadline");
  if (!HasLine(*receiver) || receiver->lines.front() != "ready") return Fail(Failure(*receiver));
  receiver->lines.pop_front();
  std::fprintf(stderr, "comity-bench attach: receiver listening; sending %lld MiB\n", mib);
  auto sender = Spawn("sender", [&](int report, int control) { return SenderMain(plan, report, control); },
                      {receiver->report, receiver->control});
  if (!sender) return Fail("cannot start the sender's process");
  if (!Await({receiver.get(), sender.get()}, deadline, HasLine)) {
    return Fail("no result within " + std::to_string(limit.count()) + " s: both nodes killed");
  }
  std::optional<std::map<std::string, double>> r, s;
  if (HasLine(*receiver)) r = Fields(receiver->lines.front());
  if (HasLine(*sender)) s = Fields(sender->lines.front());
  if (!r) return Fail(Failure(*receiver));
  if (!s) return Fail(Failure(*sender));
  // Both done: stop them and see them leave cleanly.
  for (Child* c : {receiver.get(), sender.get()}) {
    if (::write(c->control, "x", 1) != 1) return Fail("cannot tell the " + c->name + " to stop");
  }
  const auto stop_deadline = Clock::now() + std::chrono::seconds(60);
  if (!Await({receiver.get(), sender.get()}, stop_deadline, [](const Child& c) { return c.closed; })) {
    return Fail("the nodes did not stop within 60 s: killed");
  }
  for (Child* c : {receiver.get(), sender.get()}) {
    const std::string ending = c->Ending();
    if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0) {
      return Fail("the " + c->name + " " + ending + " when stopped");
    }
  }

  // The baselines, with the nodes gone.
  std::fprintf(stderr, "comity-bench attach: baselines\n");
  const double bytes = static_cast<double>(plan.file_bytes);
  const std::int64_t zmq_messages = std::max<std::int64_t>(1, static_cast<std::int64_t>(plan.file_bytes / kZmqMessage));
  const double zmq_mb_s = ZmqCurveRate(zmq_messages, kZmqMessage, kZmqQueue) * static_cast<double>(kZmqMessage) / 1e6;
  const double stream_mb_s = SecretstreamRate(plan.file_bytes);
  const double blake2b_mb_s = Blake2bRate(plan.file_bytes);

  const double call = s->at("call_s"), resolved = s->at("resolved_s"), stored = r->at("stored_s");
  const double encrypt_store = resolved - call, transfer = stored - resolved, total = stored - call;
  const double mb_s_total = bytes / total / 1e6, mb_s_transfer = bytes / transfer / 1e6;
  const double mb_s_encrypt_store = bytes / encrypt_store / 1e6;
  const double rss_sender = s->at("hwm_kib") / 1024, rss_receiver = r->at("hwm_kib") / 1024;
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"attach\",\n  \"quick\": %s,\n", Bool(quick));
  std::printf("  \"units\": \"MB = 10^6 bytes, MiB = 2^20 bytes; times in seconds\",\n");
  std::printf("  \"file_mib\": %lld,\n  \"file_bytes\": %llu,\n  \"stream_bytes\": %llu,\n", mib,
              static_cast<unsigned long long>(plan.file_bytes),
              static_cast<unsigned long long>(crypto::StreamSizeFor(plan.file_bytes)));
  std::printf("  \"piece_bytes\": %u,\n  \"pieces_in_flight\": %d,\n  \"archive_kdf\": \"argon2id minimum\",\n",
              node::kPieceBytes, node::kPiecesAhead);
  std::printf("  \"encrypt_store_s\": %.3f,\n  \"transfer_s\": %.3f,\n  \"total_s\": %.3f,\n", encrypt_store, transfer,
              total);
  std::printf("  \"mb_per_s_encrypt_store\": %.1f,\n  \"mb_per_s_transfer\": %.1f,\n  \"mb_per_s_total\": %.1f,\n",
              mb_s_encrypt_store, mb_s_transfer, mb_s_total);
  // The timeline from the Send call; file events seen every 5 ms from a thread beside each node.
  auto since_call = [&](double t) { return t < 0 ? -1 : t - call; };
  // The sender's copy is moved into place before the commit that resolves the future; a move
  // seen only at the watch's last look is dated to the commit.
  const double moved = since_call(s->at("in_blob_store_s"));
  const double in_blob_store = moved < 0 ? -1 : std::min(moved, encrypt_store);
  std::printf("  \"phases_s\": {\"from\": \"send call\", \"sender_encrypted\": %.3f, "
              "\"sender_synced_into_blob_store\": %.3f, \"future_resolved\": %.3f, "
              "\"receiver_first_bytes\": %.3f, \"receiver_all_bytes\": %.3f, \"receiver_synced\": %.3f, "
              "\"receiver_stored\": %.3f, \"sender_custody\": %.3f, \"receiver_node_thread_longest_busy\": %.3f},\n",
              since_call(s->at("encrypted_s")), in_blob_store, encrypt_store,
              since_call(r->at("first_bytes_s")), since_call(r->at("all_bytes_s")), since_call(r->at("synced_s")),
              total, since_call(s->at("custody_s")), r->at("busy_s"));
  std::printf("  \"cpu_s\": {\"sender\": %.2f, \"sender_encrypt_store\": %.2f, \"receiver\": %.2f},\n", s->at("cpu_s"),
              s->at("cpu_encrypt_store_s"), r->at("cpu_s"));
  std::printf("  \"peak_rss_mib\": {\"sender\": %.1f, \"receiver\": %.1f},\n  \"parent_rss_at_fork_mib\": %.1f,\n",
              rss_sender, rss_receiver, static_cast<double>(parent_rss) / 1024);
  std::printf("  \"check\": {\"attachment_record\": true, \"size_equal\": true, \"decrypts_to_same_blake2b\": true, "
              "\"check_s\": %.2f, \"pieces_served\": %.0f},\n",
              r->at("check_s"), s->at("pieces_served"));
  std::printf("  \"baseline\": {\"zmq_curve_mb_per_s\": %.1f, \"zmq_message_bytes\": %zu, \"zmq_queue_messages\": %d, "
              "\"secretstream_mb_per_s\": %.1f, \"secretstream_chunk_bytes\": %zu, \"blake2b_mb_per_s\": %.1f},\n",
              zmq_mb_s, kZmqMessage, kZmqQueue, stream_mb_s, crypto::kStreamChunkSize, blake2b_mb_s);
  std::printf("  \"ratios\": {\"total_to_zmq_curve\": %.3f, \"transfer_to_zmq_curve\": %.3f, "
              "\"encrypt_store_to_secretstream\": %.3f},\n",
              mb_s_total / zmq_mb_s, mb_s_transfer / zmq_mb_s, mb_s_encrypt_store / stream_mb_s);
  std::printf("  \"goals\": {\"at_least_150_mb_per_s\": %s, \"rss_at_most_64_mib\": %s},\n", Bool(mb_s_total >= 150),
              Bool(rss_sender <= 64 && rss_receiver <= 64));
  std::printf("  \"seconds_total\": %.1f\n}\n", Seconds(run_start, Clock::now()));
  return 0;
}

}  // namespace comity::bench
