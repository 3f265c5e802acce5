// A running Comity node (what `comityd run` runs): one Boost.Asio io_context drives its
// ZeroMQ sockets, timers and signals; it owns its ZeroMQ context, its archive and its trust
// store, so a process (a test, a benchmark) can run many. Link protocol and delivery rules are
// in docs/PROTOCOL.md §10.
//
// Transport: every TCP link is ZeroMQ CURVE. A ZAP handler admits only the CURVE keys of
// current, unrevoked members of the networks this node trusts; the member becomes the link's
// ZAP user id. A node with listen endpoints binds a ROUTER; to deliver, a node dials the
// recipient (a DEALER per peer) at the endpoints its certificate lists, or those the
// configuration gives.
//
// Delivery: Send() seals the envelope and commits it, with one outbox entry per recipient and
// an audit entry, before a byte leaves. The receiver opens and archives it (duplicates are
// recognised by message id) and only then answers CUSTODY; the sender then removes that
// outbox entry. Unanswered entries are sent again with exponential backoff and jitter; an
// entry past its expiry is dropped with an audit entry. A permanent refusal (REJECT) ends the
// entry too, audited.
//
// Receipts: in the transaction that archives a message, the receiver queues a receipt signed
// with its key and sealed to the sender (an envelope like any other); the sender stores it in
// its receipts. A receipt gets no receipt.
//
// Relays: a recipient with no endpoints (outbound only) is reached through a relay its
// certificate names. The relay checks the sender's signature and membership (it cannot
// decrypt), queues the envelope in its own outbox, answers CUSTODY for that hop, and delivers
// over the link the recipient keeps open to it.
//
// Rosters: on every new link and every 5 s, and whenever its trust store changes, a node tells
// its peers the roster versions it holds; a peer holding an older one gets the newer signed
// roster. A roster that revokes a member closes that member's links and refuses its frames.
//
// Threads: Run() runs the io_context on the calling thread; every other public call is safe
// from any thread (it posts onto the node's io_context).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/trust.h"
#include "node/archive/archive.h"
#include "node/daemon/api.h"
#include "node/daemon/config.h"
#include "node/daemon/send.h"
#include "node/daemon/log.h"
#include "node/daemon/transfer.h"
#include "node/daemon/zmq_asio.h"
#include "proto/content.pb.h"
#include "proto/envelope.pb.h"

namespace comity::node {

// What a node counts; a snapshot is consistent (taken on the node's thread).
struct NodeCounters {
  std::int64_t links_admitted = 0;       // CURVE keys the ZAP handler let in
  std::int64_t links_refused = 0;        // and refused
  std::int64_t frames_in = 0;
  std::int64_t dropped_oversize = 0;     // larger than limits.max_envelope_bytes, dropped unparsed
  std::int64_t dropped_malformed = 0;    // not a Comity frame, or an envelope that does not parse
  std::int64_t dropped_rate = 0;         // over the peer's rate limit
  std::int64_t rejected = 0;             // envelopes refused for good (bad signature, not ours, expired, ...)
  std::int64_t deferred = 0;             // not accepted yet (unknown sender: the roster may follow)
  std::int64_t received = 0;             // stored in the archive
  std::int64_t duplicates = 0;           // seen before: acknowledged again, not stored twice
  std::int64_t sent = 0;                 // DELIVER frames sent (first tries and retries)
  std::int64_t custody = 0;              // outbox entries a recipient took custody of
  std::int64_t expired = 0;              // outbox entries dropped at their expiry
  std::int64_t refused_by_peer = 0;      // outbox entries the recipient rejected
  std::int64_t outbox = 0;               // entries still owed
  std::int64_t relayed = 0;              // envelopes this node took custody of for another member
  std::int64_t rosters_accepted = 0;     // newer rosters learnt from peers
  std::int64_t dropped_untrusted = 0;    // frames from a member no longer current
  std::int64_t receipts_in = 0;          // signed receipts (envelopes) for messages this node sent
  std::int64_t delivered_receipted = 0;  // message ids those receipts say were delivered
  std::int64_t files_in = 0;             // attachments received whole and checked
  std::int64_t file_bytes_in = 0;        // bytes of attachment streams received
  std::int64_t files_resumed = 0;        // transfers that went on from a partial file
  std::int64_t files_active = 0;         // transfers under way now
  std::int64_t pieces_served = 0;        // attachment pieces sent to peers
  std::int64_t not_delivered = 0;        // not-delivered evidence recorded (messages x recipients)
};

struct NodeParams {
  NodeParams(std::string name_, crypto::Identity identity_, std::vector<v1::Party> parties_, crypto::TrustStore trust_,
             std::unique_ptr<archive::Archive> archive_, DaemonSettings settings_)
      : name(std::move(name_)), identity(std::move(identity_)), parties(std::move(parties_)), trust(std::move(trust_)),
        archive(std::move(archive_)), settings(std::move(settings_)) {}

