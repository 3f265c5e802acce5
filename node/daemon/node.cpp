#include "node/daemon/node.h"

#include "node/daemon/workflow.h"

#include "node/daemon/send.h"
#include "node/files.h"

#include <sodium.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cmath>
#include <thread>
#include <zmq_addon.hpp>

#include "crypto/envelope.h"
#include "crypto/sodium.h"
#include "proto/envelope.pb.h"
#include "proto/link.pb.h"

namespace comity::node {
namespace {

using crypto::Bytes;

// Every frame sequence starts with the protocol tag, then the kind (docs/PROTOCOL.md §10).
constexpr std::string_view kTag = "COMITY1";
constexpr std::string_view kDeliver = "DELIVER";
constexpr std::string_view kCustody = "CUSTODY";
constexpr std::string_view kReject = "REJECT";
constexpr std::string_view kForward = "FORWARD";
constexpr std::string_view kRosters = "ROSTERS";
constexpr std::string_view kRoster = "ROSTER";
constexpr auto kHelloEvery = std::chrono::seconds(5);
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "comity";
constexpr int kOutboxBatch = 200;
// At most this many envelopes wait for custody from one hop; the rest wait in the outbox, so
// that a slow receiver is not sent retries of what it is still working through.
constexpr int kWindow = 512;
constexpr int kQueueLimit = 16 * kWindow;

std::string ShortId(const std::string& id) { return ShortMessageId(crypto::AsBytes(id)); }
std::string ShortId(const Bytes& id) { return ShortMessageId(id); }

// The header of an envelope, read without verifying anything: only to choose which of this
// node's parties is the reader. Open() verifies it all.
std::optional<v1::EnvelopeHeader> PeekHeader(const std::string& envelope) {
  v1::Signed outer;
  v1::EnvelopeBody body;
  v1::EnvelopeHeader header;
  if (!outer.ParseFromString(envelope) || !body.ParseFromString(outer.body()) ||
      !header.ParseFromString(body.header())) {
    return std::nullopt;
  }
  return header;
}

std::string Frame(const zmq::message_t& m) { return m.to_string(); }

void SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                             : zmq::send_flags::dontwait;
    if (!socket.send(zmq::buffer(frames[i]), flags)) return;  // full: the sender will retry
  }
}

}  // namespace

// An outgoing link to one member: a CURVE DEALER to its endpoints.
struct Node::Link {
  zmq::socket_t socket;
  std::unique_ptr<ZmqReader> reader;
  std::vector<std::string> endpoints;
  std::string server_key;  // the peer's CURVE key it was dialled with
};

Node::Node(NodeParams params)
    : p_(std::move(params)),
      log_(p_.name, p_.settings.log_level, p_.log_sink),
      zap_(zmq_, zmq::socket_type::rep),
      hello_timer_(io_),
      status_timer_(io_),
      reopen_timer_(io_),
      outbox_timer_(io_) {
  if (!p_.now) p_.now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  files_ = std::make_unique<FileFetcher>(io_, log_, p_.archive->blob_dir() + "/transfer",
                                         [this](const FileSource& to, const std::vector<std::string>& frames) {
                                           Reply(ReplyTo{to.peer, to.routing_id}, frames);
                                         },
                                         p_.settings.file_bytes_per_second);
}

Node::~Node() {
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    for (Worker& w : workers_) w.thread.join();
  }
  api_.reset();
  pings_.clear();
  files_.reset();
  links_.clear();
  router_reader_.reset();
  if (router_) router_->close();
  zap_reader_.reset();
  zap_.close();
  zmq_.close();
}

Result<std::unique_ptr<Node>> Node::Create(NodeParams params) {
  crypto::EnsureSodium();
  if (!params.archive) return MakeError("a node needs its archive");
  if (params.parties.empty()) return MakeError("a node needs at least one membership");
  std::unique_ptr<Node> node(new Node(std::move(params)));
  if (auto st = node->Bind(); !st) return st.error();
  return node;
}

Status<> Node::Bind() {
  // The ZAP handler must be bound before any CURVE socket of this context accepts a link.
  zap_.bind(kZapEndpoint);
  zap_reader_ = std::make_unique<ZmqReader>(io_, zap_, [this](auto& f) { OnZap(f); });
  zap_reader_->Drain();
  if (!p_.api_socket_path.empty()) {
    api_ = std::make_unique<ApiServer>(
        io_, p_.api_socket_path, [this](const v1::ApiRequest& r, ApiServer::Reply reply) { OnApi(r, std::move(reply)); },
        log_);
    if (auto st = api_->Start(); !st) return st;
  }
  if (p_.settings.listen.empty()) return {};
  return OpenRouter(p_.settings.listen);
}

Status<> Node::OpenRouter(const std::vector<std::string>& endpoints) {
  router_ = std::make_unique<zmq::socket_t>(zmq_, zmq::socket_type::router);
  const std::string secret(reinterpret_cast<const char*>(p_.identity.transport_secret().data()),
                           p_.identity.transport_secret().size());
  router_->set(zmq::sockopt::curve_server, 1);
  router_->set(zmq::sockopt::curve_secretkey, secret);
  router_->set(zmq::sockopt::zap_domain, kZapDomain);
  router_->set(zmq::sockopt::linger, 0);
  // Above what the delivery windows can have queued per peer (512 envelopes each way and their
  // acknowledgements): ZeroMQ drops what a full ROUTER pipe cannot take.
  router_->set(zmq::sockopt::sndhwm, kQueueLimit);
  router_->set(zmq::sockopt::rcvhwm, kQueueLimit);
  // A memory guard only: libzmq drops a link that sends more than this in one frame; frames
  // between the configured limit and this are dropped and counted by OnRouter.
  router_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(p_.settings.max_envelope_bytes + (1 << 20)));
  bound_.clear();
  for (const std::string& e : endpoints) {
    try {
      router_->bind(e);
    } catch (const zmq::error_t& err) {
      return MakeError("cannot listen on " + e + ": " + err.what());
    }
    bound_.push_back(router_->get(zmq::sockopt::last_endpoint));
  }
  router_reader_ = std::make_unique<ZmqReader>(io_, *router_, [this](auto& f) { OnRouter(f); }, [this] { Flush(); });
  router_reader_->Drain();
  return {};
}

void Node::Run() {
  log_.Info("running as " + [&] {
    std::string s;
    for (const auto& p : p_.parties) s += (s.empty() ? "" : ", ") + AddressOf(p);
    return s;
  }() + (bound_.empty() ? ", outbound only" : ", listening on " + [&] {
    std::string s;
    for (const auto& e : bound_) s += (s.empty() ? "" : " ") + e;
    return s;
  }()));
  KeepLinks();
  Hello();
  StatusLoop();
  ScheduleOutbox(std::chrono::milliseconds(0));
  auto guard = boost::asio::make_work_guard(io_);
  io_.run();
  Flush();
  WriteStatus(false);
  log_.Info("stopped");
}

void Node::Stop() {
  boost::asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    outbox_timer_.cancel();
    hello_timer_.cancel();
    status_timer_.cancel();
    reopen_timer_.cancel();
    files_->Stop();
    if (api_) api_->Stop();
    for (auto& [id, ping] : pings_) ping->timer->cancel();
    if (signals_) signals_->cancel();
    // Nothing is half-written: every archive write is one committed batch, and what peers
    // have not taken custody of stays in the outbox for the next run.
    io_.stop();
  });
}

void Node::HandleSignals(std::function<void(Node&)> on_reload) {
  signals_ = std::make_unique<boost::asio::signal_set>(io_, SIGINT, SIGTERM, SIGHUP);
  on_reload_ = std::move(on_reload);
  AwaitSignal();
}

// One wait at a time, started again after a SIGHUP; the handler holds only `this`, so nothing
// of it outlives the node.
void Node::AwaitSignal() {
  signals_->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      log_.Info("SIGHUP: reloading");
      if (on_reload_) on_reload_(*this);
      AwaitSignal();
      return;
    }
    log_.Info(sig == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
    Stop();
  });
}

// ---- admission ----------------------------------------------------------------------------

std::optional<std::string> Node::MemberOfCurveKey(const std::string& key) const {
  for (const auto& [id, net] : p_.trust.networks()) {
    if (!net.roster) continue;
    for (const auto& [member_id, cert] : net.roster->members) {
      if (cert.keys().transport_curve() != key) continue;
      // The roster lists it; FindMember also checks revocation and validity now.
      auto found = p_.trust.FindMember(crypto::PartyOf(cert), p_.now());
      if (found) return AddressOf(crypto::PartyOf(cert));
    }
  }
  return std::nullopt;
}

void Node::OnZap(std::vector<zmq::message_t>& f) {
  // ZAP 1.0 (ZeroMQ RFC 27): version, request id, domain, address, identity, mechanism, credentials.
  std::string version = f.size() > 0 ? Frame(f[0]) : "", request = f.size() > 1 ? Frame(f[1]) : "";
  std::string status = "400", text = "not a member", user;
  if (f.size() >= 7 && Frame(f[5]) == "CURVE" && f[6].size() == 32) {
    if (auto member = MemberOfCurveKey(Frame(f[6]))) {
      status = "200";
      text = "OK";
      user = *member;
    }
  }
  if (status == "200") {
    admitted_keys_[Frame(f[6])] = user;
    ++counters_.links_admitted;
    log_.Debug("link from " + user + " admitted");
  } else {
    ++counters_.links_refused;
    std::int64_t held = 0;
    if (log_.Allow("refused", std::chrono::seconds(10), &held)) {
      const std::string address = f.size() > 3 ? Frame(f[3]) : "?";
      log_.Warn("link from " + address + " refused: its CURVE key is no current member's" +
                (held > 0 ? " (and " + std::to_string(held) + " more refused)" : ""));
    }
  }
  SendFrames(zap_, {"1.0", request, status, text, user, ""});
}

