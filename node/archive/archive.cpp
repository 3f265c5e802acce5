#include "node/archive/archive.h"

#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <tuple>

#include "crypto/stream.h"
#include "node/archive/schema.h"
#include "node/files.h"
#include "proto/node.pb.h"

namespace comity::archive {
namespace {

using crypto::AsBytes;
using crypto::AsString;

constexpr char kDbName[] = "/archive.db";
constexpr char kKdfName[] = "/archive.kdf";
constexpr char kBlobDir[] = "/blobs";
constexpr std::string_view kKeyCheckLabel = "comity/v1/archive-key-check";
constexpr std::string_view kAuditDomain = "comity/v1/audit";
constexpr char kBackupMagic[8] = {'C', 'O', 'M', 'I', 'T', 'Y', 'B', '1'};

Bytes KeyCheck(const crypto::SecretBytes& key) {
  return crypto::Blake2bKeyed(key.view(), AsBytes(kKeyCheckLabel), 32);
}

void AppendLe(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void AppendField(Bytes& out, const std::string& s) {
  AppendLe(out, s.size(), 4);
  out.insert(out.end(), s.begin(), s.end());
}

// hash = BLAKE2b-256("comity/v1/audit" 0x00 || prev_hash || le64 seq || le64 at ||
//                    le32 len || actor || le32 len || action || le32 len || detail)
Bytes AuditHash(const Bytes& prev, std::int64_t seq, std::int64_t at, const std::string& actor,
                const std::string& action, const std::string& detail) {
  Bytes m(kAuditDomain.begin(), kAuditDomain.end());
  m.push_back(0);
  m.insert(m.end(), prev.begin(), prev.end());
  AppendLe(m, static_cast<std::uint64_t>(seq), 8);
  AppendLe(m, static_cast<std::uint64_t>(at), 8);
  AppendField(m, actor);
  AppendField(m, action);
  AppendField(m, detail);
  return crypto::Blake2b(m, 32);
}

ArchiveError IoFail(const std::string& what, const std::string& path) {
  return Fail(errno == ENOSPC || errno == EFBIG || errno == EDQUOT ? ArchiveCode::kFull : ArchiveCode::kIo,
              what + " " + path + ": " + std::strerror(errno));
}

ArchiveStatus FromStatus(Status<> st, ArchiveCode code) {
  if (st) return {};
  return Fail(code, st.error().message);
}

void RemoveDbFiles(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

std::string Hex(crypto::ByteView b) { return crypto::ToHex(b); }

}  // namespace

ArchiveResult<crypto::SecretBytes> DeriveArchiveKey(crypto::ByteView passphrase, const std::string& kdf_bytes) {
  v1::ArchiveKdf kdf;
  if (!kdf.ParseFromString(kdf_bytes) || kdf.format() != 1) {
    return Fail(ArchiveCode::kDamaged, "archive.kdf is damaged: it does not parse");
  }
  auto key = crypto::DeriveKey(passphrase, AsBytes(kdf.salt()), {kdf.opslimit(), kdf.memlimit()});
  if (!key) return Fail(ArchiveCode::kDamaged, "archive.kdf: " + key.error().message);
  if (!crypto::ConstantTimeEqual(KeyCheck(*key), AsBytes(kdf.key_check()))) {
    return Fail(ArchiveCode::kWrongPassphrase, "wrong passphrase or not a Comity archive");
  }
  return std::move(key).value();
}

namespace {

// A new salt, the derived key and the serialized ArchiveKdf that records them.
ArchiveResult<std::pair<crypto::SecretBytes, std::string>> NewKey(crypto::ByteView passphrase,
                                                                  const crypto::KdfParams& params) {
  Bytes salt = crypto::RandomBytes(16);
  auto key = crypto::DeriveKey(passphrase, salt, params);
  if (!key) return Fail(ArchiveCode::kInvalid, key.error().message);
  v1::ArchiveKdf kdf;
  kdf.set_format(1);
  kdf.set_opslimit(params.opslimit);
  kdf.set_memlimit(params.memlimit);
  kdf.set_salt(AsString(salt));
  kdf.set_key_check(AsString(KeyCheck(*key)));
  return std::make_pair(std::move(key).value(), kdf.SerializeAsString());
}

// SQLite's page cache (2 MiB by default). SQLCipher decrypts every page it reads into the cache
// and the random-keyed indexes (message ids) touch pages all over the file: with the default,
// inserts into a large archive keep re-reading and re-decrypting the same pages.
constexpr const char* kCachePragma = "PRAGMA cache_size = -65536";  // KiB: 64 MiB

// Keys a connection and applies the archive's pragmas. A wrong key shows here as kWrongPassphrase
// (plain SQLite: not a database); callers that know the key is right report it as damage.
ArchiveStatus Prepare(Db& db, const crypto::SecretBytes& key) {
  if (auto st = db.Key(key); !st) return st;
  auto probe = db.Exec("SELECT count(*) FROM sqlite_master");
  if (!probe) return probe;
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON",
                             "PRAGMA synchronous = FULL", kCachePragma}) {
    if (auto st = db.Exec(pragma); !st) return st;
  }
  return {};
}

// Runs PRAGMA integrity_check or quick_check (every page decrypts, every b-tree holds): the
// problems found, one per entry (SQLite may put several lines in one row); none when sound.
ArchiveResult<std::vector<std::string>> PageProblems(Db& db, const char* pragma) {
  auto check = db.Prepare(pragma);
  if (!check) return check.error();
  std::vector<std::string> problems;
  (*check)->Reset();
  for (;;) {
    auto row = (*check)->Step();
    if (!row) return row.error();
    if (!*row) break;
    std::string text = (*check)->Text(0);
    for (std::size_t at = 0; at <= text.size();) {
      std::size_t end = std::min(text.find('\n', at), text.size());
      std::string line = text.substr(at, end - at);
      if (!line.empty() && line != "ok") problems.push_back(line);
      at = end + 1;
    }
  }
  return problems;
}

// The first problems, on one line: a damaged file can yield thousands.
std::string OneLine(const std::vector<std::string>& problems) {
  std::string out;
  for (std::size_t i = 0; i < problems.size() && i < 3; ++i) out += (i == 0 ? "" : "; ") + problems[i];
  if (problems.size() > 3) out += " (and " + std::to_string(problems.size() - 3) + " more)";
  return out;
}

// Whether a fresh connection with `key` reads the database at `path`.
ArchiveStatus OpensWith(const std::string& path, const crypto::SecretBytes& key) {
  auto db = Db::Open(path, false);
  if (!db) return db.error();
  if (auto st = (*db)->Key(key); !st) return st;
  return (*db)->Exec("SELECT count(*) FROM sqlite_master");
}

}  // namespace

Archive::~Archive() = default;

ArchiveStatus Archive::Setup(int target_version) {
  if (auto st = Migrate(*db_, target_version); !st) return st;
  auto v = SchemaVersion(*db_);
  if (!v) return v.error();
  schema_version_ = *v;
  // The blob-naming key is random and lives inside the encrypted database, so file names
  // reveal nothing about contents and survive a rekey.
  auto get = db_->Prepare("SELECT value FROM meta WHERE name = 'blob_name_key'");
  if (!get) return get.error();
  auto row = (*get)->Reset().Step();
  if (!row) return row.error();
  if (*row) {
    blob_name_key_ = (*get)->Blob(0);
    (*get)->Reset();
    if (blob_name_key_.size() != 32) return Fail(ArchiveCode::kDamaged, db_->path() + " is damaged: bad blob naming key");
    return {};
  }
  (*get)->Reset();
  blob_name_key_ = crypto::RandomBytes(32);
  auto put = db_->Prepare("INSERT INTO meta (name, value) VALUES ('blob_name_key', ?1)");
  if (!put) return put.error();
  return (*put)->Reset().BindBlob(1, blob_name_key_).Run();
}

ArchiveResult<std::unique_ptr<Archive>> Archive::OpenRaw(const std::string& path, const std::string& blob_dir,
                                                         const crypto::SecretBytes& key, int schema_version) {
  auto db = Db::Open(path, true);
  if (!db) return db.error();
  if (auto st = Prepare(**db, key); !st) return st.error();
  std::unique_ptr<Archive> a(new Archive(std::move(db).value(), "", blob_dir, key.Clone()));
  if (auto st = a->Setup(schema_version); !st) return st.error();
  return a;
}

ArchiveResult<std::unique_ptr<Archive>> Archive::Create(const std::string& home, crypto::ByteView passphrase,
                                                        const crypto::KdfParams& params) {
  const std::string db_path = home + kDbName;
  const std::string kdf_path = home + kKdfName;
  if (node::FileExists(db_path) || node::FileExists(kdf_path)) {
    return Fail(ArchiveCode::kExists, "refusing to overwrite the existing archive in " + home);
  }
  auto fresh = NewKey(passphrase, params);
  if (!fresh) return fresh.error();
  auto& [key, kdf_bytes] = *fresh;
  if (::mkdir((home + kBlobDir).c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", home + kBlobDir);
  auto db = Db::Open(db_path, true);
  if (!db) return db.error();
  std::unique_ptr<Archive> a(new Archive(std::move(db).value(), home, home + kBlobDir, key.Clone()));
  auto undo = [&](ArchiveError e) {
    a.reset();
    RemoveDbFiles(db_path);
    return e;
  };
  if (auto st = Prepare(a->db(), key); !st) return undo(st.error());
  if (auto st = a->Setup(kSchemaVersion); !st) return undo(st.error());
  ::chmod(db_path.c_str(), 0600);
  // The kdf file last: its presence says an archive exists.
  if (auto st = node::WriteFileAtomic(kdf_path, kdf_bytes, 0600, true); !st) {
    return undo(Fail(ArchiveCode::kIo, st.error().message));
  }
  return a;
}

ArchiveResult<std::unique_ptr<Archive>> Archive::Open(const std::string& home, crypto::ByteView passphrase) {
  const std::string db_path = home + kDbName;
  const std::string kdf_path = home + kKdfName;
  if (!node::FileExists(kdf_path)) {
    if (node::FileExists(db_path)) return Fail(ArchiveCode::kDamaged, kdf_path + " is missing beside " + db_path);
    return Fail(ArchiveCode::kMissing, "no archive in " + home);
  }
  auto kdf_bytes = node::ReadFile(kdf_path, 4096);
  if (!kdf_bytes) return Fail(ArchiveCode::kIo, kdf_bytes.error().message);
  auto key = DeriveArchiveKey(passphrase, *kdf_bytes);
  // An interrupted rekey leaves the new parameters in archive.kdf.new (see Rekey).
  const bool rekey_pending = node::FileExists(kdf_path + ".new");
  bool using_new_key = false;
  if (!key && key.error().code == ArchiveCode::kWrongPassphrase && rekey_pending) {
    auto pending = node::ReadFile(kdf_path + ".new", 4096);
    if (pending) {
      auto new_key = DeriveArchiveKey(passphrase, *pending);
      if (new_key) {
        key = std::move(new_key).value();
        using_new_key = true;
      }
    }
  }
  if (!key) return key.error();
  if (!node::FileExists(db_path)) return Fail(ArchiveCode::kDamaged, db_path + " is missing");
  // SQLite takes an empty file for an empty database, and Setup would build a new archive in it.
  if (struct stat st {}; ::stat(db_path.c_str(), &st) == 0 && st.st_size == 0) {
    return Fail(ArchiveCode::kDamaged, db_path + " is damaged: it is empty");
  }
  auto db = Db::Open(db_path, false);
  if (!db) return db.error();
  std::unique_ptr<Archive> a(new Archive(std::move(db).value(), home, home + kBlobDir, key->Clone()));
  if (auto st = Prepare(a->db(), *key); !st) {
    // The passphrase is right (the check value matched), so the file itself is at fault.
    if (st.error().code == ArchiveCode::kWrongPassphrase) {
      if (rekey_pending) {
        return Fail(ArchiveCode::kWrongPassphrase,
                    using_new_key ? "an interrupted passphrase change never reached " + db_path + ": use the old passphrase"
                                  : db_path + " holds the key of an interrupted passphrase change: use the new passphrase");
      }
      return Fail(ArchiveCode::kDamaged, db_path + " is damaged: it does not decrypt with the archive key");
    }
    return Fail(st.error().code == ArchiveCode::kIo ? ArchiveCode::kDamaged : st.error().code,
                db_path + " is damaged: " + st.error().message);
  }
  if (auto st = a->Setup(kSchemaVersion); !st) {
    return Fail(st.error().code == ArchiveCode::kIo ? ArchiveCode::kDamaged : st.error().code, st.error().message);
  }
  // Touch the newest audit entry: a truncated file usually loses its last pages first.
  if (auto tail = a->AuditTail(1); !tail) {
    return Fail(ArchiveCode::kDamaged, db_path + " is damaged: " + tail.error().message);
  }
  if (node::FileExists(kdf_path + ".new")) {
    // The database opened with the key of archive.kdf.new: the rekey completed; finish it.
    auto pending = node::ReadFile(kdf_path + ".new", 4096);
    if (pending && DeriveArchiveKey(passphrase, *pending)) {
      if (::rename((kdf_path + ".new").c_str(), kdf_path.c_str()) != 0) return IoFail("cannot finish rekey of", kdf_path);
    } else {
      ::unlink((kdf_path + ".new").c_str());  // the rekey never happened
    }
  }
  return a;
}

ArchiveStatus Archive::Batch(const std::function<ArchiveStatus()>& body) {
  Txn txn(*db_);
  if (auto st = txn.Begin(); !st) return st;
  if (auto st = body(); !st) return st;
  return txn.Commit();
}

// ---- rosters ------------------------------------------------------------------------------

ArchiveStatus Archive::RecordRoster(const std::string& network_id, std::uint64_t version,
                                    crypto::ByteView signed_roster, std::int64_t at) {
  auto s = db_->Prepare(
      "INSERT OR IGNORE INTO rosters (network_id, version, signed_roster, received_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, network_id).Bind(2, static_cast<std::int64_t>(version)).BindBlob(3, signed_roster)
      .Bind(4, at).Run();
}

namespace {
ArchiveResult<std::int64_t> CountOf(Db& db, const char* sql) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  auto row = (*s)->Reset().Step();
  if (!row) return row.error();
  std::int64_t n = (*s)->Int(0);
  (*s)->Reset();
  return n;
}
}  // namespace

ArchiveResult<std::int64_t> Archive::RosterCount() { return CountOf(*db_, "SELECT count(*) FROM rosters"); }
ArchiveResult<std::int64_t> Archive::MessageCount() { return CountOf(*db_, "SELECT count(*) FROM messages"); }

// ---- messages -----------------------------------------------------------------------------

ArchiveStatus Archive::IndexText(const std::string& kind, crypto::ByteView ref, const std::string& thread_uid,
                                 const std::string& sender, const std::string& subject, const std::string& body,
                                 std::int64_t created_at) {
  // newest_at (see Archive::Search): the item with the greatest id carries the bound so far.
  auto item = db_->Prepare(
      "INSERT INTO search_items (kind, ref, thread_uid, sender, subject, created_at, newest_at) VALUES (?1, ?2, ?3, ?4, "
      "?5, ?6, max(?6, coalesce((SELECT newest_at FROM search_items ORDER BY id DESC LIMIT 1), ?6)))");
  if (!item) return item.error();
  if (auto st = (*item)->Reset().Bind(1, kind).BindBlob(2, ref).Bind(3, thread_uid).Bind(4, sender).Bind(5, subject)
                    .Bind(6, created_at).Run();
      !st) {
    return st;
  }
  auto text = db_->Prepare("INSERT INTO search_text (docid, subject, body) VALUES (?1, ?2, ?3)");
  if (!text) return text.error();
  return (*text)->Reset().Bind(1, db_->LastInsertRowid()).Bind(2, subject).Bind(3, body).Run();
}

ArchiveResult<bool> Archive::AddMessage(const MessageRecord& m) {
  auto seen = db_->Prepare("INSERT OR IGNORE INTO seen_ids (message_id, seen_at) VALUES (?1, ?2)");
  if (!seen) return seen.error();
  if (auto st = (*seen)->Reset().BindBlob(1, m.message_id).Bind(2, m.stored_at).Run(); !st) return st.error();
  if (db_->Changes() == 0) return false;  // a duplicate: recognised, not stored twice
  auto ins = db_->Prepare(
      "INSERT INTO messages (message_id, direction, sender, recipients, created_at, stored_at, content_type, "
      "envelope, content, subject, body, thread_uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().BindBlob(1, m.message_id).Bind(2, m.direction).Bind(3, m.sender)
                    .Bind(4, m.recipients).Bind(5, m.created_at).Bind(6, m.stored_at).Bind(7, m.content_type)
                    .BindBlob(8, m.envelope).BindBlob(9, m.content).Bind(10, m.subject).Bind(11, m.body)
                    .Bind(12, m.thread_uid).Run();
      !st) {
    return st.error();
  }
  if (auto st = IndexText("message", m.message_id, m.thread_uid, m.sender, m.subject, m.body, m.created_at); !st) {
    return st.error();
  }
  return true;
}

ArchiveResult<std::optional<MessageRecord>> Archive::GetMessage(crypto::ByteView message_id) {
  auto s = db_->Prepare(
      "SELECT direction, sender, recipients, created_at, stored_at, content_type, envelope, content, subject, body, "
      "thread_uid FROM messages WHERE message_id = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, message_id).Step();
  if (!row) return row.error();
  if (!*row) return std::optional<MessageRecord>();
  Stmt& q = **s;
  MessageRecord m{Bytes(message_id.begin(), message_id.end()), q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4),
                  q.Text(5), q.Blob(6), q.Blob(7), q.Text(10), q.Text(8), q.Text(9)};
  q.Reset();
  return std::optional<MessageRecord>(std::move(m));
}

// ---- threads, drafts, notices ---------------------------------------------------------------

ArchiveStatus Archive::PutThread(const ThreadRecord& t) {
  // SQLite 3.15 has no UPSERT: insert if new, then update what may change.
  auto ins = db_->Prepare(
      "INSERT OR IGNORE INTO threads (thread_uid, subject, kind, status, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().Bind(1, t.thread_uid).Bind(2, t.subject).Bind(3, t.kind).Bind(4, t.status)
                    .Bind(5, t.created_at).Bind(6, t.updated_at).Run();
      !st) {
    return st;
  }
  auto upd = db_->Prepare("UPDATE threads SET subject = ?2, status = ?3, updated_at = ?4 WHERE thread_uid = ?1");
  if (!upd) return upd.error();
  return (*upd)->Reset().Bind(1, t.thread_uid).Bind(2, t.subject).Bind(3, t.status).Bind(4, t.updated_at).Run();
}

ArchiveResult<std::optional<ThreadRecord>> Archive::GetThread(const std::string& thread_uid) {
  auto s = db_->Prepare("SELECT subject, kind, status, created_at, updated_at FROM threads WHERE thread_uid = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().Bind(1, thread_uid).Step();
  if (!row) return row.error();
  if (!*row) return std::optional<ThreadRecord>();
  Stmt& q = **s;
  ThreadRecord t{thread_uid, q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)};
  q.Reset();
  return std::optional<ThreadRecord>(std::move(t));
}

ArchiveStatus Archive::AddDraft(const DraftVersion& d) {
  auto s = db_->Prepare(
      "INSERT INTO draft_versions (thread_id, version, message_id, author, text, created_at) "
      "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM threads WHERE thread_uid = ?1");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().Bind(1, d.thread_uid).Bind(2, d.version).BindBlob(3, d.message_id).Bind(4, d.author)
                    .Bind(5, d.text).Bind(6, d.created_at).Run();
      !st) {
    return st;
  }
  if (db_->Changes() == 0) return Fail(ArchiveCode::kInvalid, "no thread " + d.thread_uid + " for this draft");
  auto thread = GetThread(d.thread_uid);
  if (!thread) return thread.error();
  return IndexText("draft", d.message_id, d.thread_uid, d.author, (*thread)->subject, d.text, d.created_at);
}

ArchiveResult<std::vector<DraftVersion>> Archive::Drafts(const std::string& thread_uid) {
  auto s = db_->Prepare(
      "SELECT d.version, d.message_id, d.author, d.text, d.created_at FROM draft_versions d "
      "JOIN threads t ON t.id = d.thread_id WHERE t.thread_uid = ?1 ORDER BY d.version");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, thread_uid);
  std::vector<DraftVersion> out;
  for (;;) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({thread_uid, q.Int(0), q.Blob(1), q.Text(2), q.Text(3), q.Int(4)});
  }
  return out;
}