  std::string name;                      // for log lines, e.g. "ES-MJ"
  crypto::Identity identity;
  std::vector<v1::Party> parties;        // this node's memberships, one per network
  crypto::TrustStore trust;
  std::unique_ptr<archive::Archive> archive;
  DaemonSettings settings;
  std::function<std::int64_t()> now;     // Unix seconds; empty: the system clock
  Logger::Sink log_sink;                 // empty: stderr
  // Where the node writes its status (proto NodeStatus) every 2 s and at stop; empty: nowhere.
  std::string status_path;
  // The local API's Unix socket (HOME/comity.sock); empty: no local API.
  std::string api_socket_path;
  // Called on the node's thread after a peer's roster changed the trust store (to save it);
  // a failure is logged.
  std::function<Status<>(const crypto::TrustStore&)> on_trust_changed;
};

class Node {
 public:
  // Binds the listen endpoints; fails (with the endpoint named) when one cannot be bound.
  static Result<std::unique_ptr<Node>> Create(NodeParams params);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Runs until Stop() (or SIGINT/SIGTERM after HandleSignals()). Returns after the archive's
  // last batch is committed; the caller then destroys the node (which closes the archive).
  void Run();
  void Stop();
  // SIGINT/SIGTERM stop the node; SIGHUP calls `on_reload` on the node's thread.
  void HandleSignals(std::function<void(Node&)> on_reload);

  // Seals `content` to `to`, archives it with its outbox entries, and starts delivery.
  // Returns the message id.
  // Sends that arrive together share one transaction (group commit). `files` are attached:
  // each is encrypted into the archive's blob store on the calling thread first (so a large
  // file does not hold up the node), and travels as §10.6 says.
  std::future<Result<crypto::Bytes>> Send(std::vector<v1::Party> to, std::string content_type, std::string content,
                                          std::int64_t expires_at = 0, std::vector<std::string> files = {});
  // Called on the node's thread when a recipient (or its relay) takes custody of a message
  // this node sent (benchmarks measure latency with it).
  void OnDelivered(std::function<void(const std::string& message_id, const std::string& recipient)> fn);
  // Replaces the trust store (a newer roster, a reload); links of members no longer trusted
  // are closed.
  void ReplaceTrust(crypto::TrustStore trust);
  NodeCounters Counters();
  // The endpoints bound, as ZeroMQ reports them (a * port resolved).
  std::vector<std::string> BoundEndpoints() const { return bound_; }
  // Runs `fn` on the node's thread with its archive and waits for it (tests, status).
  void WithArchive(const std::function<void(archive::Archive&)>& fn);

  Logger& log() { return log_; }

 private:
  explicit Node(NodeParams params);
  struct Link;
  // Where frames go back: the ROUTER with a routing id, or a DEALER link.
  struct Path {
    zmq::socket_t* socket = nullptr;
    std::string routing_id;  // empty on a DEALER
    ZmqReader* reader = nullptr;
  };

