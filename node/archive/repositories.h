// The archive's repositories: one class per group of tables, and the only place that holds
// SQL for them. Each borrows the Archive's connection (Db) and prepares its statements once
// (Db caches them). Writes must run inside Archive::Batch. Internal to node/archive: the rest
// of the node goes through archive.h. Same thread as the owning Archive.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <functional>
#include <tuple>
#include <vector>

#include "node/archive/records.h"
#include "node/archive/sqlite.h"

namespace comity::archive {

// One item a purge removes: what it was, when, from whom (for the audit entry).
struct PurgeItem {
  Bytes id;
  std::int64_t when = 0;
  std::string who;
};

// meta: named values of the archive itself (blob naming key, audit head).
class MetaRepository {
 public:
  explicit MetaRepository(Db& db) : db_(db) {}
  ArchiveResult<std::optional<Bytes>> Get(const std::string& name);
  ArchiveStatus Put(const std::string& name, crypto::ByteView value);

 private:
  Db& db_;
};

// rosters: every signed roster this node accepted or published, once per version.
class RosterRepository {
 public:
  explicit RosterRepository(Db& db) : db_(db) {}
  ArchiveStatus Record(const std::string& network_id, std::uint64_t version, crypto::ByteView signed_roster,
                       std::int64_t at);
  ArchiveResult<std::int64_t> Count();
  ArchiveResult<std::vector<Bytes>> OfNetwork(const std::string& network_id);

 private:
  Db& db_;
};

// search_items + search_parts + search_text_N (FTS4): what people wrote, found newest first.
// The full-text index is cut into partitions of kItemsPerPart items by id, one FTS4 table each
// (search_parts says where each begins). A search reads the newest partitions first and
// seldom more than one; inserting never merges segments larger than a partition; a purge
// drops a partition it has emptied.
class SearchIndex {
 public:
  static constexpr std::int64_t kItemsPerPart = 131072;
  // The FTS4 definition of every partition (schema.cpp creates the first).
  static constexpr const char* kPartDefinition =
      "fts4 (subject, body, content=\"search_items\", matchinfo=fts3, tokenize=unicode61, order=DESC)";

  explicit SearchIndex(Db& db) : db_(db) {}
  // Items per partition from now on (tests use small ones); existing partitions keep theirs.
  void set_items_per_part(std::int64_t n) { items_per_part_ = n; }
  // Returns the new item's id.
  ArchiveResult<std::int64_t> Add(const std::string& kind, crypto::ByteView ref, const std::string& thread_uid,
                                  const std::string& sender, const std::string& subject, const std::string& body,
                                  std::int64_t created_at);
  ArchiveResult<std::vector<SearchHit>> Query(const std::string& query, int limit);
  // Matches in the full-text index, whether or not their items still exist.
  ArchiveResult<std::int64_t> Count(const std::string& query);
  ArchiveStatus DeleteBefore(std::int64_t before);
  // Takes out every item of KIND about REF (a notice indexed again once it is accepted).
  ArchiveStatus Remove(const std::string& kind, crypto::ByteView ref);

 private:
  struct Part {
    std::int64_t part, first_item;
  };
  ArchiveResult<std::vector<Part>> Parts();
  // The partition item `id` goes to, creating it when the newest is full.
  ArchiveResult<std::int64_t> PartFor(std::int64_t id);

  Db& db_;
  std::int64_t items_per_part_ = kItemsPerPart;
};

// messages + envelopes + seen_ids: every envelope sent or received, exactly once; its subject
// and body live in its search item.
class MessageRepository {
 public:
  MessageRepository(Db& db, SearchIndex& index) : db_(db), index_(index) {}
  ArchiveResult<bool> Add(const MessageRecord& m);
  ArchiveResult<std::optional<MessageRecord>> Get(crypto::ByteView message_id);
  ArchiveResult<std::vector<MessageRecord>> OfThread(const std::string& thread_uid);
  ArchiveStatus EachOfThread(const std::string& thread_uid, bool with_envelope,
                             const std::function<void(MessageRecord)>& fn);
  ArchiveResult<bool> Seen(crypto::ByteView message_id);
  ArchiveResult<std::int64_t> Count();
  ArchiveResult<std::vector<PurgeItem>> ListBefore(std::int64_t before);
  ArchiveStatus DeleteBefore(std::int64_t before);

 private:
  Db& db_;
  SearchIndex& index_;
};

// threads + draft_versions: draft-request threads and their versions.
class ThreadRepository {
 public:
  ThreadRepository(Db& db, SearchIndex& index) : db_(db), index_(index) {}
  ArchiveStatus Put(const ThreadRecord& t);
  ArchiveResult<std::optional<ThreadRecord>> Get(const std::string& thread_uid);
  ArchiveResult<std::vector<ThreadRecord>> All();
  ArchiveResult<std::vector<std::string>> StartingWith(const std::string& prefix);
  ArchiveStatus AddDraft(const DraftVersion& d);
  ArchiveResult<std::vector<DraftVersion>> Drafts(const std::string& thread_uid);
  ArchiveResult<std::vector<PurgeItem>> ListDraftsBefore(std::int64_t before);
  ArchiveStatus DeleteDraftsBefore(std::int64_t before);