ArchiveStatus Archive::AddNotice(const NoticeRecord& n) {
  auto s = db_->Prepare(
      "INSERT INTO notices (message_id, sender, subject, body, confidentiality, use_conditions, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().BindBlob(1, n.message_id).Bind(2, n.sender).Bind(3, n.subject).Bind(4, n.body)
                    .Bind(5, n.confidentiality).Bind(6, n.use_conditions).Bind(7, n.created_at).Run();
      !st) {
    return st;
  }
  return IndexText("notice", n.message_id, "", n.sender, n.subject, n.body, n.created_at);
}

// ---- outbox, receipts -----------------------------------------------------------------------

ArchiveStatus Archive::Enqueue(const OutboxEntry& e) {
  auto s = db_->Prepare(
      "INSERT INTO outbox (message_id, recipient, envelope, next_attempt_at, attempts, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.error();
  return (*s)->Reset().BindBlob(1, e.message_id).Bind(2, e.recipient).BindBlob(3, e.envelope)
      .Bind(4, e.next_attempt_at).Bind(5, e.attempts).Bind(6, e.expires_at).Run();
}

ArchiveResult<std::vector<OutboxEntry>> Archive::DueOutbox(std::int64_t now, int limit) {
  auto s = db_->Prepare(
      "SELECT id, message_id, recipient, envelope, next_attempt_at, attempts, expires_at FROM outbox "
      "WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, now).Bind(2, static_cast<std::int64_t>(limit));
  std::vector<OutboxEntry> out;
  for (;;) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({q.Int(0), q.Blob(1), q.Text(2), q.Blob(3), q.Int(4), q.Int(5), q.Int(6)});
  }
  return out;
}

ArchiveStatus Archive::RecordAttempt(std::int64_t id, std::int64_t next_attempt_at) {
  auto s = db_->Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, id).Bind(2, next_attempt_at).Run();
}