bool Node::RateAllows(const std::string& peer) {
  Bucket& b = buckets_[peer];
  const auto now = std::chrono::steady_clock::now();
  const double rate = p_.settings.peer_frames_per_second, burst = p_.settings.peer_burst;
  if (b.at == std::chrono::steady_clock::time_point{}) b.tokens = burst;
  b.tokens = std::min(burst, b.tokens + rate * std::chrono::duration<double>(now - b.at).count());
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

// ---- receiving ----------------------------------------------------------------------------

void Node::OnRouter(std::vector<zmq::message_t>& f) {
  ++counters_.frames_in;
  if (f.size() < 2) return;
  // The ZAP user id rides on every frame of an authenticated link.
  const char* user = f[1].gets("User-Id");
  const std::string peer = user != nullptr ? user : "";
  if (peer.empty()) return;  // cannot happen with CURVE and ZAP; never trust such a frame
  if (!IsCurrentMember(peer)) {
    // Admitted before a roster revoked it: the link stays open at the TCP level (ZeroMQ has
    // no way to drop one peer of a ROUTER), but nothing it sends is taken.
    ++counters_.dropped_untrusted;
    return;
  }
  const std::string routing_id = Frame(f[0]);
  if (auto it = routes_.find(peer); it == routes_.end() || it->second != routing_id) {
    routes_[peer] = routing_id;
    // A member (re)appeared: what waits for it goes now, not after its backoff.
    auto st = p_.archive->Batch([&] { return p_.archive->ExpediteOutbox(peer, p_.now()); });
    if (!st) log_.Error("expediting the outbox failed: " + st.error().message);
    ScheduleOutbox(std::chrono::milliseconds(0));
  }
  OnFrames(peer, Path{router_.get(), routing_id, router_reader_.get()}, f, 1);
}

void Node::OnLink(const std::string& peer, std::vector<zmq::message_t>& f) {
  auto it = links_.find(peer);
  if (it == links_.end()) return;
  ++counters_.frames_in;
  OnFrames(peer, Path{&it->second->socket, "", it->second->reader.get()}, f, 0);
}

void Node::SendOn(const Path& path, const std::vector<std::string>& frames) {
  if (path.routing_id.empty()) {
    SendFrames(*path.socket, frames);
  } else {
    std::vector<std::string> out = {path.routing_id};
    out.insert(out.end(), frames.begin(), frames.end());
    SendFrames(*path.socket, out);
  }
  if (path.reader != nullptr) path.reader->Drain();  // a send can swallow the edge of a waiting reply
}

// Frames f[first..] from `peer` (authenticated), with replies going back on `back`.
void Node::OnFrames(const std::string& peer, const Path& back, std::vector<zmq::message_t>& f, std::size_t first) {
  last_seen_[peer] = p_.now();
  if (!RateAllows(peer)) {
    ++counters_.dropped_rate;
    return;
  }
  // Size first, before anything is parsed.
  std::size_t total = 0;
  for (std::size_t i = first; i < f.size(); ++i) total += f[i].size();
  // An attachment piece has a limit of its own (it may exceed a small envelope limit).
  const bool piece = f.size() > first + 1 && f[first + 1].size() == kPiece.size() && Frame(f[first + 1]) == kPiece;
  if (total > (piece ? std::uint64_t{kPieceBytes} : p_.settings.max_envelope_bytes) + 1024) {
    ++counters_.dropped_oversize;
    std::int64_t held = 0;
    if (log_.Allow("oversize " + peer, std::chrono::seconds(10), &held)) {
      log_.Warn("dropped a frame of " + std::to_string(total) + " bytes from " + peer + " (limit " +
                std::to_string(p_.settings.max_envelope_bytes) + ")");
    }
    return;
  }
  const std::size_t n = f.size() - first;
  if (n < 2 || Frame(f[first]) != kTag) {
    ++counters_.dropped_malformed;
    return;
  }
  const std::string kind = Frame(f[first + 1]);
  auto arg = [&](std::size_t i) { return Frame(f[first + 2 + i]); };
  const ReplyTo reply_to{peer, back.routing_id};
  if (kind == kDeliver && n == 3) {
    Deliver(peer, reply_to, arg(0));
  } else if (kind == kForward && n == 4) {
    Relay(peer, reply_to, arg(0), arg(1));
  } else if (kind == kCustody && n == 4) {
    OnCustody(peer, arg(0), arg(1), false, "");
  } else if (kind == kReject && n == 5) {
    OnCustody(peer, arg(0), arg(1), true, arg(2));
  } else if (kind == kRosters && n == 3) {
    OnRosterVersions(peer, back, arg(0));
  } else if (kind == kRoster && n == 3) {
    OnRoster(peer, arg(0));
  } else if (kind == kPull && n == 6) {
    OnPull(peer, reply_to, arg(0), arg(1), arg(2), arg(3));
  } else if (kind == kPiece && n == 6) {
    files_->OnPiece(peer, arg(0), arg(1), arg(2), arg(3));
  } else if (kind == kNoFile && n == 4) {
    files_->OnNoFile(peer, arg(0), arg(1));
  } else {
    ++counters_.dropped_malformed;
  }
}

void Node::Refuse(const ReplyTo& back, const Bytes& id, const std::string& member, const std::string& what,
                  const std::string& why) {
  ++counters_.rejected;
  log_.Info(what + ": " + why);
  Reply(back, {std::string(kTag), std::string(kReject), std::string(id.begin(), id.end()), member, why});
}

void Node::Reply(const ReplyTo& to, const std::vector<std::string>& frames) {
  if (!to.routing_id.empty()) {
    if (router_) SendOn(Path{router_.get(), to.routing_id, router_reader_.get()}, frames);
    return;
  }
  auto it = links_.find(to.peer);
  if (it != links_.end()) SendOn(Path{&it->second->socket, "", it->second->reader.get()}, frames);
}

void Node::Defer(std::function<archive::ArchiveStatus()> write, std::function<void()> after,
                 std::function<void(const std::string&)> failed) {
  pending_.push_back({std::move(write), std::move(after), std::move(failed)});
  if (pending_.size() >= static_cast<std::size_t>(kOutboxBatch)) Flush();
}

void Node::Flush() {
  if (flushing_) return;  // the loop below takes what arrives meanwhile
  flushing_ = true;
  while (!pending_.empty()) {
    std::vector<Pending> work;
    work.swap(pending_);
    auto st = p_.archive->Batch([&]() -> archive::ArchiveStatus {
      for (const Pending& w : work) {
        if (auto r = w.write(); !r) return r;
      }
      return WriteReceipts(p_.now());
    });
    receipts_due_.clear();  // written, or rolled back with the messages they were for
    if (receipts_sealed_) {
      receipts_sealed_ = false;
      if (st) ScheduleOutbox(std::chrono::milliseconds(0));
    }
    if (!st) {
      // Nothing of it is stored, so nothing is acknowledged: every sender tries again.
      log_.Error("archiving " + std::to_string(work.size()) + " items failed: " + st.error().message);
      settling_.clear();  // whatever custody it held is answered again by the retries
      for (const Pending& w : work) {
        if (w.failed) w.failed(st.error().message);  // those waiting for an answer get one
      }
      continue;
    }
    for (const Pending& w : work) {
      if (w.after) w.after();
    }
  }
  flushing_ = false;
}

std::optional<Node::Peeked> Node::Peek(const std::string& envelope) {
  Bytes id = crypto::MessageId(crypto::AsBytes(envelope));
  auto header = PeekHeader(envelope);
  if (id.empty() || !header) {
    ++counters_.dropped_malformed;
    return std::nullopt;
  }
  return Peeked{std::move(id), std::move(*header)};
}

void Node::Deliver(const std::string& from, const ReplyTo& back, const std::string& envelope) {
  auto peeked = Peek(envelope);
  if (!peeked) return;
  const Bytes& id = peeked->id;
  const v1::EnvelopeHeader* header = &peeked->header;
  const std::string id_text(id.begin(), id.end());
  std::string me = AddressOf(p_.parties.front());
  auto refuse = [&](const std::string& why) { Refuse(back, id, me, "refused envelope " + ShortId(id) + " from " + from, why); };
  const v1::Party* reader = nullptr;
  for (const v1::Party& mine : p_.parties) {
    for (const v1::Party& r : header->recipients()) {
      if (r.network_id() == mine.network_id() && r.member_id() == mine.member_id()) reader = &mine;
    }
  }
  if (reader == nullptr) return refuse("not addressed to this node");
  me = AddressOf(*reader);
  const v1::Signed* cert = p_.trust.SignedCertificateOf(header->sender());
  if (cert == nullptr) {
    ++counters_.deferred;
    log_.Debug("envelope " + ShortId(id) + " from unknown sender " + AddressOf(header->sender()) + ", not accepted yet");
    return;
  }
  const std::int64_t now = p_.now();
  auto opened = crypto::Open(p_.identity, *reader, crypto::AsBytes(envelope), *cert, p_.trust, now);
  if (!opened) {
    if (opened.error().code == crypto::OpenCode::kUnknownSender) {
      ++counters_.deferred;
      return;
    }
    return refuse(std::string(crypto::OpenCodeName(opened.error().code)));
  }
  std::string content;
  auto files = FilesOf(opened->header, opened->plaintext, &content);
  if (!files) return refuse("malformed: " + files.error().message);
  sodium_memzero(opened->plaintext.data(), opened->plaintext.size());
  if (auto st = CheckWorkflowContent(opened->header.content_type(), content); !st) {
    sodium_memzero(content.data(), content.size());
    return refuse("malformed: " + st.error().message);
  }
  // A thread event is checked against what the archive holds of its thread (a duplicate is
  // answered below).
  if (auto seen = IsWorkflowContent(opened->header.content_type()) ? p_.archive->Seen(opened->message_id)
                                                                   : archive::ArchiveResult<bool>(true);
      seen && !*seen) {
    auto sender = p_.trust.VerifyMember(*cert, now);
    const Verdict verdict = sender ? CheckAgainstArchive(*p_.archive, opened->header.content_type(), content,
                                                         opened->header.created_at(), *sender, now)
                                   : Verdict{sender.error().message, false};
    if (verdict.defer) {
      // It answers an event not here yet: the sender's retry brings it again.
      sodium_memzero(content.data(), content.size());
      ++counters_.deferred;
      log_.Debug("envelope " + ShortId(id) + " from " + AddressOf(header->sender()) + " answers an event not here yet");
      return;
    }
    if (!verdict.refusal.empty()) {
      sodium_memzero(content.data(), content.size());
      return refuse(verdict.refusal);
    }
  }
  std::vector<WantedFile> wanted;
  for (const ReceivedFile& f : *files) {
    WantedFile& w = wanted.emplace_back();
    w.message_id = opened->message_id;
    w.stream_hash = crypto::ToBytes(f.ref.stream_hash());
    w.stream_size = f.ref.stream_size();
    auto key = std::make_shared<crypto::SecretBytes>(f.key.key().size());
    std::copy(f.key.key().begin(), f.key.key().end(), key->data());
    w.key = std::move(key);
    w.content_hash = crypto::ToBytes(f.key.content_hash());
    w.size = f.key.size();
  }
  if (!wanted.empty()) {
    auto seen = p_.archive->Seen(opened->message_id);
    // A duplicate is acknowledged below without its files being fetched again.
    if (seen && !*seen &&
        !HaveFiles(wanted, from, back, "in", [this, from, back, envelope] { Deliver(from, back, envelope); },
                   [this, back, id, me, from](const std::string& why) {
                     Refuse(back, id, me, "refused envelope " + ShortId(id) + " from " + from, why);
                   })) {
      return;
    }
  }
  auto m = std::make_shared<archive::MessageRecord>();
  m->message_id = opened->message_id;
  m->direction = "in";
  m->sender = AddressOf(opened->header.sender());
  for (const v1::Party& r : opened->header.recipients()) m->recipients += (m->recipients.empty() ? "" : ",") + AddressOf(r);
  m->created_at = opened->header.created_at();
  m->stored_at = now;
  m->content_type = opened->header.content_type();
  m->envelope.assign(envelope.begin(), envelope.end());
  m->content.assign(content.begin(), content.end());
  sodium_memzero(content.data(), content.size());
  m->content_key = std::move(opened->content_key);
  const std::string text(m->content.begin(), m->content.end());
  if (m->content_type.rfind("text/", 0) == 0 && IsUtf8(text)) m->body = text;
  FileWorkflowMessage(*m);
  auto added = std::make_shared<bool>(false);
  const std::string audit = ShortId(id) + " from " + m->sender + " via " + from;
  if (m->content_type == kReceiptContentType) {
    // A receipt for a message this node sent: the envelope's sender signed it.
    auto sender = p_.trust.VerifyMember(*cert, now);
    auto receipt = sender ? CheckReceipt(std::string(m->content.begin(), m->content.end()), *sender, now)
                          : Result<v1::Receipt>(MakeError(sender.error().message));
    if (!receipt) return refuse(receipt.error().message);
    if (receipt->kind() == kConditionsAccepted) {
      // Only a recipient of a notice accepts its conditions (not a relay that saw its id).
      for (const std::string& id : receipt->message_ids()) {
        auto notice = p_.archive->NoticeOfMessage(crypto::ToBytes(id));
        const std::vector<std::string> to = notice && *notice ? SplitAddresses((*notice)->recipients)
                                                                : std::vector<std::string>{};
        if (!notice || !*notice || (*notice)->direction != "out" ||
            std::find(to.begin(), to.end(), m->sender) == to.end()) {
          return refuse("an acceptance of conditions for something it did not receive");
        }
      }
    }
    // A relayed receipt is about the recipient it carries for; the others, about their signer.
    const std::string party = receipt->kind() == "relayed" ? AddressOf(receipt->about()) : m->sender;
    auto checked = std::make_shared<v1::Receipt>(std::move(receipt).value());
    Defer(
        [this, m, added, checked, party, now, me]() -> archive::ArchiveStatus {
          auto r = p_.archive->AddMessage(*m);
          if (!r) return r.error();
          *added = *r;
          if (!*added) return {};
          auto evidence = p_.archive->AddEvidence(m->content);
          if (!evidence) return evidence.error();
          for (const std::string& id : checked->message_ids()) {
            if (auto st = p_.archive->AddReceipt({crypto::ToBytes(id), party, checked->kind(), {}, now, *evidence}); !st) {
              return st;
            }
          }
          return p_.archive->Audit(now, me, "receipt",
                                   std::to_string(checked->message_ids_size()) + " " + checked->kind() + " (" +
                                       ShortId(checked->message_ids(0)) + "...) by " + m->sender +
                                       (checked->kind() == "relayed" ? " for " + party : ""));
        },
        [this, added, back, id_text, me, checked, m] {
          if (*added) {
            ++counters_.receipts_in;
            if (checked->kind() == "delivered") counters_.delivered_receipted += checked->message_ids_size();
            for (const std::string& id : checked->message_ids()) PingStep(id, checked->kind(), m->sender);
          } else {
            ++counters_.duplicates;
          }
          Reply(back, {std::string(kTag), std::string(kCustody), id_text, me});
        });
    return;
  }
  // The receipt goes back to the sender in the same transaction as the message it receipts.
  const v1::Party sender_party = opened->header.sender();
  const v1::Party reader_party = *reader;
  auto received = std::make_shared<std::vector<std::pair<WantedFile, ReceivedFile>>>();
  for (std::size_t i = 0; i < wanted.size(); ++i) received->emplace_back(wanted[i], (*files)[i]);
  Defer(
      [this, m, added, audit, now, me, sender_party, reader_party, received]() -> archive::ArchiveStatus {
        auto r = p_.archive->AddMessage(*m);
        if (!r) return r.error();
        *added = *r;
        if (!*added) return {};
        for (const auto& [w, f] : *received) {
          auto path = files_->ReadyPath(w);
          if (!path) return archive::ArchiveError{archive::ArchiveCode::kMissing, "attachment file vanished"};
          archive::AttachmentRecord rec{w.content_hash, w.size, f.key.name(), f.key.media_type(), m->message_id,
                                        now, w.stream_hash, w.stream_size};
          if (auto st = p_.archive->AdoptAttachment(*path, *w.key, rec); !st) return st.error();
        }
        if (IsWorkflowContent(m->content_type)) {
          std::vector<v1::AttachmentView> views;
          for (const auto& [w, f] : *received) views.push_back(AttachmentViewOf(f.key.name(), w.size, w.content_hash));
          if (auto st = RecordWorkflow(*p_.archive, *m, MyAddresses(), views); !st) return st;
        }
        if (auto st = p_.archive->Audit(now, me, "receive", audit + (received->empty() ? "" : " with " +
                                        std::to_string(received->size()) + " attachments")); !st) return st;
        QueueReceipt("delivered", reader_party, &sender_party, nullptr, m->message_id);
        return {};
      },
      [this, m, added, back, id_text, me] {
        if (*added) {
          ++counters_.received;
          log_.Debug("received " + ShortId(m->message_id) + " from " + m->sender);
        } else {
          ++counters_.duplicates;
        }
        // Custody only now: the message is committed.
        Reply(back, {std::string(kTag), std::string(kCustody), id_text, me});
      });
}

void Node::Relay(const std::string& from, const ReplyTo& back, const std::string& recipient, const std::string& envelope) {
  auto peeked = Peek(envelope);
  if (!peeked) return;
  const Bytes& id = peeked->id;
  const v1::EnvelopeHeader* header = &peeked->header;
  const std::string id_text(id.begin(), id.end());
  const std::string refusing = "refused to relay " + ShortId(id) + " from " + from + " to " + recipient;
  auto refuse = [&](const std::string& why) { Refuse(back, id, recipient, refusing, why); };
  auto party = PartyOfAddress(recipient);
  if (!party) return refuse("not a member address");
  bool listed = false;
  for (const v1::Party& r : header->recipients()) listed |= AddressOf(r) == recipient;
  if (!listed) return refuse("the envelope is not addressed to " + recipient);
  // A relay serves the members that name it, nobody else.
  const std::int64_t now = p_.now();
  auto cert = p_.trust.FindMember(*party, now);
  if (!cert) return refuse("recipient: " + cert.error().message);
  bool names_us = false;
  for (const std::string& r : cert->via_relays()) {
    for (const v1::Party& mine : p_.parties) names_us |= r == mine.member_id() && mine.network_id() == party->network_id();
  }
  if (!names_us) return refuse("this node is not a relay of " + recipient);
  const v1::Signed* sender_cert = p_.trust.SignedCertificateOf(header->sender());
  if (sender_cert == nullptr) {
    ++counters_.deferred;
    return;
  }
  auto inspected = crypto::Inspect(crypto::AsBytes(envelope), *sender_cert, p_.trust, now);
  if (!inspected) {
    if (inspected.error().code == crypto::OpenCode::kUnknownSender) {
      ++counters_.deferred;
      return;
    }
    return refuse(std::string(crypto::OpenCodeName(inspected.error().code)));
  }
  std::vector<WantedFile> wanted;
  for (const v1::FileRef& f : inspected->header.files()) {
    WantedFile& w = wanted.emplace_back();
    w.message_id = id;
    w.stream_hash = crypto::ToBytes(f.stream_hash());
    w.stream_size = f.stream_size();
  }
  if (!HaveFiles(wanted, from, back, "relay " + recipient,
                 [this, from, back, recipient, envelope] { Relay(from, back, recipient, envelope); },
                 [this, back, id, recipient, refusing](const std::string& why) {
                   Refuse(back, id, recipient, refusing, why);
                 })) {
    return;
  }
  auto entry = std::make_shared<archive::OutboxEntry>(archive::OutboxEntry{
      0, id, recipient, Bytes(envelope.begin(), envelope.end()), now, 0, inspected->header.expires_at()});
  auto queued = std::make_shared<bool>(false);
  const std::string audit = ShortId(id) + " from " + AddressOf(inspected->header.sender()) + " for " + recipient;
  // The relayed evidence is signed as this node's member of the recipient's network.
  v1::Party signer = p_.parties.front();
  for (const v1::Party& mine : p_.parties) {
    if (mine.network_id() == party->network_id()) signer = mine;
  }
  const v1::Party sender_party = inspected->header.sender(), about = *party;
  const bool is_receipt = inspected->header.content_type() == kReceiptContentType;
  Defer(
      [this, entry, queued, audit, now, signer, sender_party, about, is_receipt]() -> archive::ArchiveStatus {
        auto r = p_.archive->EnqueueOnce(*entry);
        if (!r) return r.error();
        *queued = *r;
        if (!*queued) return {};
        // A receipt gets no receipt (§10.4), not even a relayed one.
        if (!is_receipt) QueueReceipt("relayed", signer, &sender_party, &about, entry->message_id);
        return p_.archive->Audit(now, AddressOf(signer), "relay", audit);
      },
      [this, queued, back, id_text, recipient] {
        if (*queued) {
          ++counters_.relayed;
          ScheduleOutbox(std::chrono::milliseconds(0));
        } else {
          ++counters_.duplicates;
        }
        Reply(back, {std::string(kTag), std::string(kCustody), id_text, recipient});
      });
}

// ---- sending ------------------------------------------------------------------------------

std::future<Result<Bytes>> Node::Send(std::vector<v1::Party> to, std::string content_type, std::string content,
                                      std::int64_t expires_at, std::vector<std::string> files) {
  auto done = std::make_shared<std::promise<Result<Bytes>>>();
  auto fut = done->get_future();
  // The slow part, on the caller's thread: the blob directory is only read here.
  auto prepared = std::make_shared<std::vector<OutgoingFile>>();
  for (const std::string& path : files) {
    auto f = PrepareFile(path, p_.archive->blob_dir(), "application/octet-stream", p_.settings.max_attachment_bytes);
    if (!f) {
      for (const OutgoingFile& o : *prepared) ::unlink(o.stream_path.c_str());
      done->set_value(f.error());
      return fut;
    }
    prepared->push_back(std::move(f).value());
  }
  boost::asio::post(io_, [this, done, to = std::move(to), content_type = std::move(content_type),
                          content = std::move(content), expires_at, prepared] {
    Queue({std::move(to), content_type, content, expires_at, std::move(*prepared), std::nullopt},
          [done](Result<Bytes> id) { done->set_value(std::move(id)); });
  });
  return fut;
}

void Node::Queue(Outgoing message, std::function<void(Result<Bytes>)> done, Bytes* sealed_id) {
  const std::int64_t now = p_.now();
  for (OutgoingFile& f : message.files) {
    if (auto st = ReuseStored(*p_.archive, f); !st) {
      for (const OutgoingFile& g : message.files) {
        if (!g.stream_path.empty()) ::unlink(g.stream_path.c_str());
      }
      done(MakeError("reading the archive failed: " + st.error().message));
      return;
    }
  }
  auto sealed = SealMessage(p_.identity, p_.parties, p_.trust, message, now);
  if (!sealed) {
    for (const OutgoingFile& f : message.files) {
      if (!f.stream_path.empty()) ::unlink(f.stream_path.c_str());  // nothing will adopt it
    }
    done(sealed.error());
    return;
  }
  FileWorkflowMessage(sealed->record);
  if (sealed_id != nullptr) *sealed_id = sealed->record.message_id;
  auto stored = std::make_shared<SealedMessage>(std::move(sealed).value());
  // Committed, with its outbox entries, before a byte leaves; sends that arrive together
  // share the transaction.
  Defer(
      [this, stored, now]() -> archive::ArchiveStatus {
        if (auto st = StoreSealed(*p_.archive, *stored, now); !st) return st;
        if (IsWorkflowContent(stored->record.content_type)) {
          std::vector<v1::AttachmentView> views;
          for (const OutgoingFile& f : stored->files) {
            views.push_back(AttachmentViewOf(f.record.name, f.record.size, f.record.content_hash));
          }
          if (auto st = RecordWorkflow(*p_.archive, stored->record, MyAddresses(), views); !st) return st;
        }
        if (auto from = PartyOfAddress(stored->record.sender)) {
          QueueReceipt("accepted", *from, nullptr, nullptr, stored->record.message_id);
        }
        return {};
      },
      [this, stored, done] {
        done(stored->record.message_id);
        ScheduleOutbox(std::chrono::milliseconds(0));
      },
      [stored, done](const std::string& why) {
        for (const OutgoingFile& f : stored->files) {
          if (!f.stream_path.empty()) ::unlink(f.stream_path.c_str());  // if not adopted yet
        }
        done(MakeError("archiving the message failed: " + why));
      });
  ScheduleFlush();
}

void Node::QueueReceipt(const std::string& kind, const v1::Party& signer, const v1::Party* to, const v1::Party* about,
                        const Bytes& message_id) {
  receipts_due_[{kind, AddressOf(signer), to ? AddressOf(*to) : "", about ? AddressOf(*about) : ""}].push_back(
      message_id);
}

archive::ArchiveStatus Node::WriteReceipts(std::int64_t now) {
  for (const auto& [key, ids] : receipts_due_) {
    const auto& [kind, signer_address, to_address, about_address] = key;
    const auto signer = PartyOfAddress(signer_address), to = PartyOfAddress(to_address),
               about = PartyOfAddress(about_address);
    if (!signer) continue;
    for (std::size_t from = 0; from < ids.size(); from += kMaxReceiptIds) {
      const std::vector<Bytes> part(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                    ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), from + kMaxReceiptIds)));
      const std::string signed_receipt = MakeReceipt(p_.identity, *signer, kind, part, now, about ? &*about : nullptr);
      if (!to || kind == "read" || kind == kConditionsAccepted) {
        // Kept by this node: its own evidence (accepted, not-delivered), and what it said it
        // read or accepted.
        auto evidence = p_.archive->AddEvidence(crypto::AsBytes(signed_receipt));
        if (!evidence) return evidence.error();
        const std::string party = about ? about_address : signer_address;
        for (const Bytes& id : part) {
          if (auto st = p_.archive->AddReceipt({id, party, kind, {}, now, *evidence}); !st) return st;
        }
        if (!to) continue;
      }
      auto sealed = SealMessage(p_.identity, {*signer}, p_.trust,
                                {{*to}, std::string(kReceiptContentType), signed_receipt, 0, {}, std::nullopt}, now);
      if (!sealed) {
        // The addressee is no longer a member: what was received stays; no receipt can go.
        log_.Warn("no " + kind + " receipt for " + std::to_string(part.size()) + " messages to " + to_address + ": " +
                  sealed.error().message);
        continue;
      }
      if (auto st = StoreSealed(*p_.archive, *sealed, now); !st) return st;
      receipts_sealed_ = true;
    }
  }
  return {};
}

