// The archive: one SQLCipher database per node (HOME/archive.db) that is the node's memory
// and the authority's legal record, plus secretstream-encrypted attachment files under
// HOME/blobs/. Opened with the operator's passphrase (Argon2id -> raw 256-bit SQLCipher key,
// salt and parameters in HOME/archive.kdf). Everything written goes through a repository
// (rosters, messages, threads, notices, outbox, receipts, attachments, audit) inside a
// transaction; every change worth a legal trace appends to the hash-chained audit log.
// An Archive is owned by one node and used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/sodium.h"
#include "node/archive/records.h"
#include "node/archive/repositories.h"
#include "node/archive/sqlite.h"

namespace comity::archive {

inline constexpr int kSchemaVersion = 7;

// Derives the archive key; `kdf` carries salt and parameters (the check value is not used).
ArchiveResult<crypto::SecretBytes> DeriveArchiveKey(crypto::ByteView passphrase, const std::string& kdf_bytes);

class Archive {
 public:
  // Creates HOME/archive.db and HOME/archive.kdf; refuses if either exists.
  static ArchiveResult<std::unique_ptr<Archive>> Create(const std::string& home, crypto::ByteView passphrase,
                                                        const crypto::KdfParams& kdf);
  // Opens an existing archive, migrating an older schema. Never creates or overwrites one.
  static ArchiveResult<std::unique_ptr<Archive>> Open(const std::string& home, crypto::ByteView passphrase);
  // Opens or creates a database at `path` with `key` (empty key: unencrypted SQLite), with the
  // archive's schema, pragmas and no kdf file: for tests and the benchmark's baseline.
  static ArchiveResult<std::unique_ptr<Archive>> OpenRaw(const std::string& path, const std::string& blob_dir,
                                                         const crypto::SecretBytes& key, int schema_version = kSchemaVersion);
  ~Archive();

  // Runs `body` in one transaction (BEGIN IMMEDIATE ... COMMIT); rolls back on failure.
  ArchiveStatus Batch(const std::function<ArchiveStatus()>& body);

  // --- repositories (each call must run inside Batch when it writes) ---
  ArchiveStatus RecordRoster(const std::string& network_id, std::uint64_t version, crypto::ByteView signed_roster,
                             std::int64_t at);
  ArchiveResult<std::int64_t> RosterCount();

  // False when the message id was seen before (the duplicate is not stored again).
  ArchiveResult<bool> AddMessage(const MessageRecord& m);
  ArchiveResult<std::optional<MessageRecord>> GetMessage(crypto::ByteView message_id);
  ArchiveResult<std::int64_t> MessageCount();
  // Bytes of memory the database's page cache holds now (it grows with use up to
  // PRAGMA cache_size, 64 MiB, and stays there): what a memory figure should not mistake for
  // a leak.
  std::int64_t PageCacheBytes() const;
  // Whether this message id was stored before (seen_ids outlives a purge of the message).
  ArchiveResult<bool> Seen(crypto::ByteView message_id);

  // Every message of a thread, by message id (so by creation time).
  ArchiveResult<std::vector<MessageRecord>> ThreadMessages(const std::string& thread_uid);
  // The same one at a time (bounded memory), without the envelope unless `with_envelope`.
  ArchiveStatus EachThreadMessage(const std::string& thread_uid, bool with_envelope,
                                  const std::function<void(MessageRecord)>& fn);

  ArchiveStatus PutThread(const ThreadRecord& t);
  ArchiveResult<std::optional<ThreadRecord>> GetThread(const std::string& thread_uid);
  // Every thread, the most recently updated first.
  ArchiveResult<std::vector<ThreadRecord>> Threads();
  // The ids of the threads whose id starts with `prefix` (at most 2: enough to tell).
  ArchiveResult<std::vector<std::string>> ThreadsStartingWith(const std::string& prefix);
  ArchiveStatus AddDraft(const DraftVersion& d);
  ArchiveResult<std::vector<DraftVersion>> Drafts(const std::string& thread_uid);

  // Indexes the notice's subject and body (an incoming notice comes with an empty body: it is
  // indexed only when its conditions are accepted, by AcceptNotice).
  ArchiveStatus AddNotice(const NoticeRecord& n);
  // Notices, newest first (bodies included); by number; by message id.
  ArchiveResult<std::vector<NoticeRecord>> Notices();
  ArchiveResult<std::optional<NoticeRecord>> GetNotice(std::int64_t number);
  ArchiveResult<std::optional<NoticeRecord>> NoticeOfMessage(crypto::ByteView message_id);
  // Records the acceptance of a received notice's conditions at `at` and indexes it again, subject
  // and body as one item.
  ArchiveStatus AcceptNotice(std::int64_t number, std::int64_t at, const std::string& body);
  // Every signed roster this node recorded of `network_id`, oldest first.
  ArchiveResult<std::vector<Bytes>> Rosters(const std::string& network_id);

  ArchiveStatus Enqueue(const OutboxEntry& e);
  // For a relay: queues unless (message id, recipient) is queued already; false then.
  ArchiveResult<bool> EnqueueOnce(const OutboxEntry& e);
  // Makes every entry for `recipient` due at `now` (it has just come back).
  ArchiveStatus ExpediteOutbox(const std::string& recipient, std::int64_t now);
  ArchiveResult<std::int64_t> OutboxCount();
  // The outbox entry for (message id, recipient), if there is one.
  ArchiveResult<std::optional<std::int64_t>> FindInOutbox(crypto::ByteView message_id, const std::string& recipient);
  // Whether any outbox entry (any recipient) still holds this message.
  ArchiveResult<bool> InOutbox(crypto::ByteView message_id);
  // Outbox entries per recipient: (recipient, all, of which carried for others as a relay).
  ArchiveResult<std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>> OutboxDepths();
  ArchiveResult<std::vector<OutboxEntry>> DueOutbox(std::int64_t now, int limit);
  // Due entries already sent at least once (retried), or never sent yet.
  ArchiveResult<std::vector<OutboxEntry>> DueOutboxOf(std::int64_t now, int limit, bool retried);
  ArchiveStatus RecordAttempt(std::int64_t id, std::int64_t next_attempt_at);
  // False when there was no such entry (settled already).
  ArchiveResult<bool> RemoveFromOutbox(std::int64_t id);