ArchiveStatus Archive::RemoveFromOutbox(std::int64_t id) {
  auto s = db_->Prepare("DELETE FROM outbox WHERE id = ?1");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, id).Run();
}

ArchiveStatus Archive::AddReceipt(const ReceiptRecord& r) {
  auto s = db_->Prepare(
      "INSERT OR IGNORE INTO receipts (message_id, party, kind, signed_receipt, received_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.error();
  return (*s)->Reset().BindBlob(1, r.message_id).Bind(2, r.party).Bind(3, r.kind).BindBlob(4, r.signed_receipt)
      .Bind(5, r.received_at).Run();
}

ArchiveResult<std::vector<ReceiptRecord>> Archive::Receipts(crypto::ByteView message_id) {
  auto s = db_->Prepare(
      "SELECT party, kind, signed_receipt, received_at FROM receipts WHERE message_id = ?1 ORDER BY id");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().BindBlob(1, message_id);
  std::vector<ReceiptRecord> out;
  for (;;) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({Bytes(message_id.begin(), message_id.end()), q.Text(0), q.Text(1), q.Blob(2), q.Int(3)});
  }
  return out;
}

// ---- attachments ----------------------------------------------------------------------------

std::string Archive::BlobPath(crypto::ByteView content_hash) const {
  std::string name = Hex(crypto::Blake2bKeyed(blob_name_key_, content_hash, 32));
  return blob_dir_ + "/" + name.substr(0, 2) + "/" + name;
}