 private:
  Db& db_;
  SearchIndex& index_;
};

// notices: spontaneous information with its confidentiality and use conditions.
class NoticeRepository {
 public:
  NoticeRepository(Db& db, SearchIndex& index) : db_(db), index_(index) {}
  ArchiveStatus Add(const NoticeRecord& n);
  ArchiveResult<std::vector<NoticeRecord>> All();
  ArchiveResult<std::optional<NoticeRecord>> Get(std::int64_t number);
  ArchiveResult<std::optional<NoticeRecord>> OfMessage(crypto::ByteView message_id);
  ArchiveStatus Accept(std::int64_t number, std::int64_t at, const std::string& body);
  ArchiveResult<std::vector<PurgeItem>> ListBefore(std::int64_t before);
  ArchiveStatus DeleteBefore(std::int64_t before);

 private:
  ArchiveResult<std::vector<NoticeRecord>> Select(const std::string& where, const std::function<void(Stmt&)>& bind);
  Db& db_;
  SearchIndex& index_;
};

// outbox: deliveries still owed, with their next attempt.
class OutboxRepository {
 public:
  explicit OutboxRepository(Db& db) : db_(db) {}
  ArchiveStatus Enqueue(const OutboxEntry& e);
  // False when (message id, recipient) is queued already.
  ArchiveResult<bool> EnqueueOnce(const OutboxEntry& e);
  ArchiveResult<std::vector<OutboxEntry>> Due(std::int64_t now, int limit);
  // Due entries sent before (retried = true) or never sent (false), oldest due first.
  ArchiveResult<std::vector<OutboxEntry>> DueOf(std::int64_t now, int limit, bool retried);
  // Makes every entry for `recipient` due at `now` (it has just come back).
  ArchiveStatus Expedite(const std::string& recipient, std::int64_t now);
  ArchiveResult<std::int64_t> Count();
  // The id of the entry for (message id, recipient), if there is one.
  ArchiveResult<std::optional<std::int64_t>> Find(crypto::ByteView message_id, const std::string& recipient);
  ArchiveResult<bool> Holds(crypto::ByteView message_id);
  // Entries per recipient: (recipient, all, of which not this archive's own messages).
  ArchiveResult<std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>> Depths();
  ArchiveStatus RecordAttempt(std::int64_t id, std::int64_t next_attempt_at);
  ArchiveResult<bool> Remove(std::int64_t id);  // false: no such entry (settled already)

 private:
  Db& db_;
};

// receipts: what recipients signed they received.
class ReceiptRepository {
 public:
  explicit ReceiptRepository(Db& db) : db_(db) {}
  ArchiveStatus Add(const ReceiptRecord& r);
  ArchiveResult<std::int64_t> AddEvidence(crypto::ByteView signed_receipt);
  ArchiveResult<std::int64_t> Count(const std::string& kind);
  ArchiveResult<std::vector<std::pair<Bytes, std::string>>> Unreceipted(std::int64_t after, std::int64_t until);
  ArchiveResult<std::vector<ReceiptRecord>> ForMessage(crypto::ByteView message_id);
  ArchiveResult<std::vector<PurgeItem>> ListBefore(std::int64_t before);
  ArchiveStatus DeleteBefore(std::int64_t before);

 private:
  Db& db_;
};

// attachments: metadata and per-file keys; the bytes are secretstream files under blob_dir.
class AttachmentRepository {
 public:
  AttachmentRepository(Db& db, std::string blob_dir) : db_(db), blob_dir_(std::move(blob_dir)) {}
  void SetNameKey(Bytes key) { name_key_ = std::move(key); }
  ArchiveResult<AttachmentRecord> Add(std::istream& in, const std::string& name, const std::string& media_type,
                                      crypto::ByteView message_id, std::int64_t at);
  ArchiveStatus Read(crypto::ByteView content_hash, std::ostream& out);
  ArchiveResult<std::optional<AttachmentRecord>> Get(crypto::ByteView content_hash, crypto::SecretBytes* key);
  ArchiveResult<std::optional<std::string>> BlobOfStream(crypto::ByteView stream_hash);
  ArchiveResult<AttachmentRecord> Adopt(const std::string& stream_path, const crypto::SecretBytes& key,
                                        const AttachmentRecord& rec);
  ArchiveResult<std::vector<Bytes>> AllHashes();
  ArchiveResult<std::vector<PurgeItem>> ListBefore(std::int64_t before);
  ArchiveStatus DeleteBefore(std::int64_t before);
  std::string BlobPath(crypto::ByteView content_hash) const;
  const std::string& blob_dir() const { return blob_dir_; }

 private:
  // Moves the synced file at `tmp` to the blob path of rec.content_hash and inserts the row.
  ArchiveResult<AttachmentRecord> Store(const std::string& tmp, const crypto::SecretBytes& key,
                                        const AttachmentRecord& rec);
  // Fills in the stream hash of a row from before schema 5.
  ArchiveStatus BackfillStream(AttachmentRecord& rec);
  Db& db_;
  std::string blob_dir_;
  Bytes name_key_;
};

// audit_log: the hash-chained legal trace (docs/PROTOCOL.md §9.1).
class AuditLog {
 public:
  AuditLog(Db& db, MetaRepository& meta) : db_(db), meta_(meta) {}
  ArchiveStatus Append(std::int64_t at, const std::string& actor, const std::string& action,
                       const std::string& detail);
  ArchiveResult<std::vector<AuditEntry>> Tail(int limit);
  // Walks the chain from the first entry to the recorded head. On success returns a line
  // for the report; on a break, the break's description as the error message (kDamaged).
  ArchiveResult<std::string> Verify();

 private:
  Db& db_;
  MetaRepository& meta_;
};

}  // namespace comity::archive