void Node::CheckUndelivered() {
  const std::int64_t now = p_.now();
  const std::int64_t until = now - p_.settings.not_delivered_after.count();
  auto mark = p_.archive->GetMeta("not_delivered_checked_until");
  if (!mark) {
    log_.Error("reading the archive failed: " + mark.error().message);
    return;
  }
  std::int64_t after = 0;
  for (std::uint8_t b : *mark) after = (after << 8) | b;
  if (until <= after) return;
  std::int64_t recorded = 0;
  auto st = p_.archive->Batch([&]() -> archive::ArchiveStatus {
    auto owed = p_.archive->Unreceipted(after, until);
    if (!owed) return owed.error();
    for (const auto& [id, recipient] : *owed) {
      auto about = PartyOfAddress(recipient);
      if (!about) continue;
      // Signed as this node's member of the recipient's network.
      v1::Party signer = p_.parties.front();
      for (const v1::Party& mine : p_.parties) {
        if (mine.network_id() == about->network_id()) signer = mine;
      }
      QueueReceipt("not-delivered", signer, nullptr, &*about, id);
      if (auto a = p_.archive->Audit(now, AddressOf(signer), "not-delivered", ShortId(id) + " to " + recipient); !a) {
        return a;
      }
      ++recorded;
    }
    if (auto w = WriteReceipts(now); !w) return w;
    const std::string be = Be64(static_cast<std::uint64_t>(until));
    return p_.archive->PutMeta("not_delivered_checked_until", crypto::AsBytes(be));
  });
  receipts_due_.clear();
  if (!st) {
    log_.Error("recording not-delivered evidence failed: " + st.error().message);
    return;
  }
  if (recorded > 0) {
    log_.Warn(std::to_string(recorded) + " message deliveries had no delivered receipt after " +
              std::to_string(p_.settings.not_delivered_after.count()) + " s: not-delivered evidence recorded");
  }
}