ArchiveResult<AttachmentRecord> Archive::AddAttachment(std::istream& in, const std::string& name,
                                                       const std::string& media_type, crypto::ByteView message_id,
                                                       std::int64_t at) {
  if (::mkdir(blob_dir_.c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", blob_dir_);
  crypto::SecretBytes file_key(crypto_secretstream_xchacha20poly1305_KEYBYTES);
  crypto_secretstream_xchacha20poly1305_keygen(file_key.data());
  std::string tmp = blob_dir_ + "/incoming-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return IoFail("cannot create a blob in", blob_dir_);
  ::close(fd);
  crypto::StreamSummary summary;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    auto enc = crypto::EncryptStream(file_key, in, out);
    if (!enc || !out.flush()) {
      ::unlink(tmp.c_str());
      return Fail(ArchiveCode::kFull, "cannot write attachment " + name + " to " + blob_dir_ +
                                          (enc ? "" : ": " + enc.error().message));
    }
    summary = std::move(enc).value();
  }
  // Durability before the row that points at it.
  fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return IoFail("cannot sync", tmp);
  }
  ::close(fd);

  auto existing = db_->Prepare("SELECT size FROM attachments WHERE content_hash = ?1");
  if (!existing) return existing.error();
  auto row = (*existing)->Reset().BindBlob(1, summary.content_hash).Step();
  if (!row) return row.error();
  (*existing)->Reset();
  AttachmentRecord rec{summary.content_hash, summary.plaintext_bytes, name, media_type,
                       Bytes(message_id.begin(), message_id.end()), at};
  if (*row) {
    ::unlink(tmp.c_str());  // the same content is stored already
    return rec;
  }
  const std::string path = BlobPath(summary.content_hash);
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", dir);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return IoFail("cannot store blob", path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  auto ins = db_->Prepare(
      "INSERT INTO attachments (content_hash, size, name, media_type, message_id, file_key, stored_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().BindBlob(1, rec.content_hash).Bind(2, static_cast<std::int64_t>(rec.size))
                    .Bind(3, name).Bind(4, media_type).BindBlob(5, rec.message_id).BindBlob(6, file_key.view())
                    .Bind(7, at).Run();
      !st) {
    return st.error();
  }
  return rec;
}

