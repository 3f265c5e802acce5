// Queueing a message for delivery: seal it, then, in one archive transaction, store it with
// one outbox entry per recipient and an audit entry. Nothing leaves before that commit; the
// node's outbox pass (Node, or the next `comityd run`) delivers it. Used by Node::Send and by
// `comityd send` (another process, the archive's lock serialising the two).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/trust.h"
#include "node/archive/archive.h"

namespace comity::node {

// An attachment ready to go: its encrypted stream written (not yet in the blob store) under
// a fresh key. StoreSealed moves it into the archive with the message.
struct OutgoingFile {
  std::string stream_path;  // empty: stored already (ReuseStored)
  std::shared_ptr<const crypto::SecretBytes> key;
  archive::AttachmentRecord record;  // all but message_id and stored_at
};
// Encrypts the file at `path` into a new stream file under `dir` (the archive's blob
// directory, so that storing it is a rename). Fails on a missing or unreadable file, or one
// over `max_bytes`; writes nothing then.
// `on_read`, when given, is told the bytes read so far as the encryption goes (a progress
// display), on the calling thread.
Result<OutgoingFile> PrepareFile(const std::string& path, const std::string& dir, const std::string& media_type,
                                 std::uint64_t max_bytes,
                                 const std::function<void(std::uint64_t)>& on_read = nullptr);

// When the archive stores that content already, `f` becomes that copy (its key and stream),
// and the new stream file is removed: the archive keeps one copy per content.
archive::ArchiveStatus ReuseStored(archive::Archive& archive, OutgoingFile& f);

struct Outgoing {
  std::vector<v1::Party> to;
  std::string content_type;
  std::string content;
  std::int64_t expires_at = 0;  // 0: never
  std::vector<OutgoingFile> files;
  // The membership to send as (one of the node's); empty: SenderFor(memberships, to).
  std::optional<v1::Party> from;
};

// The membership a message to `to` goes out as: this node's membership of the first
// recipient's network, else its first.
const v1::Party* SenderFor(const std::vector<v1::Party>& memberships, const std::vector<v1::Party>& to);

// A sealed message and what queueing it writes.
struct SealedMessage {
  archive::MessageRecord record;
  std::vector<std::string> recipients;  // MEMBER@NETWORK
  std::int64_t expires_at = 0;
  std::vector<OutgoingFile> files;
};
// Seals `message` as this node's member of the first recipient's network (else of its first
// network); writes nothing.
Result<SealedMessage> SealMessage(const crypto::Identity& identity, const std::vector<v1::Party>& memberships,
                                  const crypto::TrustStore& trust, const Outgoing& message, std::int64_t now);
// The writes that queue a sealed message: the message, its outbox entries, an audit entry.
// Must run inside Archive::Batch.
archive::ArchiveStatus StoreSealed(archive::Archive& archive, const SealedMessage& message, std::int64_t now);

// SealMessage and StoreSealed for several messages in one transaction (all or none); their ids
// in order.
Result<std::vector<crypto::Bytes>> QueueMessages(archive::Archive& archive, const crypto::Identity& identity,
                                                 const std::vector<v1::Party>& memberships,
                                                 const crypto::TrustStore& trust, const std::vector<Outgoing>& messages,
                                                 std::int64_t now);

// The attachments an opened envelope carries: the header's FileRefs matched with the
// FileKeys of the WithFiles plaintext, whose content proper goes to `content`. Fails when
// they do not match one to one (count, key and hash lengths, sizes) or a name is not a plain
// file name.
struct ReceivedFile {
  v1::FileRef ref;
  v1::FileKey key;
};
Result<std::vector<ReceivedFile>> FilesOf(const v1::EnvelopeHeader& header, const crypto::Bytes& plaintext,
                                          std::string* content);

// The networks whose current roster lists `member_id` with `identity`'s signing key.
std::vector<v1::Party> MembershipsOf(const std::string& member_id, const crypto::TrustStore& trust,
                                     const crypto::Identity& identity);

// Receipts (evidence, proto/envelope.proto Receipt): a Signed Receipt by the node that took a
// step, covering up to kMaxReceiptIds messages. Those for the messages' sender travel in an
// envelope of this content type.
inline constexpr std::string_view kReceiptContentType = "application/vnd.comity.receipt";
inline constexpr int kMaxReceiptIds = 4096;
// The receipt a recipient signs when it accepts a notice's conditions (before reading it).
inline constexpr std::string_view kConditionsAccepted = "conditions-accepted";
// A content-free test envelope (comity ping): delivered and receipted like any other.
inline constexpr std::string_view kPingContentType = "application/vnd.comity.ping";
std::string MakeReceipt(const crypto::Identity& signer, const v1::Party& as, const std::string& kind,
                        const std::vector<crypto::Bytes>& message_ids, std::int64_t at,
                        const v1::Party* about = nullptr);
// Checks a receipt that came in an envelope from the member whose certificate is `cert`:
// signed by that member's key, naming that member as signer, of a kind a peer sends
// (relayed, delivered, read, conditions-accepted), with 1 to kMaxReceiptIds ids of 32 bytes. Returns the receipt.
// Its `at` must fall in the certificate's validity and not after `now` (with clock skew).
Result<v1::Receipt> CheckReceipt(const std::string& signed_receipt, const v1::Certificate& cert, std::int64_t now);

// A recipient as people write it: MEMBER@NETWORK, or a bare MEMBER found in exactly one of
// the networks of `mine`.
Result<v1::Party> ResolveParty(const std::string& item, const crypto::TrustStore& trust,
                               const std::vector<v1::Party>& mine);

// Every current member of `network_id` but this node, for a broadcast: only this node's
// coordinator membership of that network may address them all.
Result<std::vector<v1::Party>> NetworkRecipients(const std::string& network_id, const crypto::TrustStore& trust,
                                                 const std::vector<v1::Party>& mine, std::int64_t now);

// "A@N1,B@N2" (MessageRecord::recipients) as its addresses.
std::vector<std::string> SplitAddresses(const std::string& list);

// "MEMBER@NETWORK" and back; nullopt when not of that form.
std::string AddressOf(const v1::Party& party);
std::optional<v1::Party> PartyOfAddress(const std::string& address);

// A message id for log lines and audit entries: 16 hex digits of its hash part (its first 8
// bytes are only created_at, the same for every message of a second).
std::string ShortMessageId(crypto::ByteView message_id);

// Whether `text` is valid UTF-8 (a message body is indexed only then).
bool IsUtf8(std::string_view text);

}  // namespace comity::node