void Node::ScheduleFlush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  boost::asio::post(io_, [this] {
    flush_posted_ = false;
    Flush();
  });
}

void Node::OnDelivered(std::function<void(const std::string&, const std::string&)> fn) {
  boost::asio::post(io_, [this, fn = std::move(fn)] { on_delivered_ = fn; });
}

std::int64_t Node::Backoff(std::int64_t attempts) {
  const auto& s = p_.settings;
  double ms = static_cast<double>(s.retry_initial.count()) * std::pow(s.retry_multiplier, static_cast<double>(attempts));
  ms = std::min(ms, static_cast<double>(s.retry_max.count()));
  std::uniform_real_distribution<double> jitter(1.0 - s.retry_jitter, 1.0);
  ms *= jitter(rng_);
  // The outbox counts whole seconds and `now` is rounded down: one more second makes sure at
  // least `ms` pass before the retry.
  return 1 + std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(ms / 1000.0)));
}

void Node::ScheduleOutbox(std::chrono::milliseconds after) {
  const auto due = std::chrono::steady_clock::now() + after;
  if (outbox_scheduled_ && outbox_due_ <= due) return;
  outbox_scheduled_ = true;
  outbox_due_ = due;
  outbox_timer_.expires_at(due);
  outbox_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    outbox_scheduled_ = false;
    PumpOutbox();
  });
}