ArchiveStatus Archive::ReadAttachment(crypto::ByteView content_hash, std::ostream& out) {
  auto s = db_->Prepare("SELECT file_key FROM attachments WHERE content_hash = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, content_hash).Step();
  if (!row) return row.error();
  if (!*row) return Fail(ArchiveCode::kMissing, "no attachment " + Hex(content_hash));
  Bytes raw_key = (*s)->Blob(0);
  (*s)->Reset();
  crypto::SecretBytes key(raw_key.size());
  std::copy(raw_key.begin(), raw_key.end(), key.data());
  sodium_memzero(raw_key.data(), raw_key.size());
  const std::string path = BlobPath(content_hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ArchiveCode::kDamaged, "attachment blob " + path + " is missing");
  auto dec = crypto::DecryptStream(key, in, out);
  if (!dec) return Fail(ArchiveCode::kDamaged, "attachment blob " + path + ": " + dec.error().message);
  if (!crypto::ConstantTimeEqual(dec->content_hash, content_hash)) {
    return Fail(ArchiveCode::kDamaged, "attachment blob " + path + " holds other content than recorded");
  }
  return {};
}

// ---- audit ----------------------------------------------------------------------------------

ArchiveStatus Archive::Audit(std::int64_t at, const std::string& actor, const std::string& action,
                             const std::string& detail) {
  auto head = db_->Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!head) return head.error();
  auto row = (*head)->Reset().Step();
  if (!row) return row.error();
  std::int64_t seq = 1;
  Bytes prev(32, 0);
  if (*row) {
    seq = (*head)->Int(0) + 1;
    prev = (*head)->Blob(1);
  }
  (*head)->Reset();
  Bytes hash = AuditHash(prev, seq, at, actor, action, detail);
  auto ins = db_->Prepare(
      "INSERT INTO audit_log (seq, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().Bind(1, seq).Bind(2, at).Bind(3, actor).Bind(4, action).Bind(5, detail)
                    .BindBlob(6, prev).BindBlob(7, hash).Run();
      !st) {
    return st;
  }
  // The head is kept apart from the log, so deleting the newest entries also shows.
  auto meta = db_->Prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('audit_head', ?1)");
  if (!meta) return meta.error();
  Bytes headv;
  AppendLe(headv, static_cast<std::uint64_t>(seq), 8);
  headv.insert(headv.end(), hash.begin(), hash.end());
  return (*meta)->Reset().BindBlob(1, headv).Run();
}