  Status<> Bind();
  // Binds a CURVE ROUTER (ZAP domain comity) on `endpoints`; bound_ lists what it bound.
  Status<> OpenRouter(const std::vector<std::string>& endpoints);
  void ReopenRouter();
  void AwaitSignal();  // the next SIGINT, SIGTERM or SIGHUP (HandleSignals)
  void OnZap(std::vector<zmq::message_t>& frames);
  void OnRouter(std::vector<zmq::message_t>& frames);
  void OnLink(const std::string& peer, std::vector<zmq::message_t>& frames);
  void OnFrames(const std::string& peer, const Path& back, std::vector<zmq::message_t>& f, std::size_t first);
  void SendOn(const Path& path, const std::vector<std::string>& frames);
  void ScheduleFlush();
  // Where a reply goes once its write is committed: a member's link to the ROUTER (routing
  // id), or the link this node dialled to it.
  struct ReplyTo {
    std::string peer;
    std::string routing_id;  // empty: the dialled link
  };
  void Reply(const ReplyTo& to, const std::vector<std::string>& frames);
  // REJECT (id, member) on `back`, counted and logged as "`what`: `why`".
  void Refuse(const ReplyTo& back, const crypto::Bytes& id, const std::string& member, const std::string& what,
              const std::string& why);
  // An envelope's id and header, read without verifying anything (to choose the reader or
  // the relay's recipient; Open and Inspect verify); nullopt and counted when malformed.
  struct Peeked {
    crypto::Bytes id;
    v1::EnvelopeHeader header;
  };
  std::optional<Peeked> Peek(const std::string& envelope);
  // Seals and queues on the node's thread; `done` gets the id once it is committed.
  // `sealed_id`, when given, gets the id at once if sealing succeeded (so that a second message
  // queued in the same batch can name the first).
  void Queue(Outgoing message, std::function<void(Result<crypto::Bytes>)> done, crypto::Bytes* sealed_id = nullptr);
  void Deliver(const std::string& from, const ReplyTo& back, const std::string& envelope);
  void Relay(const std::string& from, const ReplyTo& back, const std::string& recipient, const std::string& envelope);
  // Whether every file of an envelope is here; if not, fetches the first missing one from
  // `from` and calls `again` once it is (§10.6). `refuse` ends the envelope when the source
  // cannot supply it. Files over the attachment limit are refused at once.
  bool HaveFiles(const std::vector<WantedFile>& files, const std::string& from, const ReplyTo& back,
                 const std::string& waiter, std::function<void()> again,
                 std::function<void(const std::string&)> refuse);
  void OnPull(const std::string& peer, const ReplyTo& back, const std::string& message_id,
              const std::string& stream_hash, const std::string& offset, const std::string& length);
  // Group commit: writes wait for the end of the current drain (or a full batch) and go into
  // one transaction; what depends on them (custody, counters) runs after the commit.
  void Defer(std::function<archive::ArchiveStatus()> write, std::function<void()> after,
             std::function<void(const std::string&)> failed = nullptr);
  void Flush();
  // Evidence (§10.4): a write in a batch queues a receipt for a message; at the end of the
  // batch, in its transaction, one receipt is signed per (kind, signer, addressee, about) for
  // all the messages it covers. With an addressee it is sealed to it and queued for delivery;
  // without (accepted, not-delivered), it is kept here.
  void QueueReceipt(const std::string& kind, const v1::Party& signer, const v1::Party* to, const v1::Party* about,
                    const crypto::Bytes& message_id);
  archive::ArchiveStatus WriteReceipts(std::int64_t now);
  // Records not-delivered evidence for messages with no delivered receipt after
  // settings.not_delivered_after (§10.4).
  void CheckUndelivered();
  // Warns (once a day) of each of this node's certificates that expires within 30 days.
  void CheckOwnExpiry();
  void OnCustody(const std::string& peer, const std::string& message_id, const std::string& recipient, bool refused,
                 const std::string& why);
  void PumpOutbox();
  void ScheduleOutbox(std::chrono::milliseconds after);
  // How to reach `member` now: its open link to this node's ROUTER, a link dialled to its
  // endpoints, or (for an outbound-only member) a link to one of its relays (`via` set).
  std::optional<Path> RouteTo(const std::string& member, std::string* via);
  Link* LinkTo(const std::string& peer);
  // Opens the links that stay open: to the configured relays and to every coordinator of
  // this node's networks (which is how new rosters reach it).
  void KeepLinks();
  void CloseUntrustedLinks();  // posted: see there
  void CloseUntrustedLinksNow();
  bool IsCurrentMember(const std::string& member);
  // The certificate of `member` (MEMBER@NETWORK) when it is a current member now.
  std::optional<v1::Certificate> CurrentCertificate(const std::string& member) const;
  std::optional<std::string> MemberOfCurveKey(const std::string& key) const;
  std::int64_t Backoff(std::int64_t attempts);
  bool RateAllows(const std::string& peer);
  std::string RosterVersionsFrame(bool reply) const;
  void AnnounceRosters();
  void OnRosterVersions(const std::string& peer, const Path& back, const std::string& payload);
  void OnRoster(const std::string& peer, const std::string& payload);
  void TrustChanged();
  void Hello();
  v1::NodeStatus BuildStatus(bool running);
  void WriteStatus(bool running);
  // The local API (proto/api.proto).
  void OnApi(const v1::ApiRequest& request, ApiServer::Reply reply);
  void StartPing(const v1::PingRequest& ping, ApiServer::Reply reply);
  // Read evidence: signed and sent to each message's sender (§10.4).
  void MarkRead(const v1::ReadRequest& read, ApiServer::Reply reply);
  Result<v1::DirectoryResponse> Directory(const v1::DirectoryRequest& request);
  Result<v1::SearchResponse> Search(const v1::SearchRequest& request);
  // The judicial workflow (node/daemon/workflow_api.cpp, docs/PROTOCOL.md §11-§13).
  void OnWorkflowApi(const v1::ApiRequest& request, ApiServer::Reply reply);
  void ThreadOpen(const v1::ThreadOpenRequest& q, ApiServer::Reply reply);
  void ThreadPost(const std::string& thread, v1::ThreadEvent event, const std::string& language, bool force,
                  ApiServer::Reply reply);
  void ThreadShow(const v1::ThreadShowRequest& q, ApiServer::Reply reply);
  Result<v1::ThreadListResponse> ThreadList(const v1::ThreadListRequest& q);
  Result<v1::DraftsResponse> Drafts(const v1::DraftsRequest& q);
  void NoticeSend(const v1::NoticeSendRequest& q, bool with_progress, ApiServer::Reply reply);
  Result<v1::NoticeListResponse> NoticeList();
  // With `save_to`, a readable notice's attachments are written there too.
  Result<v1::NoticeView> NoticeShow(std::uint64_t number, const std::string& save_to = "");
  void NoticeAccept(const v1::NoticeAcceptRequest& q, ApiServer::Reply reply);
  Result<v1::ExportResponse> Export(const v1::ExportRequest& q);
  Result<v1::StatsResponse> Stats();
  // A thread named by its id or a prefix of at least 4 digits, folded, with receipts.
  Result<v1::ThreadView> FindThread(const std::string& thread, bool with_receipts);
  // Refuses (with the reason) a draft in `language` to a recipient whose certificate does not
  // list it; empty language: no check.
  Status<> CheckLanguage(const std::vector<v1::Party>& to, const std::string& language);
  // Queues `message` on the node's thread after its `paths` are encrypted on a worker thread
  // (a large file does not hold up the node); `done` runs on the node's thread.
  // `progress`, when given, is told (on the node's thread) the bytes encrypted of all the files.
  using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;
  void QueueWithFiles(Outgoing message, std::vector<std::string> paths, std::function<void(Result<crypto::Bytes>)> done,
                      ProgressFn progress = nullptr);
  // This node's addresses, MEMBER@NETWORK, one per membership.
  std::vector<std::string> MyAddresses() const;
  void PingStep(const std::string& message_id, const std::string& kind, const std::string& by);
  void FinishPing(const std::string& message_id, bool delivered);
  void TakeFileCounters();
  void StatusLoop();