void Node::PumpOutbox() {
  if (stopping_) return;
  const std::int64_t now = p_.now();
  // Retries first: they already count against their hop's window, and new entries waiting
  // behind a full window must not hide them (the window would never free). New entries are
  // read further ahead, so that a full window of one hop does not hold up the others.
  auto due = p_.archive->DueOutboxOf(now, kOutboxBatch, true);
  auto first_tries = p_.archive->DueOutboxOf(now, 4 * kOutboxBatch, false);
  if (!due || !first_tries) {
    log_.Error("reading the outbox failed: " + (due ? first_tries.error().message : due.error().message));
    ScheduleOutbox(std::chrono::seconds(1));
    return;
  }
  due->insert(due->end(), std::make_move_iterator(first_tries->begin()), std::make_move_iterator(first_tries->end()));
  std::vector<std::pair<std::int64_t, std::int64_t>> attempts;  // outbox id, next attempt
  std::vector<const archive::OutboxEntry*> expired;
  bool sent_any = false;
  for (const archive::OutboxEntry& e : *due) {
    const std::pair<std::string, std::string> key{std::string(e.message_id.begin(), e.message_id.end()), e.recipient};
    if (e.expires_at != 0 && now >= e.expires_at) {
      if (auto it = in_flight_.find(key); it != in_flight_.end()) {
        --in_flight_by_hop_[it->second.hop];
        in_flight_.erase(it);
      }
      expired.push_back(&e);
      continue;
    }
    std::string via;
    auto path = RouteTo(e.recipient, &via);
    if (!path) {
      attempts.emplace_back(e.id, now + Backoff(e.attempts));  // no route yet: after the backoff, or when it links
      continue;
    }
    const std::string hop = via.empty() ? e.recipient : via;
    if (settling_.count(e.id) != 0) continue;  // answered already; its removal commits next
    if (in_flight_.count(key) == 0 && in_flight_by_hop_[hop] >= kWindow) {
      continue;  // left due: custody that frees the window wakes the next pass
    }
    attempts.emplace_back(e.id, now + Backoff(e.attempts));
    const std::string env(e.envelope.begin(), e.envelope.end());
    if (via.empty()) {
      SendOn(*path, {std::string(kTag), std::string(kDeliver), env});
    } else {
      SendOn(*path, {std::string(kTag), std::string(kForward), e.recipient, env});
    }
    // Looked up after the send: handling it may have read frames that settled entries.
    if (auto it = in_flight_.find(key); it != in_flight_.end()) --in_flight_by_hop_[it->second.hop];
    in_flight_[key] = InFlight{e.id, hop};
    ++in_flight_by_hop_[hop];
    ++counters_.sent;
    sent_any = true;
  }
  auto st = p_.archive->Batch([&]() -> archive::ArchiveStatus {
    for (const auto& [id, next] : attempts) {
      if (auto r = p_.archive->RecordAttempt(id, next); !r) return r;
    }
    for (const archive::OutboxEntry* e : expired) {
      if (auto r = p_.archive->RemoveFromOutbox(e->id); !r) return r.error();
      if (auto r = p_.archive->Audit(now, p_.name, "expire", ShortId(e->message_id) + " to " + e->recipient); !r) return r;
    }
    return {};
  });
  if (!st) log_.Error("recording delivery attempts failed: " + st.error().message);
  counters_.expired += static_cast<std::int64_t>(expired.size());
  // Next pass: at once if a full read went out, else soon (custody and new sends also wake it).
  ScheduleOutbox(sent_any && due->size() >= static_cast<std::size_t>(kOutboxBatch) ? std::chrono::milliseconds(0)
                                                                                  : std::chrono::milliseconds(500));
}

Node::Link* Node::LinkTo(const std::string& peer) {
  if (auto it = links_.find(peer); it != links_.end()) return it->second.get();
  for (const v1::Party& mine : p_.parties) {
    if (AddressOf(mine) == peer) return nullptr;  // never a link to itself (a relay of its own recipient)
  }
  auto party = PartyOfAddress(peer);
  if (!party) return nullptr;
  auto cert = p_.trust.FindMember(*party, p_.now());
  if (!cert) {
    log_.Debug("no link to " + peer + ": " + cert.error().message);
    return nullptr;
  }
  std::vector<std::string> endpoints;
  if (auto it = p_.settings.peer_endpoints.find(peer); it != p_.settings.peer_endpoints.end()) {
    endpoints = it->second;
  } else {
    endpoints.assign(cert->endpoints().begin(), cert->endpoints().end());
  }
  if (endpoints.empty()) return nullptr;  // outbound only: reached through relays (not yet)
  auto link = std::make_unique<Link>(
      Link{zmq::socket_t(zmq_, zmq::socket_type::dealer), nullptr, endpoints, cert->keys().transport_curve()});
  const auto& mine = p_.identity.public_identity().transport;
  link->socket.set(zmq::sockopt::curve_serverkey, cert->keys().transport_curve());
  link->socket.set(zmq::sockopt::curve_publickey, std::string(mine.begin(), mine.end()));
  link->socket.set(zmq::sockopt::curve_secretkey,
                   std::string(reinterpret_cast<const char*>(p_.identity.transport_secret().data()),
                               p_.identity.transport_secret().size()));
  link->socket.set(zmq::sockopt::linger, 0);
  link->socket.set(zmq::sockopt::sndhwm, kQueueLimit);
  link->socket.set(zmq::sockopt::rcvhwm, kQueueLimit);
  link->socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(p_.settings.max_envelope_bytes + (1 << 20)));
  for (const std::string& e : endpoints) {
    try {
      link->socket.connect(e);
    } catch (const zmq::error_t& err) {
      log_.Warn("cannot dial " + peer + " at " + e + ": " + err.what());
    }
  }
  link->reader = std::make_unique<ZmqReader>(io_, link->socket, [this, peer](auto& f) { OnLink(peer, f); },
                                             [this] { Flush(); });
  log_.Debug("dialing " + peer);
  Link* made = links_.emplace(peer, std::move(link)).first->second.get();
  // The first frame on a link: what rosters this node holds (and, for a relay, that it is here).
  SendOn(Path{&made->socket, "", made->reader.get()}, {std::string(kTag), std::string(kRosters), RosterVersionsFrame(false)});
  return made;
}

std::optional<Node::Path> Node::RouteTo(const std::string& member, std::string* via) {
  via->clear();
  if (auto it = routes_.find(member); it != routes_.end() && router_) {
    return Path{router_.get(), it->second, router_reader_.get()};
  }
  if (Link* link = LinkTo(member)) return Path{&link->socket, "", link->reader.get()};
  // Outbound only: through a relay its certificate names, in its network.
  auto party = PartyOfAddress(member);
  if (!party) return std::nullopt;
  auto cert = p_.trust.FindMember(*party, p_.now());
  if (!cert) return std::nullopt;
  for (const std::string& relay_id : cert->via_relays()) {
    const std::string relay = relay_id + "@" + party->network_id();
    bool self = relay == member;
    for (const v1::Party& mine : p_.parties) self |= AddressOf(mine) == relay;
    if (self) continue;  // this node is that relay: it waits for the member to link in
    if (auto it = routes_.find(relay); it != routes_.end() && router_) {
      *via = relay;
      return Path{router_.get(), it->second, router_reader_.get()};
    }
    if (Link* link = LinkTo(relay)) {
      *via = relay;
      return Path{&link->socket, "", link->reader.get()};
    }
  }
  return std::nullopt;
}