ArchiveResult<std::vector<AuditEntry>> Archive::AuditTail(int limit) {
  auto s = db_->Prepare(
      "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT ?1");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, static_cast<std::int64_t>(limit));
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Blob(5), q.Blob(6)});
  }
  return out;
}

// ---- search ---------------------------------------------------------------------------------

// Newest first by (created_at, id), without sorting every match: the full-text index hands
// out matches newest id first (order=DESC) as it reads them, and each item's newest_at bounds
// the created_at of every item at or below its id, so once the page is full the walk stops at
// the first item whose bound is no newer than the page's last hit. Messages arrive roughly in
// created_at order, so a page of even the commonest word costs about `limit` rows.
ArchiveResult<std::vector<SearchHit>> Archive::Search(const std::string& query, int limit) {
  auto s = db_->Prepare(
      "SELECT s.kind, s.thread_uid, s.sender, s.subject, s.created_at, s.ref, s.id, s.newest_at FROM search_text "
      "JOIN search_items s ON s.id = search_text.docid WHERE search_text MATCH ?1 ORDER BY search_text.docid DESC");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, query);
  struct Ranked {
    std::int64_t created_at, id;
    SearchHit hit;
  };
  auto newer = [](const Ranked& a, const Ranked& b) { return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id); };
  std::vector<Ranked> page;  // a heap under `newer`: its front is the page's last (oldest) hit
  const std::size_t want = limit < 0 ? SIZE_MAX : static_cast<std::size_t>(limit);
  for (;;) {
    auto row = q.Step();
    if (!row) {
      // A malformed FTS query is the caller's mistake, not damage.
      return Fail(ArchiveCode::kInvalid, "search '" + query + "' failed: " + row.error().message);
    }
    if (!*row) break;
    const std::int64_t created_at = q.Int(4), id = q.Int(6);
    if (page.size() >= want) {
      if (want == 0 || q.Int(7) <= page.front().created_at) break;  // nothing from here on is newer
      if (std::tie(created_at, id) < std::tie(page.front().created_at, page.front().id)) continue;
      std::pop_heap(page.begin(), page.end(), newer);
      page.pop_back();
    }
    page.push_back({created_at, id, {q.Text(0), q.Text(1), q.Text(2), q.Text(3), created_at, q.Blob(5)}});
    std::push_heap(page.begin(), page.end(), newer);
  }
  q.Reset();
  std::sort(page.begin(), page.end(), newer);
  std::vector<SearchHit> out;
  out.reserve(page.size());
  for (Ranked& r : page) out.push_back(std::move(r.hit));
  return out;
}

// ---- operations -----------------------------------------------------------------------------

ArchiveResult<VerifyReport> Archive::Verify() {
  VerifyReport report;
  auto fail = [&](std::string why) {
    report.ok = false;
    report.first_break = std::move(why);
    return report;
  };
  // 1. SQLCipher/SQLite integrity of every page and index.
  auto page_problems = PageProblems(*db_, "PRAGMA integrity_check");
  if (!page_problems) return fail("integrity check failed: " + page_problems.error().message);
  const std::string problems = OneLine(*page_problems);
  if (!problems.empty()) return fail(db_->path() + ": database integrity: " + problems);
  report.checked.push_back("database integrity: ok (every page decrypts and every index matches)");

  // 2. The audit chain, end to end, and its recorded head.
  auto s = db_->Prepare("SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq");
  if (!s) return fail(s.error().message);
  Stmt& q = **s;
  q.Reset();
  Bytes prev(32, 0);
  std::int64_t expected = 1;
  for (;;) {
    auto row = q.Step();
    if (!row) return fail("audit log unreadable: " + row.error().message);
    if (!*row) break;
    std::int64_t seq = q.Int(0);
    if (seq != expected) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(expected) + ": entry missing (next is " +
                  std::to_string(seq) + ")");
    }
    Bytes stored_prev = q.Blob(5);
    Bytes stored_hash = q.Blob(6);
    if (stored_prev != prev) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(seq) + ": it does not follow entry " +
                  std::to_string(seq - 1));
    }
    if (AuditHash(prev, seq, q.Int(1), q.Text(2), q.Text(3), q.Text(4)) != stored_hash) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(seq) + ": its content was altered");
    }
    prev = stored_hash;
    ++expected;
  }
  const std::int64_t entries = expected - 1;
  auto head = db_->Prepare("SELECT value FROM meta WHERE name = 'audit_head'");
  if (!head) return fail(head.error().message);
  auto hrow = (*head)->Reset().Step();
  if (!hrow) return fail(hrow.error().message);
  if (*hrow || entries > 0) {
    Bytes want;
    if (*hrow) want = (*head)->Blob(0);
    (*head)->Reset();
    Bytes have;
    AppendLe(have, static_cast<std::uint64_t>(entries), 8);
    have.insert(have.end(), prev.begin(), prev.end());
    if (want != have) return fail("audit chain broken at its end: entries after " + std::to_string(entries) + " were removed");
  } else {
    (*head)->Reset();
  }
  report.checked.push_back("audit chain: " + std::to_string(entries) + " entries, head " +
                           (entries > 0 ? Hex(prev).substr(0, 16) : std::string("(empty)")));

  // 3. Every attachment blob decrypts to its recorded hash.
  auto a = db_->Prepare("SELECT content_hash FROM attachments ORDER BY content_hash");
  if (!a) return fail(a.error().message);
  std::vector<Bytes> hashes;
  (*a)->Reset();
  for (;;) {
    auto row = (*a)->Step();
    if (!row) return fail(row.error().message);
    if (!*row) break;
    hashes.push_back((*a)->Blob(0));
  }
  for (const Bytes& h : hashes) {
    std::ofstream sink("/dev/null", std::ios::binary);
    if (auto st = ReadAttachment(h, sink); !st) return fail(st.error().message);
  }
  report.checked.push_back("attachments: " + std::to_string(hashes.size()) + " blobs decrypt to their recorded hashes");
  return report;
}