  // Declared first, destroyed last: everything below may hold handlers on it.
  boost::asio::io_context io_;
  NodeParams p_;
  Logger log_;
  zmq::context_t zmq_;
  zmq::socket_t zap_;
  std::unique_ptr<ZmqReader> zap_reader_;
  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<ZmqReader> router_reader_;
  std::map<std::string, std::unique_ptr<Link>> links_;  // dialled, by MEMBER@NETWORK
  std::map<std::string, std::string> routes_;          // members linked to the ROUTER -> routing id
  std::map<std::string, std::string> admitted_keys_;   // CURVE keys ZAP let in since the ROUTER opened -> member
  std::map<std::string, bool> current_;                // IsCurrentMember's answers until trust changes
  boost::asio::steady_timer hello_timer_;
  boost::asio::steady_timer status_timer_;
  boost::asio::steady_timer reopen_timer_;  // a listener that could not be reopened is tried again
  std::map<std::string, std::int64_t> last_seen_;  // member -> Unix seconds of its last frame
  struct Pending {
    std::function<archive::ArchiveStatus()> write;
    std::function<void()> after;
    std::function<void(const std::string& why)> failed;  // the batch rolled back (may be empty)
  };
  std::vector<Pending> pending_;
  bool flushing_ = false;
  bool flush_posted_ = false;
  std::function<void(const std::string&, const std::string&)> on_delivered_;
  std::vector<std::string> bound_;
  boost::asio::steady_timer outbox_timer_;
  bool outbox_scheduled_ = false;
  std::chrono::steady_clock::time_point outbox_due_{};
  struct InFlight {
    std::int64_t outbox_id = 0;
    std::string hop;  // the member it was sent to: only its CUSTODY or REJECT counts
  };
  std::map<std::pair<std::string, std::string>, InFlight> in_flight_;  // (message id, recipient)
  std::map<std::string, int> in_flight_by_hop_;
  std::set<std::int64_t> settling_;  // outbox entries whose removal waits for the batch's commit
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at{};
  };
  std::map<std::string, Bucket> buckets_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::function<void(Node&)> on_reload_;  // HandleSignals' SIGHUP handler
  std::unique_ptr<FileFetcher> files_;
  std::unique_ptr<ApiServer> api_;
  struct PingWait {
    v1::PingResponse response;
    std::chrono::steady_clock::time_point start;
    ApiServer::Reply reply;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  std::map<std::string, std::shared_ptr<PingWait>> pings_;  // by message id
  std::int64_t sweep_at_ = 0;
  std::int64_t expiry_check_at_ = 0;  // next look at this node's own certificates
  // (kind, signer, addressee or "", about or "") -> message ids, until the batch's end.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::vector<crypto::Bytes>> receipts_due_;
  bool receipts_sealed_ = false;  // the last batch queued receipts for delivery
  std::mt19937_64 rng_{std::random_device{}()};
  NodeCounters counters_;
  bool stopping_ = false;
  bool closing_posted_ = false;
  bool reopen_router_ = false;  // a member linked in was revoked, or its keys rotated
  // Workers that encrypt attachments for the local API: the finished ones are joined when the
  // next starts, the rest when the node is destroyed.
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::set<std::uint64_t> accepting_;  // notices whose acceptance waits for its batch's commit
  std::mutex workers_mu_;
  std::vector<Worker> workers_;
};

}  // namespace comity::node