void Node::OnCustody(const std::string& peer, const std::string& message_id, const std::string& recipient, bool refused,
                     const std::string& why) {
  std::int64_t outbox_id = 0;
  auto it = in_flight_.find({message_id, recipient});
  if (it != in_flight_.end()) {
    if (it->second.hop != peer) {
      // Only the hop it went to can take custody of it (or refuse it).
      ++counters_.dropped_malformed;
      return;
    }
    outbox_id = it->second.outbox_id;
    const bool window_was_full = --in_flight_by_hop_[it->second.hop] == kWindow - 1;
    in_flight_.erase(it);
    if (window_was_full) ScheduleOutbox(std::chrono::milliseconds(0));
  } else {
    // Sent before this process started (or settled meanwhile): the recipient itself may still
    // answer for what the outbox holds; a relay's answer is not recognised without the record
    // of where it was sent.
    if (peer != recipient) return;
    auto found = p_.archive->FindInOutbox(crypto::AsBytes(message_id), recipient);
    if (!found || !*found) return;
    outbox_id = **found;
  }
  // The answers to retries that crossed the first answer: that entry is being settled already.
  if (!settling_.insert(outbox_id).second) return;
  const std::int64_t now = p_.now();
  const std::string hop = peer == recipient ? recipient : recipient + " via " + peer;
  const std::string detail = ShortId(message_id) + " to " + hop + (refused ? ": " + why.substr(0, 200) : "");
  auto settled = std::make_shared<bool>(false);
  Defer(
      [this, outbox_id, now, refused, detail, settled]() -> archive::ArchiveStatus {
        auto removed = p_.archive->RemoveFromOutbox(outbox_id);
        if (!removed) return removed.error();
        *settled = *removed;
        if (!*removed) return {};  // settled by an earlier answer: counted and audited then
        return p_.archive->Audit(now, p_.name, refused ? "refused" : "delivered", detail);
      },
      [this, refused, hop, message_id, recipient, why, peer, outbox_id, settled] {
        settling_.erase(outbox_id);
        if (!*settled) return;
        if (refused) {
          ++counters_.refused_by_peer;
          log_.Warn(hop + " refused " + ShortId(message_id) + ": " + why.substr(0, 200));
        } else {
          ++counters_.custody;
          if (on_delivered_) on_delivered_(message_id, recipient);
          PingStep(message_id, "custody", peer);
        }
      });
}

// ---- rosters ------------------------------------------------------------------------------

std::string Node::RosterVersionsFrame(bool reply) const {
  v1::RosterVersions v;
  v.set_reply(reply);
  for (const auto& [id, net] : p_.trust.networks()) {
    auto* n = v.add_networks();
    n->set_network_id(id);
    n->set_version(net.version());
  }
  return v.SerializeAsString();
}

void Node::Hello() {
  AnnounceRosters();
  hello_timer_.expires_after(kHelloEvery);
  hello_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Hello();
  });
}

void Node::AnnounceRosters() {
  const std::string frame = RosterVersionsFrame(false);
  for (auto& [peer, link] : links_) SendOn(Path{&link->socket, "", link->reader.get()}, {std::string(kTag), std::string(kRosters), frame});
  if (!router_) return;
  for (const auto& [peer, rid] : routes_) {
    SendOn(Path{router_.get(), rid, router_reader_.get()}, {std::string(kTag), std::string(kRosters), frame});
  }
}

void Node::OnRosterVersions(const std::string& peer, const Path& back, const std::string& payload) {
  v1::RosterVersions theirs;
  if (!theirs.ParseFromString(payload) || static_cast<std::size_t>(theirs.networks_size()) > crypto::kMaxTrustedNetworks) {
    ++counters_.dropped_malformed;
    return;
  }
  bool they_know_more = false;
  for (const v1::NetworkVersion& n : theirs.networks()) {
    const crypto::TrustedNetworkView* mine = p_.trust.network(n.network_id());
    if (mine == nullptr) continue;
    if (mine->roster && mine->version() > n.version()) {
      SendOn(back, {std::string(kTag), std::string(kRoster), mine->roster->signed_roster.SerializeAsString()});
      log_.Debug("sent roster " + n.network_id() + " v" + std::to_string(mine->version()) + " to " + peer);
    } else if (n.version() > mine->version()) {
      they_know_more = true;
    }
  }
  if (they_know_more && !theirs.reply()) SendOn(back, {std::string(kTag), std::string(kRosters), RosterVersionsFrame(true)});
}

void Node::OnRoster(const std::string& peer, const std::string& payload) {
  v1::Signed roster;
  if (payload.size() > crypto::kMaxRosterSize + 1024 || !roster.ParseFromString(payload)) {
    ++counters_.dropped_malformed;
    return;
  }
  const std::int64_t now = p_.now();
  std::map<std::string, std::uint64_t> before;
  for (const auto& [id, net] : p_.trust.networks()) before[id] = net.version();
  auto accepted = p_.trust.AcceptRoster(roster, now);
  if (!accepted) {
    log_.Debug("roster from " + peer + " not taken: " + accepted.error().message);
    return;
  }
  const crypto::TrustedNetworkView* net = p_.trust.network(*accepted);
  if (net == nullptr || before[*accepted] == net->version()) return;  // nothing new
  ++counters_.rosters_accepted;
  log_.Info("roster " + *accepted + " v" + std::to_string(net->version()) + " from " + peer);
  auto st = p_.archive->Batch([&]() -> archive::ArchiveStatus {
    if (auto r = p_.archive->RecordRoster(*accepted, net->version(), crypto::AsBytes(payload), now); !r) return r;
    return p_.archive->Audit(now, AddressOf(p_.parties.front()), "roster",
                             *accepted + " version " + std::to_string(net->version()) + " from " + peer);
  });
  if (!st) log_.Error("recording the roster failed: " + st.error().message);
  TrustChanged();
}

void Node::KeepLinks() {
  // Links to this node's relays stay open: they are how an outbound-only node is reached.
  for (const std::string& relay : p_.settings.relays) LinkTo(relay);
  // And to the coordinators of its networks: rosters spread over links (§10.5), and a node
  // that holds an old roster refuses the members admitted since, so it could not learn of
  // them from the newcomers themselves.
  for (const v1::Party& mine : p_.parties) {
    const crypto::TrustedNetworkView* net = p_.trust.network(mine.network_id());
    if (!net || !net->roster) continue;
    for (const auto& [id, cert] : net->roster->members) {
      if (cert.role() == v1::ROLE_COORDINATOR) LinkTo(id + "@" + mine.network_id());
    }
  }
}

void Node::TrustChanged() {
  current_.clear();
  CloseUntrustedLinks();
  for (auto it = routes_.begin(); it != routes_.end();) {
    it = IsCurrentMember(it->first) ? std::next(it) : routes_.erase(it);
  }
  if (p_.on_trust_changed) {
    if (auto st = p_.on_trust_changed(p_.trust); !st) log_.Error("saving the trust store failed: " + st.error().message);
  }
  AnnounceRosters();
}

std::optional<v1::Certificate> Node::CurrentCertificate(const std::string& member) const {
  auto party = PartyOfAddress(member);
  if (!party) return std::nullopt;
  auto cert = p_.trust.FindMember(*party, p_.now());
  if (!cert) return std::nullopt;
  return std::move(cert).value();
}

bool Node::IsCurrentMember(const std::string& member) {
  if (auto it = current_.find(member); it != current_.end()) return it->second;
  auto party = PartyOfAddress(member);
  const bool ok = party && p_.trust.FindMember(*party, p_.now()).ok();
  current_[member] = ok;
  return ok;
}

// ---- trust --------------------------------------------------------------------------------

void Node::ReplaceTrust(crypto::TrustStore trust) {
  auto shared = std::make_shared<crypto::TrustStore>(std::move(trust));
  boost::asio::post(io_, [this, shared] {
    p_.trust = std::move(*shared);
    TrustChanged();
  });
}

void Node::CloseUntrustedLinks() {
  // Not now but next on the io_context: the roster that changed the trust may have come in on
  // one of the sockets closed here, whose reader is still on the stack.
  // ZeroMQ cannot close one peer of a ROUTER: when a member linked in is no longer current,
  // the listener is closed and opened again on the same endpoints. Every link to it drops;
  // the others come back at once (their DEALERs reconnect, ZAP admits them again), the
  // revoked member's reconnection is refused, and whatever was in flight is retried.
  // Every CURVE key let in since the listener opened must still be that member's: a revoked
  // member, or one whose keys were rotated (its old key may be in other hands), is cut off.
  for (const auto& [key, member] : admitted_keys_) {
    auto cert = CurrentCertificate(member);
    reopen_router_ |= !cert || cert->keys().transport_curve() != key;
  }
  if (closing_posted_) return;
  closing_posted_ = true;
  boost::asio::post(io_, [this] {
    closing_posted_ = false;
    if (!stopping_) CloseUntrustedLinksNow();
  });
}

void Node::CloseUntrustedLinksNow() {
  if (reopen_router_ && router_) ReopenRouter();
  reopen_router_ = false;
  for (auto it = links_.begin(); it != links_.end();) {
    const std::optional<v1::Certificate> cert = CurrentCertificate(it->first);
    const bool configured = p_.settings.peer_endpoints.count(it->first) != 0;
    const bool same = cert && cert->keys().transport_curve() == it->second->server_key &&
                      (configured || std::equal(cert->endpoints().begin(), cert->endpoints().end(),
                                                it->second->endpoints.begin(), it->second->endpoints.end()));
    if (same) {
      ++it;
      continue;
    }
    log_.Info("closing the link to " + it->first +
              (cert ? ": its certificate changed (keys or endpoints)" : ": no longer a current member"));
    it = links_.erase(it);
  }
  // Links that stay open come back at once, to the new keys and endpoints.
  KeepLinks();
}