ArchiveStatus Archive::Backup(const std::string& out_path) {
  if (home_.empty()) return Fail(ArchiveCode::kInvalid, "only an archive opened from a home can be backed up");
  auto kdf_bytes = node::ReadFile(home_ + kKdfName, 4096);
  if (!kdf_bytes) return Fail(ArchiveCode::kIo, kdf_bytes.error().message);
  // sqlite3_backup copies the encrypted pages as they are into a file keyed alike.
  const std::string tmp_db = out_path + ".db-tmp";
  RemoveDbFiles(tmp_db);
  {
    auto dest = Db::Open(tmp_db, true);
    if (!dest) return dest.error();
    // The destination must carry the same key before a single page is copied: SQLCipher's
    // backup into an unkeyed database would write the pages decrypted.
    if (auto st = (*dest)->Key(key_); !st) {
      dest->reset();
      RemoveDbFiles(tmp_db);
      return st;
    }
    sqlite3_backup* b = sqlite3_backup_init((*dest)->raw(), "main", db_->raw(), "main");
    if (b == nullptr) {
      ArchiveError e = (*dest)->LastError("starting the backup");
      dest->reset();
      RemoveDbFiles(tmp_db);
      return e;
    }
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
      ArchiveError e = Fail(rc == SQLITE_FULL ? ArchiveCode::kFull : ArchiveCode::kIo,
                            "backup of " + db_->path() + " to " + out_path + " failed: " + sqlite3_errstr(rc));
      dest->reset();
      RemoveDbFiles(tmp_db);
      return e;
    }
  }
  auto db_bytes = node::ReadFile(tmp_db, std::size_t{1} << 40);
  RemoveDbFiles(tmp_db);
  if (!db_bytes) return Fail(ArchiveCode::kIo, db_bytes.error().message);
  std::string container(kBackupMagic, sizeof kBackupMagic);
  Bytes len;
  AppendLe(len, kdf_bytes->size(), 4);
  container.append(len.begin(), len.end());
  container += *kdf_bytes;
  container += *db_bytes;
  return FromStatus(node::WriteFileAtomic(out_path, container, 0600), ArchiveCode::kIo);
}

ArchiveStatus Archive::Rekey(crypto::ByteView new_passphrase, const crypto::KdfParams& params, std::int64_t at,
                             const std::string& actor) {
  if (home_.empty()) return Fail(ArchiveCode::kInvalid, "only an archive opened from a home can be rekeyed");
  // The rekey rewrites every page: one that does not decrypt would make it give up (below).
  auto problems = PageProblems(*db_, "PRAGMA quick_check");
  if (!problems || !problems->empty()) {
    return Fail(ArchiveCode::kDamaged, db_->path() + " is damaged: " +
                                           (problems ? OneLine(*problems) : problems.error().message) +
                                           "; the passphrase was not changed");
  }
  auto fresh = NewKey(new_passphrase, params);
  if (!fresh) return fresh.error();
  auto& [key, kdf_bytes] = *fresh;
  // Begun and completed are recorded apart: a change that fails shows as begun only.
  if (auto st = Batch([&] { return Audit(at, actor, "rekey", "passphrase change begun"); }); !st) return st;
  // Crash safety: the new parameters wait in archive.kdf.new until the database holds the new key.
  const std::string kdf_path = home_ + kKdfName;
  if (auto st = node::WriteFileAtomic(kdf_path + ".new", kdf_bytes, 0600); !st) {
    return Fail(ArchiveCode::kIo, st.error().message);
  }
  if (auto st = db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !st) return st;
  if (auto st = db_->Rekey(key); !st) {
    ::unlink((kdf_path + ".new").c_str());
    return st;
  }
  // SQLCipher 3's sqlite3_rekey reports success even when it rolled the change back (a full
  // disk, an unreadable page): only a fresh connection with the new key tells.
  if (!OpensWith(db_->path(), key)) {
    ::unlink((kdf_path + ".new").c_str());
    return Fail(ArchiveCode::kIo, "the passphrase change of " + db_->path() +
                                      " did not take effect (is the disk full?); it keeps the old passphrase");
  }
  if (auto st = db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !st) return st;
  key_ = key.Clone();
  if (::rename((kdf_path + ".new").c_str(), kdf_path.c_str()) != 0) return IoFail("cannot replace", kdf_path);
  return Batch([&] { return Audit(at, actor, "rekey", "passphrase change completed"); });
}

