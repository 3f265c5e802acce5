#include "node/archive/schema.h"

#include <string>
#include <vector>

namespace comity::archive {
namespace {

// Each entry is one migration. Never edit a released migration: add a new one.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> migrations = {
      // 1: trust, messages, delivery, audit.
      R"sql(
CREATE TABLE meta (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL);
CREATE TABLE rosters (
  network_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  signed_roster BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (network_id, version));
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  message_id BLOB NOT NULL UNIQUE,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  sender TEXT NOT NULL,
  recipients TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  envelope BLOB NOT NULL,
  content BLOB NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX messages_created ON messages (created_at);
CREATE TABLE seen_ids (
  message_id BLOB PRIMARY KEY,
  seen_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  message_id BLOB NOT NULL,
  recipient TEXT NOT NULL,
  envelope BLOB NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (message_id, recipient));
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY,
  message_id BLOB NOT NULL,
  party TEXT NOT NULL,
  kind TEXT NOT NULL,
  signed_receipt BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  UNIQUE (message_id, party, kind));
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL);
)sql",
      // 2: the judicial workflow: threads of draft versions, notices, attachments.
      R"sql(
CREATE TABLE threads (
  id INTEGER PRIMARY KEY,
  thread_uid TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE draft_versions (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  version INTEGER NOT NULL,
  message_id BLOB NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (thread_id, version));
CREATE TABLE notices (
  id INTEGER PRIMARY KEY,
  message_id BLOB NOT NULL UNIQUE,
  sender TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  confidentiality TEXT NOT NULL,
  use_conditions TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE attachments (
  content_hash BLOB PRIMARY KEY,
  size INTEGER NOT NULL,
  name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  message_id BLOB NOT NULL,
  file_key BLOB NOT NULL,
  stored_at INTEGER NOT NULL) WITHOUT ROWID;
ALTER TABLE messages ADD COLUMN thread_uid TEXT NOT NULL DEFAULT '';
)sql",
      // 3: full-text search over what people wrote, newest first; backfills what exists.
      R"sql(
CREATE TABLE search_items (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref BLOB NOT NULL,
  thread_uid TEXT NOT NULL,
  sender TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- The greatest created_at of this item and of every item with a smaller id, which tells
  -- Archive::Search when no older item can still make its page. IndexText sets it; the
  -- default, never too small, would only make searches read further.
  newest_at INTEGER NOT NULL DEFAULT 9223372036854775807);
-- No index on ref: nothing looks items up by it, and an index on a random key costs every
-- insert a page read (and decryption) somewhere in the file.
-- order=DESC: doclists run newest docid first, so a search streams its matches newest first
-- instead of reading every one of them before the first.
CREATE VIRTUAL TABLE search_text USING fts4 (subject, body, tokenize=unicode61, order=DESC);
INSERT INTO search_items (kind, ref, thread_uid, sender, subject, created_at)
  SELECT 'message', message_id, thread_uid, sender, subject, created_at FROM messages ORDER BY created_at, id;
INSERT INTO search_text (docid, subject, body)
  SELECT s.id, m.subject, m.body FROM search_items s JOIN messages m ON m.message_id = s.ref WHERE s.kind = 'message';
-- Drafts, then notices, take the ids after the messages' (1..count), offset by their own row
-- ids, so each text reaches its item without a join on columns that need not be unique.
INSERT INTO search_items (id, kind, ref, thread_uid, sender, subject, created_at)
  SELECT (SELECT count(*) FROM messages) + d.id, 'draft', d.message_id, t.thread_uid, d.author, t.subject, d.created_at
  FROM draft_versions d JOIN threads t ON t.id = d.thread_id;
INSERT INTO search_text (docid, subject, body)
  SELECT (SELECT count(*) FROM messages) + d.id, t.subject, d.text
  FROM draft_versions d JOIN threads t ON t.id = d.thread_id;
INSERT INTO search_items (id, kind, ref, thread_uid, sender, subject, created_at)
  SELECT (SELECT count(*) FROM messages) + (SELECT coalesce(max(id), 0) FROM draft_versions) + n.id, 'notice',
         n.message_id, '', n.sender, n.subject, n.created_at
  FROM notices n;
INSERT INTO search_text (docid, subject, body)
  SELECT (SELECT count(*) FROM messages) + (SELECT coalesce(max(id), 0) FROM draft_versions) + n.id, n.subject, n.body
  FROM notices n;
-- newest_at of the backfill: the messages took ids 1..count in created_at order, so each
-- message is its own bound; the drafts and notices after them take the newest of all.
UPDATE search_items SET newest_at = CASE WHEN id <= (SELECT count(*) FROM messages) THEN created_at
                                         ELSE (SELECT max(created_at) FROM search_items) END;
)sql",
      // 4: every text stored once, and rows that fill their pages. Until 3 a message's body was
      // kept three times (messages.body, the content, the full-text table's own copy) in rows
      // of 3.3 KB, one to a 4 KiB page. Now search_items holds the subject and body, the
      // full-text table reads them from there (external content), and the envelope moves to a
      // table of its own, so messages and envelopes both take three rows to a page.
      R"sql(
-- AUTOINCREMENT: an item id is never given twice, even after a purge removed the newest
-- items, so the full-text partitions (ranges of ids) stay ordered.
CREATE TABLE search_items_v4 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  ref BLOB NOT NULL,
  thread_uid TEXT NOT NULL,
  sender TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  newest_at INTEGER NOT NULL);