void Node::ReopenRouter() {
  const std::vector<std::string> endpoints = bound_;  // the ports ZeroMQ chose, if any was *
  router_reader_.reset();
  if (router_) router_->close();  // none when this is a retry
  router_.reset();
  routes_.clear();
  admitted_keys_.clear();
  // The old listener is closed by ZeroMQ's I/O thread: its port may take a moment to free.
  Status<> st = MakeError("not tried");
  for (int attempt = 0; attempt < 50; ++attempt) {
    st = OpenRouter(endpoints);
    if (st) break;
    router_reader_.reset();
    if (router_) router_->close();
    router_.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!st) {
    log_.Error("reopening the listener after a revocation failed (trying again in 5 s): " + st.error().message);
    bound_ = endpoints;
    reopen_timer_.expires_after(std::chrono::seconds(5));
    reopen_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_ && !router_) ReopenRouter();
    });
    return;
  }
  log_.Info("reopened the listener: links of revoked members are closed");
}

void Node::StatusLoop() {
  // Relay copies of attachments go once their messages have left the outbox.
  if (p_.now() >= sweep_at_) {
    sweep_at_ = p_.now() + p_.settings.file_sweep_every.count();
    files_->Sweep(
        [this](const Bytes& id) {
          auto held = p_.archive->InOutbox(id);
          return !held || *held;  // when in doubt, keep it
        },
        2 * p_.settings.file_sweep_every.count());
    CheckUndelivered();
  }
  if (p_.now() >= expiry_check_at_) {
    expiry_check_at_ = p_.now() + 86400;
    CheckOwnExpiry();
  }
  WriteStatus(true);  // when there is a status path
  status_timer_.expires_after(std::chrono::seconds(2));
  status_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) StatusLoop();
  });
}

void Node::CheckOwnExpiry() {
  constexpr std::int64_t kWarnBefore = 30 * 86400;
  for (const v1::Party& mine : p_.parties) {
    const crypto::TrustedNetworkView* net = p_.trust.network(mine.network_id());
    if (!net || !net->roster) continue;
    auto it = net->roster->members.find(mine.member_id());
    if (it == net->roster->members.end()) continue;
    const std::int64_t left = it->second.not_after() - p_.now();
    if (left >= kWarnBefore) continue;
    log_.Warn("the certificate of " + AddressOf(mine) +
              (left <= 0 ? std::string(" has expired") : " expires in " + std::to_string(left / 86400) + " days") +
              ": other members refuse it once expired; rotate its keys (docs/OPERATIONS.md)");
  }
}

void Node::WriteStatus(bool running) {
  if (p_.status_path.empty()) return;
  const v1::NodeStatus st = BuildStatus(running);
  if (auto w = WriteFileAtomic(p_.status_path, st.SerializeAsString(), 0600); !w) {
    std::int64_t held = 0;
    if (log_.Allow("status", std::chrono::seconds(60), &held)) log_.Warn("writing the status failed: " + w.error().message);
  }
}

v1::NodeStatus Node::BuildStatus(bool running) {
  v1::NodeStatus st;
  st.set_format(1);
  st.set_written_at(p_.now());
  st.set_pid(static_cast<std::int32_t>(::getpid()));
  st.set_running(running);
  for (const v1::Party& p : p_.parties) st.add_memberships(AddressOf(p));
  st.set_fingerprint(crypto::Fingerprint(p_.identity.public_identity().sign));
  if (const v1::Signed* own = p_.trust.SignedCertificateOf(p_.parties.front())) {
    v1::Certificate cert;
    if (cert.ParseFromString(own->body())) st.set_authority(cert.authority_name());
  }
  for (const std::string& e : bound_) st.add_listening(e);
  for (const auto& [id, net] : p_.trust.networks()) {
    auto* n = st.add_networks();
    n->set_network_id(id);
    n->set_version(net.version());
  }
  TakeFileCounters();
  std::map<std::string, v1::PeerStatus> peers;
  auto peer = [&](const std::string& m) -> v1::PeerStatus& {
    auto& ps = peers[m];
    ps.set_member(m);
    return ps;
  };
  for (const auto& [m, link] : links_) peer(m).set_dialled(true);
  for (const auto& [m, rid] : routes_) peer(m).set_linked_in(true);
  for (const auto& [m, at] : last_seen_) peer(m).set_last_seen(at);
  if (auto depths = p_.archive->OutboxDepths()) {
    for (const auto& [m, all, relayed] : *depths) {
      peer(m).set_outbox(all);
      peer(m).set_relayed(relayed);
    }
  }
  for (auto& [m, ps] : peers) *st.add_peers() = std::move(ps);
  const NodeCounters& c = counters_;
  const std::pair<const char*, std::int64_t> values[] = {
      {"links_admitted", c.links_admitted}, {"links_refused", c.links_refused}, {"frames_in", c.frames_in},
      {"dropped_oversize", c.dropped_oversize}, {"dropped_malformed", c.dropped_malformed},
      {"dropped_rate", c.dropped_rate}, {"dropped_untrusted", c.dropped_untrusted}, {"rejected", c.rejected},
      {"deferred", c.deferred}, {"received", c.received}, {"duplicates", c.duplicates}, {"sent", c.sent},
      {"custody", c.custody}, {"expired", c.expired}, {"refused_by_peer", c.refused_by_peer},
      {"relayed", c.relayed}, {"rosters_accepted", c.rosters_accepted}, {"receipts_in", c.receipts_in},
      {"delivered_receipted", c.delivered_receipted},
      {"files_in", c.files_in}, {"file_bytes_in", c.file_bytes_in}, {"files_resumed", c.files_resumed},
      {"files_active", c.files_active}, {"pieces_served", c.pieces_served}, {"not_delivered", c.not_delivered}};
  for (const auto& [name, value] : values) {
    auto* counter = st.add_counters();
    counter->set_name(name);
    counter->set_value(value);
  }
  return st;
}

// ---- local API ------------------------------------------------------------------------------


void Node::OnApi(const v1::ApiRequest& request, ApiServer::Reply reply) {
  v1::ApiResponse response;
  switch (request.request_case()) {
    case v1::ApiRequest::kStatus:
      *response.mutable_status() = BuildStatus(!stopping_);
      return reply(std::move(response));
    case v1::ApiRequest::kPing:
      return StartPing(request.ping(), std::move(reply));
    case v1::ApiRequest::kRead:
      return MarkRead(request.read(), std::move(reply));
    case v1::ApiRequest::kSearch:
      return reply(Answer("search", Search(request.search()), &v1::ApiResponse::mutable_search));
    case v1::ApiRequest::kDirectory:
      return reply(Answer("directory", Directory(request.directory()), &v1::ApiResponse::mutable_directory));
    default:
      if (request.request_case() >= v1::ApiRequest::kThreadOpen) return OnWorkflowApi(request, std::move(reply));
      response.set_error("unknown request");
      return reply(std::move(response));
  }
}

Result<v1::SearchResponse> Node::Search(const v1::SearchRequest& q) {
  if (q.words().empty() || q.words_size() > 16) return MakeError("give 1 to 16 words");
  // Each word is a quoted FTS term (a quote inside doubled): what people type is never taken
  // for query syntax.
  std::string query;
  for (const std::string& w : q.words()) {
    if (w.empty() || w.size() > 100 || !IsUtf8(w)) return MakeError("a word is empty, longer than 100 bytes or not UTF-8");
    std::string quoted = "\"";
    for (char c : w) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    query += (query.empty() ? "" : " ") + quoted + "\"";
  }
  const int limit = q.limit() == 0 ? 20 : static_cast<int>(std::min(q.limit(), 200u));
  auto hits = p_.archive->Search(query, limit);
  if (!hits) return MakeError(hits.error().message);
  auto total = p_.archive->CountMatches(query);
  if (!total) return MakeError(total.error().message);
  v1::SearchResponse r;
  r.set_total(*total);
  for (const archive::SearchHit& h : *hits) {
    v1::SearchHit* out = r.add_hits();
    out->set_kind(h.kind);
    out->set_thread(h.thread_uid);
    out->set_sender(h.sender);
    out->set_subject(h.subject);
    out->set_created_at(h.created_at);
    out->set_message_id(crypto::AsString(h.message_id));
  }
  return r;
}

Result<v1::DirectoryResponse> Node::Directory(const v1::DirectoryRequest& q) {
  std::optional<v1::Role> role;
  if (!q.role().empty()) {
    role = crypto::ParseRole(q.role());
    if (!role) return MakeError("unknown role '" + crypto::EscapeForDisplay(q.role()) + "'");
  }
  if (!q.network().empty() && p_.trust.network(q.network()) == nullptr) {
    return MakeError("this node trusts no network '" + crypto::EscapeForDisplay(q.network()) + "'");
  }
  const std::int64_t now = p_.now();
  // One entry per member id and signing key, with every network that lists it so.
  std::map<std::pair<std::string, std::string>, v1::DirectoryEntry> found;
  for (const auto& [network_id, net] : p_.trust.networks()) {
    if (!net.roster || (!q.network().empty() && q.network() != network_id)) continue;
    for (const auto& [member_id, cert] : net.roster->members) {
      if (!p_.trust.FindMember(crypto::PartyOf(cert), now)) continue;  // revoked, or not valid now
      if (!q.country().empty() && cert.country() != q.country()) continue;
      if (role && cert.role() != *role) continue;
      if (q.contact_24_7() && !cert.contact_24_7()) continue;
      if (!q.language().empty() &&
          std::find(cert.languages().begin(), cert.languages().end(), q.language()) == cert.languages().end()) {
        continue;
      }
      v1::DirectoryEntry& e = found[{member_id, cert.keys().sign_ed25519()}];
      e.add_networks(network_id);
      if (e.member_id().empty()) {
        e.set_member_id(member_id);
        e.set_authority(cert.authority_name());
        e.set_country(cert.country());
        e.set_role(crypto::RoleName(cert.role()));
        *e.mutable_languages() = cert.languages();
        *e.mutable_transmission_forms() = cert.transmission_forms();
        e.set_contact_24_7(cert.contact_24_7());
        e.set_fingerprint(crypto::Fingerprint(crypto::AsBytes(cert.keys().sign_ed25519())));
      }
      const std::string address = member_id + "@" + network_id;
      const bool out = links_.count(address) != 0, in = routes_.count(address) != 0;
      const std::string link = out && in ? "both ways" : out ? "dialled" : in ? "linked in" : "";
      if (!link.empty() && (e.link().empty() || e.link() == "none")) e.set_link(link);
      if (e.link().empty()) e.set_link("none");
    }
  }
  v1::DirectoryResponse r;
  for (auto& [key, e] : found) *r.add_members() = std::move(e);
  return r;
}