ArchiveResult<PurgeReport> Archive::Purge(std::int64_t before, std::int64_t at, const std::string& actor) {
  PurgeReport report;
  std::vector<Bytes> blob_hashes;
  auto st = Batch([&]() -> ArchiveStatus {
    // Audit entries first, one per removed item, saying what went: the content itself goes.
    struct Kind {
      const char* select;
      const char* action;
      std::int64_t* count;
    };
    const Kind kinds[] = {
        {"SELECT message_id, created_at, sender FROM messages WHERE created_at < ?1", "purge-message", &report.messages},
        {"SELECT message_id, created_at, author FROM draft_versions WHERE created_at < ?1", "purge-draft", &report.drafts},
        {"SELECT message_id, created_at, sender FROM notices WHERE created_at < ?1", "purge-notice", &report.notices},
        {"SELECT message_id, received_at, party FROM receipts WHERE received_at < ?1", "purge-receipt", &report.receipts},
        {"SELECT content_hash, stored_at, name FROM attachments WHERE stored_at < ?1", "purge-attachment",
         &report.attachments},
    };
    for (const Kind& k : kinds) {
      auto sel = db_->Prepare(k.select);
      if (!sel) return sel.error();
      std::vector<std::tuple<Bytes, std::int64_t, std::string>> rows;
      (*sel)->Reset().Bind(1, before);
      for (;;) {
        auto row = (*sel)->Step();
        if (!row) return row.error();
        if (!*row) break;
        rows.emplace_back((*sel)->Blob(0), (*sel)->Int(1), (*sel)->Text(2));
      }
      for (const auto& [id, when, who] : rows) {
        if (auto a = Audit(at, actor, k.action, Hex(id) + " of " + std::to_string(when) + " from " + who); !a) return a;
        if (std::string(k.action) == "purge-attachment") blob_hashes.push_back(id);
      }
      *k.count = static_cast<std::int64_t>(rows.size());
    }
    for (const char* sql : {
             "DELETE FROM search_text WHERE docid IN (SELECT id FROM search_items WHERE created_at < ?1)",
             "DELETE FROM search_items WHERE created_at < ?1",
             "DELETE FROM messages WHERE created_at < ?1",
             "DELETE FROM draft_versions WHERE created_at < ?1",
             "DELETE FROM notices WHERE created_at < ?1",
             "DELETE FROM receipts WHERE received_at < ?1",
             "DELETE FROM attachments WHERE stored_at < ?1",
         }) {
      auto del = db_->Prepare(sql);
      if (!del) return del.error();
      if (auto d = (*del)->Reset().Bind(1, before).Run(); !d) return d;
    }
    return Audit(at, actor, "purge",
                 "before " + std::to_string(before) + ": " + std::to_string(report.messages) + " messages, " +
                     std::to_string(report.drafts) + " drafts, " + std::to_string(report.notices) + " notices, " +
                     std::to_string(report.receipts) + " receipts, " + std::to_string(report.attachments) +
                     " attachments");
  });
  if (!st) return st.error();
  for (const Bytes& h : blob_hashes) ::unlink(BlobPath(h).c_str());
  // secure_delete zeroed the freed pages; the checkpoint takes old page images out of the WAL.
  if (auto c = db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !c) return c.error();
  return report;
}

ArchiveStatus Restore(const std::string& home, const std::string& backup_path, crypto::ByteView passphrase,
                      bool force, std::int64_t now) {
  auto bytes = node::ReadFile(backup_path, std::size_t{1} << 40);
  if (!bytes) return Fail(ArchiveCode::kIo, bytes.error().message);
  const std::string& b = *bytes;
  if (b.size() < 12 || b.compare(0, 8, std::string(kBackupMagic, 8)) != 0) {
    return Fail(ArchiveCode::kDamaged, backup_path + " is not a Comity archive backup");
  }
  std::uint32_t kdf_len = 0;
  for (int i = 0; i < 4; ++i) kdf_len |= std::uint32_t{static_cast<std::uint8_t>(b[8 + i])} << (8 * i);
  if (kdf_len > 4096 || 12 + kdf_len > b.size()) return Fail(ArchiveCode::kDamaged, backup_path + " is damaged");
  const std::string kdf = b.substr(12, kdf_len);
  auto key = DeriveArchiveKey(passphrase, kdf);
  if (!key) return key.error();
  const std::string db_path = home + kDbName;
  const std::string kdf_path = home + kKdfName;
  const std::string staged = db_path + ".restoring";
  RemoveDbFiles(staged);
  if (auto st = node::WriteFileAtomic(staged, b.substr(12 + kdf_len), 0600); !st) {
    return Fail(ArchiveCode::kIo, st.error().message);
  }
  {
    // The staged copy must open and verify before it replaces anything.
    auto db = Db::Open(staged, false);
    if (!db) return db.error();
    if (auto st = Prepare(**db, *key); !st) {
      db->reset();
      RemoveDbFiles(staged);
      return Fail(ArchiveCode::kDamaged, backup_path + " is damaged: " + st.error().message);
    }
    // Opening reads one page; every other page must decrypt too before it replaces anything.
    auto problems = PageProblems(**db, "PRAGMA quick_check");
    if (!problems || !problems->empty()) {
      db->reset();
      RemoveDbFiles(staged);
      return Fail(ArchiveCode::kDamaged, backup_path + " is damaged: " +
                                             (problems ? OneLine(*problems) : problems.error().message));
    }
    if (auto st = (*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !st) return st;
  }
  const bool live = node::FileExists(db_path) || node::FileExists(kdf_path);
  if (live && !force) {
    RemoveDbFiles(staged);
    return Fail(ArchiveCode::kExists, "refusing to replace the archive in " + home + " (use --force)");
  }
  if (live) {
    const std::string aside = ".before-restore-" + std::to_string(now);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::string from = db_path + suffix;
      if (node::FileExists(from) && ::rename(from.c_str(), (db_path + aside + suffix).c_str()) != 0) {
        return IoFail("cannot set aside", from);
      }
    }
    if (node::FileExists(kdf_path) && ::rename(kdf_path.c_str(), (kdf_path + aside).c_str()) != 0) {
      return IoFail("cannot set aside", kdf_path);
    }
  }
  for (const char* suffix : {"-wal", "-shm"}) ::unlink((staged + suffix).c_str());
  if (::rename(staged.c_str(), db_path.c_str()) != 0) return IoFail("cannot install", db_path);
  return FromStatus(node::WriteFileAtomic(kdf_path, kdf, 0600), ArchiveCode::kIo);
}

}  // namespace comity::archive
