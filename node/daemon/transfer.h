// Attachments over links (docs/PROTOCOL.md §10.6). An envelope's header lists its files as
// encrypted streams named by their hash; the bytes travel beside it. A node that receives an
// envelope with files it does not hold yet pulls them from the peer that sent the envelope,
// piece by piece, before it takes custody; each PULL for the next piece acknowledges the ones
// before it. What has arrived is kept in a partial file, so after a crash of either side the
// transfer resumes from what the receiver holds, and memory stays at a few pieces whatever
// the file size. A recipient checks every frame of the stream and the content hash the
// sender sealed; a relay, which has no key, checks the stream hash the sender signed.
//
// FileFetcher keeps the receiving side's state; it runs on the node's thread and sends
// through the function it is given. Files live under DIR (HOME/blobs/transfer):
//   MSGID-STREAM.in.part / .in         a recipient's, before / after its check
//   MSGID-STREAM.relay.part / .relay   a relay's, kept until its outbox no longer holds MSGID
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/sodium.h"
#include "crypto/stream.h"
#include "node/daemon/log.h"

namespace comity::node {

inline constexpr std::string_view kPull = "PULL";
inline constexpr std::string_view kPiece = "PIECE";
inline constexpr std::string_view kNoFile = "NOFILE";
// The largest piece a PULL may ask for, and the number of pieces a receiver asks for ahead of
// what it has written: 16 x 256 KiB in flight per transfer.
inline constexpr std::uint32_t kPieceBytes = 256 * 1024;
inline constexpr int kPiecesAhead = 16;
// Transfers a node runs at once (each holds a partial file and a checking thread).
inline constexpr std::size_t kMaxTransfers = 16;
// Of which from one peer: one member cannot hold every place.
inline constexpr std::size_t kMaxTransfersPerPeer = 8;

// One file a receiver needs: its stream (as the header names it) and, for a recipient, what
// the sealed content says of its plaintext.
struct WantedFile {
  crypto::Bytes message_id;
  crypto::Bytes stream_hash;
  std::uint64_t stream_size = 0;
  // Recipient only: the file key and the plaintext's hash and size. Without a key (a relay)
  // the stream hash is what is checked.
  std::shared_ptr<const crypto::SecretBytes> key;
  crypto::Bytes content_hash;
  std::uint64_t size = 0;
};

// Where a file's frames go: the peer, and how to reach it (as Node::ReplyTo).
struct FileSource {
  std::string peer;
  std::string routing_id;  // empty: the link this node dialled to `peer`
};

class FileFetcher {
 public:
  using SendFn = std::function<void(const FileSource& to, const std::vector<std::string>& frames)>;
  // Called when the file is ready (`ok`) or cannot be had from this source (`why`).
  using DoneFn = std::function<void(bool ok, const std::string& why)>;

  // `bytes_per_second` paces each transfer (0: as fast as the link goes).
  FileFetcher(boost::asio::io_context& io, Logger& log, std::string dir, SendFn send, std::uint64_t bytes_per_second);
  ~FileFetcher();

  // The checked file for `f`, if it is here.
  std::optional<std::string> ReadyPath(const WantedFile& f) const;
  // Starts fetching `f` from `source` (or, when it is already under way, takes `source` as the
  // peer to ask from now on); `done` runs on the node's thread when it ends. One `done` per
  // (file, key) is kept: a retried envelope does not pile up callbacks.
  void Fetch(const WantedFile& f, const FileSource& source, const std::string& waiter, DoneFn done);
  // A PIECE or NOFILE frame from `peer`.
  void OnPiece(const std::string& peer, const std::string& message_id, const std::string& stream_hash,
               const std::string& offset, const std::string& data);
  void OnNoFile(const std::string& peer, const std::string& message_id, const std::string& stream_hash);
  // Removes relay copies older than `grace_s` of messages that `still_held` says are no longer
  // queued (a copy only just complete may not be queued yet), and partial files unused for 7 days.
  void Sweep(const std::function<bool(const crypto::Bytes& message_id)>& still_held, std::int64_t grace_s);
  void Stop();

  std::int64_t active() const { return static_cast<std::int64_t>(transfers_.size()); }
  std::int64_t files_in() const { return files_in_; }
  std::int64_t bytes_in() const { return bytes_in_; }
  std::int64_t resumed() const { return resumed_; }

  // MSGID-STREAM.in / .relay under `dir`.
  static std::string FileName(const crypto::Bytes& message_id, const crypto::Bytes& stream_hash, bool relay);

 private:
  struct Transfer;
  std::string Key(const WantedFile& f) const;
  bool Start(Transfer& t);
  void Ask(Transfer& t);
  void Finish(const std::string& key);
  void End(const std::string& key, bool ok, const std::string& why);
  void Watch();
  void Pace();
  std::vector<std::string> Keys() const;

  boost::asio::io_context& io_;
  Logger& log_;
  std::string dir_;
  SendFn send_;
  std::map<std::string, std::unique_ptr<Transfer>> transfers_;  // by Key()
  boost::asio::steady_timer watch_;
  bool watching_ = false;
  std::uint64_t bytes_per_second_;
  boost::asio::steady_timer pace_;
  bool pacing_ = false;
  std::int64_t files_in_ = 0, bytes_in_ = 0, resumed_ = 0;
};

// Serving: bytes [offset, offset + length) of the stream file at `path`; empty when the range
// lies outside the file (the caller answers NOFILE).
std::optional<std::string> ReadPiece(const std::string& path, std::uint64_t offset, std::uint32_t length);

// Big-endian helpers for the PULL and PIECE frames.
std::string Be64(std::uint64_t v);
std::string Be32(std::uint32_t v);
std::optional<std::uint64_t> FromBe(const std::string& s, std::size_t width);

}  // namespace comity::node