void Node::MarkRead(const v1::ReadRequest& read, ApiServer::Reply reply) {
  v1::ApiResponse r;
  if (read.message_ids().empty() || read.message_ids_size() > kMaxReceiptIds) {
    r.set_error("read: give 1 to " + std::to_string(kMaxReceiptIds) + " message ids");
    return reply(std::move(r));
  }
  // Checked before anything is written: each one received here, and not yet marked read.
  const std::int64_t now = p_.now();
  struct Marked {
    Bytes id;
    v1::Party reader, sender;
  };
  auto marked = std::make_shared<std::vector<Marked>>();
  for (const std::string& raw : read.message_ids()) {
    const Bytes id = crypto::ToBytes(raw);
    auto m = p_.archive->GetMessage(id);
    if (!m || !*m || (*m)->direction != "in") {
      r.set_error("read: " + (raw.size() == 32 ? ShortId(raw) : std::string("a malformed id")) +
                  " is no message this node received");
      return reply(std::move(r));
    }
    if ((*m)->content_type == service::kNoticeContentType) {
      // A notice is read by accepting its conditions (NoticeAccept), not before.
      auto notice = p_.archive->NoticeOfMessage(id);
      if (!notice || !*notice || (*notice)->accepted_at == 0) {
        r.set_error("read: " + ShortId(id) + " is a notice whose conditions are not accepted");
        return reply(std::move(r));
      }
    }
    auto receipts = p_.archive->Receipts(id);
    if (!receipts) {
      r.set_error("read: " + receipts.error().message);
      return reply(std::move(r));
    }
    const auto sender = PartyOfAddress((*m)->sender);
    v1::Party reader;
    const std::vector<std::string> recipients = SplitAddresses((*m)->recipients);
    for (const v1::Party& mine : p_.parties) {
      if (std::find(recipients.begin(), recipients.end(), AddressOf(mine)) != recipients.end()) reader = mine;
    }
    bool already = false;
    for (const auto& rec : *receipts) already |= rec.kind == "read";
    if (!sender || reader.member_id().empty() || already) continue;
    marked->push_back({id, reader, *sender});
  }
  Defer(
      [this, marked, now]() -> archive::ArchiveStatus {
        for (const Marked& m : *marked) {
          QueueReceipt("read", m.reader, &m.sender, nullptr, m.id);
          if (auto st = p_.archive->Audit(now, AddressOf(m.reader), "read", ShortId(m.id) + " from " + AddressOf(m.sender));
              !st) {
            return st;
          }
        }
        return {};
      },
      [marked, reply] {
        v1::ApiResponse ok;
        ok.mutable_read()->set_receipted(static_cast<std::uint32_t>(marked->size()));
        reply(std::move(ok));
      },
      [reply](const std::string& why) {
        v1::ApiResponse r;
        r.set_error("read: archiving failed: " + why);
        reply(std::move(r));
      });
  ScheduleFlush();
}

void Node::StartPing(const v1::PingRequest& ping, ApiServer::Reply reply) {
  auto to = ResolveParty(ping.to(), p_.trust, p_.parties);
  if (!to) {
    v1::ApiResponse r;
    r.set_error("ping: " + to.error().message);
    return reply(std::move(r));
  }
  auto wait = std::make_shared<PingWait>();
  wait->start = std::chrono::steady_clock::now();
  wait->reply = std::move(reply);
  wait->response.set_to(AddressOf(*to));
  const auto timeout = std::chrono::milliseconds(ping.timeout_ms() == 0 ? 10000 : std::min(ping.timeout_ms(), 120000u));
  Queue({{*to}, std::string(kPingContentType), "", 0, {}, std::nullopt}, [this, wait, timeout](Result<Bytes> id) {
    if (!id) {
      v1::ApiResponse r;
      r.set_error("ping: " + id.error().message);
      return wait->reply(std::move(r));
    }
    const std::string key(id->begin(), id->end());
    wait->response.set_message_id(key);
    wait->timer = std::make_unique<boost::asio::steady_timer>(io_, timeout);
    wait->timer->async_wait([this, key](const boost::system::error_code& ec) {
      if (!ec) FinishPing(key, false);
    });
    pings_[key] = wait;
    PingStep(key, "accepted", AddressOf(p_.parties.front()));
  });
}

void Node::PingStep(const std::string& message_id, const std::string& kind, const std::string& by) {
  auto it = pings_.find(message_id);
  if (it == pings_.end()) return;
  v1::PingStep* step = it->second->response.add_steps();
  step->set_kind(kind);
  step->set_by(by);
  step->set_after_ms(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - it->second->start).count());
  if (kind == "delivered" && by == it->second->response.to()) FinishPing(message_id, true);
}

void Node::FinishPing(const std::string& message_id, bool delivered) {
  auto it = pings_.find(message_id);
  if (it == pings_.end()) return;
  std::shared_ptr<PingWait> wait = it->second;
  pings_.erase(it);
  wait->timer->cancel();
  wait->response.set_delivered(delivered);
  v1::ApiResponse r;
  *r.mutable_ping() = std::move(wait->response);
  wait->reply(std::move(r));
}

void Node::TakeFileCounters() {
  if (auto n = p_.archive->CountReceipts("not-delivered")) counters_.not_delivered = *n;
  counters_.files_in = files_->files_in();
  counters_.file_bytes_in = files_->bytes_in();
  counters_.files_resumed = files_->resumed();
  counters_.files_active = files_->active();
}

// ---- attachments (§10.6) --------------------------------------------------------------------

bool Node::HaveFiles(const std::vector<WantedFile>& files, const std::string& from, const ReplyTo& back,
                     const std::string& waiter, std::function<void()> again,
                     std::function<void(const std::string&)> refuse) {
  for (const WantedFile& f : files) {
    if (f.stream_size > crypto::StreamSizeFor(p_.settings.max_attachment_bytes)) {
      refuse("an attachment is over this node's limit of " + std::to_string(p_.settings.max_attachment_bytes) +
             " bytes");
      return false;
    }
  }
  for (const WantedFile& f : files) {
    if (files_->ReadyPath(f)) continue;
    files_->Fetch(f, FileSource{from, back.routing_id}, waiter,
                  [this, again = std::move(again), refuse = std::move(refuse)](bool ok, const std::string& why) {
                    if (ok) {
                      again();
                      ScheduleFlush();  // not inside a socket's drain, which would flush it
                    } else if (why.rfind("damaged", 0) == 0 || why.rfind("missing", 0) == 0) {
                      refuse(why);
                    }
                    // Otherwise (stalled, a local failure) the sender's next try resumes it.
                  });
    return false;
  }
  return true;
}

void Node::OnPull(const std::string& peer, const ReplyTo& back, const std::string& message_id,
                  const std::string& stream_hash, const std::string& offset_frame, const std::string& length_frame) {
  const auto offset = FromBe(offset_frame, 8);
  const auto length = FromBe(length_frame, 4);
  if (!offset || !length || *length == 0 || *length > kPieceBytes || message_id.size() != 32 ||
      stream_hash.size() != 32) {
    ++counters_.dropped_malformed;
    return;
  }
  const Bytes id = crypto::ToBytes(message_id), stream = crypto::ToBytes(stream_hash);
  // Its own attachments are in the blob store; what it relays, in the transfer directory.
  std::optional<std::string> piece;
  auto stored = p_.archive->BlobOfStream(stream);
  if (stored && *stored) piece = ReadPiece(**stored, *offset, static_cast<std::uint32_t>(*length));
  for (bool relay : {true, false}) {
    if (piece) break;
    piece = ReadPiece(p_.archive->blob_dir() + "/transfer/" + FileFetcher::FileName(id, stream, relay), *offset,
                      static_cast<std::uint32_t>(*length));
  }
  if (!piece) {
    std::int64_t held = 0;
    if (log_.Allow("nofile " + peer, std::chrono::seconds(10), &held)) {
      log_.Info("no attachment " + crypto::ToHex(stream).substr(0, 16) + "... for " + peer + " at " +
                std::to_string(*offset) + (held > 0 ? " (and " + std::to_string(held) + " more)" : ""));
    }
    Reply(back, {std::string(kTag), std::string(kNoFile), message_id, stream_hash});
    return;
  }
  ++counters_.pieces_served;
  Reply(back, {std::string(kTag), std::string(kPiece), message_id, stream_hash, offset_frame, std::move(*piece)});
}

NodeCounters Node::Counters() {
  std::promise<NodeCounters> got;
  boost::asio::post(io_, [&] {
    auto depth = p_.archive->OutboxCount();
    counters_.outbox = depth ? *depth : -1;
    TakeFileCounters();
    got.set_value(counters_);
  });
  return got.get_future().get();
}

void Node::WithArchive(const std::function<void(archive::Archive&)>& fn) {
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    fn(*p_.archive);
    done.set_value();
  });
  done.get_future().get();
}

}  // namespace comity::node