INSERT INTO search_items_v4 (id, kind, ref, thread_uid, sender, subject, body, created_at, newest_at)
  SELECT s.id, s.kind, s.ref, s.thread_uid, s.sender, s.subject,
         coalesce((SELECT t.body FROM search_text t WHERE t.docid = s.id), ''), s.created_at, s.newest_at
  FROM search_items s;
DROP TABLE search_items;
ALTER TABLE search_items_v4 RENAME TO search_items;
CREATE TABLE envelopes (
  id INTEGER PRIMARY KEY,  -- messages.id
  envelope BLOB NOT NULL);
INSERT INTO envelopes (id, envelope) SELECT id, envelope FROM messages;
CREATE TABLE messages_v4 (
  id INTEGER PRIMARY KEY,
  message_id BLOB NOT NULL UNIQUE,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  sender TEXT NOT NULL,
  recipients TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  thread_uid TEXT NOT NULL,
  search_id INTEGER NOT NULL,  -- its search_items row, which holds the subject and body
  content BLOB NOT NULL);
CREATE INDEX search_items_ref_v4 ON search_items (ref, kind);
INSERT INTO messages_v4 (id, message_id, direction, sender, recipients, created_at, stored_at, content_type,
                         thread_uid, search_id, content)
  SELECT m.id, m.message_id, m.direction, m.sender, m.recipients, m.created_at, m.stored_at, m.content_type,
         m.thread_uid,
         coalesce((SELECT s.id FROM search_items s WHERE s.ref = m.message_id AND s.kind = 'message'), 0), m.content
  FROM messages m;
DROP INDEX search_items_ref_v4;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_created ON messages (created_at);
DROP TABLE search_text;
-- The full-text index in partitions by item id (SearchIndex): the first holds every item so
-- far; SearchIndex adds the next when one is full, with the same definition
-- (SearchIndex::kPartDefinition). matchinfo=fts3: nothing ranks, so no per-document sizes.
CREATE TABLE search_parts (
  part INTEGER PRIMARY KEY,
  first_item INTEGER NOT NULL);
INSERT INTO search_parts (part, first_item) VALUES (0, 1);
CREATE VIRTUAL TABLE search_text_0 USING fts4 (subject, body, content="search_items", matchinfo=fts3, tokenize=unicode61, order=DESC);
INSERT INTO search_text_0 (search_text_0) VALUES ('rebuild');
)sql",
      // 5: attachments travel between nodes as their encrypted stream, named by its hash
      // (docs/PROTOCOL.md §10.6): a node serves a file by that hash. Rows from before have
      // none until they are first sent (AttachmentRepository::Add fills it in).
      R"sql(
ALTER TABLE attachments ADD COLUMN stream_hash BLOB;
ALTER TABLE attachments ADD COLUMN stream_size INTEGER NOT NULL DEFAULT 0;
CREATE INDEX attachments_stream ON attachments (stream_hash);
)sql",
      // 6: one signed receipt covers many messages (docs/PROTOCOL.md §10.4): it is stored once,
      // in `evidence`, and each message's row points at it. Rows from before keep theirs in
      // `signed_receipt` (evidence_id 0).
      R"sql(
CREATE TABLE evidence (
  id INTEGER PRIMARY KEY,
  signed BLOB NOT NULL);
ALTER TABLE receipts ADD COLUMN evidence_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX receipts_evidence ON receipts (evidence_id);
CREATE INDEX receipts_kind ON receipts (kind);
)sql",
      // 7: the judicial workflow over the wire (docs/PROTOCOL.md §11, §13): a message keeps its
      // content key (so that an evidence bundle can disclose it), a thread's messages are found
      // by thread, a thread keeps the folded view of its events, and a notice its direction,
      // recipients and when its conditions were accepted.
      R"sql(
ALTER TABLE messages ADD COLUMN content_key BLOB NOT NULL DEFAULT x'';
CREATE INDEX messages_thread ON messages (thread_uid, message_id) WHERE thread_uid <> '';
ALTER TABLE threads ADD COLUMN summary BLOB NOT NULL DEFAULT x'';
ALTER TABLE notices ADD COLUMN direction TEXT NOT NULL DEFAULT 'in';
ALTER TABLE notices ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN accepted_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notices ADD COLUMN files BLOB NOT NULL DEFAULT x'';
)sql",
  };
  return migrations;
}

}  // namespace

ArchiveResult<int> SchemaVersion(Db& db) {
  auto stmt = db.Prepare("PRAGMA user_version");
  if (!stmt) return stmt.error();
  auto row = (*stmt)->Reset().Step();
  if (!row) return row.error();
  int version = static_cast<int>((*stmt)->Int(0));
  (*stmt)->Reset();
  return version;
}

ArchiveStatus Migrate(Db& db, int target) {
  auto current = SchemaVersion(db);
  if (!current) return current.error();
  const int known = static_cast<int>(Migrations().size());
  if (*current > known) {
    return Fail(ArchiveCode::kInvalid, db.path() + " has schema version " + std::to_string(*current) +
                                           ", newer than this comityd knows (" + std::to_string(known) + ")");
  }
  for (int v = *current + 1; v <= target && v <= known; ++v) {
    Txn txn(db);
    if (auto st = txn.Begin(); !st) return st;
    if (auto st = db.Exec(Migrations()[v - 1]); !st) return st;
    if (auto st = db.Exec("PRAGMA user_version = " + std::to_string(v)); !st) return st;
    if (auto st = txn.Commit(); !st) return st;
  }
  return {};
}

}  // namespace comity::archive
