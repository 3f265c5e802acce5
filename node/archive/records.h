// The archive's records: plain values that repositories store and return (archive.h says
// what each table is for). No behaviour, no threading concerns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/sodium.h"

namespace comity::archive {

using crypto::Bytes;

struct MessageRecord {
  Bytes message_id;          // crypto::MessageId: created_at, then a hash of the signed body
  std::string direction;     // "in" or "out"
  std::string sender;        // MEMBER@NETWORK
  std::string recipients;    // MEMBER@NETWORK,...
  std::int64_t created_at = 0;
  std::int64_t stored_at = 0;
  std::string content_type;
  Bytes envelope;            // the exact signed envelope bytes
  Bytes content;             // the decrypted plaintext
  std::string thread_uid;    // empty: not part of a thread
  std::string subject;       // indexed for search
  std::string body;          // indexed for search
  Bytes content_key;         // the envelope's content key (evidence bundles), empty before schema 7
};

struct ThreadRecord {
  std::string thread_uid;
  std::string subject;
  std::string kind;          // e.g. mla-request, extradition
  std::string status;        // e.g. draft, agreed, submitted
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  Bytes summary;             // serialized comity.v1.ThreadView without events (schema 7)
};

struct DraftVersion {
  std::string thread_uid;
  std::int64_t version = 0;
  Bytes message_id;
  std::string author;        // MEMBER@NETWORK
  std::string text;          // indexed for search
  std::int64_t created_at = 0;
};

struct NoticeRecord {
  Bytes message_id;
  std::string sender;
  std::string subject;       // indexed
  std::string body;          // indexed
  std::string confidentiality;
  std::string use_conditions;
  std::int64_t created_at = 0;
  // Schema 7:
  std::string direction = "in";  // in, out
  std::string recipients;        // MEMBER@NETWORK,...
  std::int64_t accepted_at = 0;  // in: when its conditions were accepted here; 0: not yet
  Bytes files;                   // its attachments: a serialized comity.v1.NoticeView with only those
  std::int64_t number = 0;       // its row id: the number people give (read only)
};

struct OutboxEntry {
  std::int64_t id = 0;
  Bytes message_id;
  std::string recipient;
  Bytes envelope;
  std::int64_t next_attempt_at = 0;
  std::int64_t attempts = 0;
  std::int64_t expires_at = 0;  // 0: never
};

struct ReceiptRecord {
  Bytes message_id;
  std::string party;
  std::string kind;          // accepted, relayed, delivered, read, not-delivered
  Bytes signed_receipt;      // read back from `evidence` when the receipt covers many messages
  std::int64_t received_at = 0;
  std::int64_t evidence_id = 0;  // writing: the AddEvidence row that holds signed_receipt
};

struct AttachmentRecord {
  Bytes content_hash;        // BLAKE2b-256 of the plaintext
  std::uint64_t size = 0;
  std::string name;
  std::string media_type;
  Bytes message_id;
  std::int64_t stored_at = 0;
  Bytes stream_hash;         // BLAKE2b-256 of the encrypted stream (the blob file's bytes)
  std::uint64_t stream_size = 0;
};

struct AuditEntry {
  std::int64_t seq = 0;
  std::int64_t at = 0;
  std::string actor;
  std::string action;
  std::string detail;
  Bytes prev_hash;
  Bytes hash;
};

struct SearchHit {
  std::string kind;          // message, draft, notice
  std::string thread_uid;
  std::string sender;
  std::string subject;
  std::int64_t created_at = 0;
  Bytes message_id;
};

// What `archive verify` found. ok only when every check held.
struct VerifyReport {
  bool ok = true;
  std::vector<std::string> checked;   // one line per check that passed
  std::string first_break;            // empty when ok
};

struct PurgeReport {
  std::int64_t messages = 0, drafts = 0, notices = 0, receipts = 0, attachments = 0;
  bool wal_checkpointed = true;  // false: removed content may linger in the WAL until the next checkpoint
};

}  // namespace comity::archive