  ArchiveStatus AddReceipt(const ReceiptRecord& r);
  // Stores a signed receipt that covers many messages, once; their AddReceipt rows name it by
  // the id returned (ReceiptRecord::evidence_id), with an empty signed_receipt.
  ArchiveResult<std::int64_t> AddEvidence(crypto::ByteView signed_receipt);
  // How many receipt rows of this kind there are (e.g. "not-delivered", for status).
  ArchiveResult<std::int64_t> CountReceipts(const std::string& kind);
  // Messages this node sent (not receipts) created in (after, until], with their recipients
  // (MEMBER@NETWORK) that have no receipt of kind `delivered` or `not-delivered` yet.
  ArchiveResult<std::vector<std::pair<crypto::Bytes, std::string>>> Unreceipted(std::int64_t after,
                                                                               std::int64_t until);
  // A value in the meta table (empty when absent), and setting one (inside Batch).
  ArchiveResult<crypto::Bytes> GetMeta(const std::string& name);
  ArchiveStatus PutMeta(const std::string& name, crypto::ByteView value);
  ArchiveResult<std::vector<ReceiptRecord>> Receipts(crypto::ByteView message_id);

  // Encrypts `in` into a content-addressed blob and records it; the same content twice is
  // stored once. Writes the blob file before the row: a rolled-back batch leaves an orphan
  // file, never a row without its file.
  ArchiveResult<AttachmentRecord> AddAttachment(std::istream& in, const std::string& name,
                                                const std::string& media_type, crypto::ByteView message_id,
                                                std::int64_t at);
  ArchiveStatus ReadAttachment(crypto::ByteView content_hash, std::ostream& out);
  // The stored attachment with this content hash, and its file key (to send it).
  ArchiveResult<std::optional<AttachmentRecord>> GetAttachment(crypto::ByteView content_hash,
                                                               crypto::SecretBytes* key = nullptr);
  // The blob file whose encrypted stream has this hash (what a peer asks for by it).
  ArchiveResult<std::optional<std::string>> BlobOfStream(crypto::ByteView stream_hash);
  // Records a received attachment: `stream_path` holds its encrypted stream under `key`,
  // already checked against rec.content_hash. Moves the file into the blob store (or drops
  // it when that content is stored already) and inserts the row.
  ArchiveResult<AttachmentRecord> AdoptAttachment(const std::string& stream_path, const crypto::SecretBytes& key,
                                                  const AttachmentRecord& rec);
  std::string blob_dir() const { return attachments_.blob_dir(); }

  ArchiveStatus Audit(std::int64_t at, const std::string& actor, const std::string& action,
                      const std::string& detail);
  ArchiveResult<std::vector<AuditEntry>> AuditTail(int limit);

  // Full-text search (FTS4) over message subjects and bodies, draft texts and notices;
  // newest first.
  ArchiveResult<std::vector<SearchHit>> Search(const std::string& query, int limit);
  // How many indexed texts match `query` in all (what a page of Search is drawn from).
  ArchiveResult<std::int64_t> CountMatches(const std::string& query);
  // Items per full-text partition from now on (SearchIndex); for tests and benchmarks.
  void SetSearchPartitionSize(std::int64_t items) { search_.set_items_per_part(items); }

  // --- operations ---
  ArchiveResult<VerifyReport> Verify();
  ArchiveStatus Backup(const std::string& out_path);
  ArchiveStatus Rekey(crypto::ByteView new_passphrase, const crypto::KdfParams& kdf, std::int64_t at,
                      const std::string& actor);
  ArchiveResult<PurgeReport> Purge(std::int64_t before, std::int64_t at, const std::string& actor);

  int schema_version() const { return schema_version_; }
  Db& db() { return *db_; }

 private:
  Archive(std::unique_ptr<Db> db, std::string home, std::string blob_dir, crypto::SecretBytes key)
      : db_(std::move(db)), home_(std::move(home)), key_(std::move(key)), meta_(*db_), rosters_(*db_),
        search_(*db_), messages_(*db_, search_), threads_(*db_, search_), notices_(*db_, search_), outbox_(*db_),
        receipts_(*db_), attachments_(*db_, std::move(blob_dir)), audit_(*db_, meta_) {}
  ArchiveStatus Setup(int target_version);

  std::unique_ptr<Db> db_;
  std::string home_;
  crypto::SecretBytes key_;  // the SQLCipher key, for keying backups alike (locked memory)
  int schema_version_ = 0;
  // The repositories, each over db_ (declared after it, so built after it).
  MetaRepository meta_;
  RosterRepository rosters_;
  SearchIndex search_;
  MessageRepository messages_;
  ThreadRepository threads_;
  NoticeRepository notices_;
  OutboxRepository outbox_;
  ReceiptRepository receipts_;
  AttachmentRepository attachments_;
  AuditLog audit_;
};

// Restores HOME/archive.db and HOME/archive.kdf from a backup made by Archive::Backup, after
// checking the passphrase opens it. Refuses to replace an existing archive unless `force`
// (then the old files are kept beside it as archive.db.before-restore-<time>).
ArchiveStatus Restore(const std::string& home, const std::string& backup_path, crypto::ByteView passphrase,
                      bool force, std::int64_t now);

}  // namespace comity::archive
