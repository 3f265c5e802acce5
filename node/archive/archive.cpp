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
constexpr char kBackupMagic[8] = {'C', 'O', 'M', 'I', 'T', 'Y', 'B', '1'};

Bytes KeyCheck(const crypto::SecretBytes& key) {
  return crypto::Blake2bKeyed(key.view(), AsBytes(kKeyCheckLabel), 32);
}

void AppendLe(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
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
// WAL checkpoints every 16384 pages (64 MiB) instead of SQLite's 1000: pages that several
// batches rewrite (full-text segments, index pages) reach the database file once, not once a
// batch. Measured at 200k messages: 9,589 -> 11,035 inserts/s; 65536 pages gave 5 % more for
// four times the WAL.
constexpr const char* kCheckpointPragma = "PRAGMA wal_autocheckpoint = 16384";

// Keys a connection and applies the archive's pragmas. A wrong key shows here as kWrongPassphrase
// (plain SQLite: not a database); callers that know the key is right report it as damage.
ArchiveStatus Prepare(Db& db, const crypto::SecretBytes& key) {
  if (auto st = db.Key(key); !st) return st;
  auto probe = db.Exec("SELECT count(*) FROM sqlite_master");
  if (!probe) return probe;
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON",
                             "PRAGMA synchronous = FULL", kCachePragma, kCheckpointPragma}) {
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
  auto name_key = meta_.Get("blob_name_key");
  if (!name_key) return name_key.error();
  if (name_key->has_value()) {
    if ((*name_key)->size() != 32) return Fail(ArchiveCode::kDamaged, db_->path() + " is damaged: bad blob naming key");
    attachments_.SetNameKey(**name_key);
    return {};
  }
  Bytes fresh = crypto::RandomBytes(32);
  if (auto st = meta_.Put("blob_name_key", fresh); !st) return st;
  attachments_.SetNameKey(std::move(fresh));
  return {};
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
                                    crypto::ByteView signed_roster, std::int64_t at) { return rosters_.Record(network_id, version, signed_roster, at); }


ArchiveResult<std::int64_t> Archive::RosterCount() { return rosters_.Count(); }
ArchiveResult<std::int64_t> Archive::MessageCount() { return messages_.Count(); }

std::int64_t Archive::PageCacheBytes() const {
  int used = 0, highwater = 0;
  if (sqlite3_db_status(db_->raw(), SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0) != SQLITE_OK) return -1;
  return used;
}

// ---- messages -----------------------------------------------------------------------------


ArchiveResult<bool> Archive::AddMessage(const MessageRecord& m) { return messages_.Add(m); }

ArchiveResult<std::optional<MessageRecord>> Archive::GetMessage(crypto::ByteView message_id) { return messages_.Get(message_id); }

// ---- threads, drafts, notices ---------------------------------------------------------------

ArchiveStatus Archive::PutThread(const ThreadRecord& t) { return threads_.Put(t); }

ArchiveResult<std::optional<ThreadRecord>> Archive::GetThread(const std::string& thread_uid) { return threads_.Get(thread_uid); }

ArchiveStatus Archive::AddDraft(const DraftVersion& d) { return threads_.AddDraft(d); }

ArchiveResult<std::vector<DraftVersion>> Archive::Drafts(const std::string& thread_uid) { return threads_.Drafts(thread_uid); }

ArchiveStatus Archive::AddNotice(const NoticeRecord& n) { return notices_.Add(n); }

ArchiveResult<std::vector<NoticeRecord>> Archive::Notices() { return notices_.All(); }

ArchiveResult<std::optional<NoticeRecord>> Archive::GetNotice(std::int64_t number) { return notices_.Get(number); }

ArchiveResult<std::optional<NoticeRecord>> Archive::NoticeOfMessage(crypto::ByteView message_id) {
  return notices_.OfMessage(message_id);
}

ArchiveStatus Archive::AcceptNotice(std::int64_t number, std::int64_t at, const std::string& body) {
  return notices_.Accept(number, at, body);
}

ArchiveResult<std::vector<MessageRecord>> Archive::ThreadMessages(const std::string& thread_uid) {
  return messages_.OfThread(thread_uid);
}

ArchiveStatus Archive::EachThreadMessage(const std::string& thread_uid, bool with_envelope,
                                         const std::function<void(MessageRecord)>& fn) {
  return messages_.EachOfThread(thread_uid, with_envelope, fn);
}

ArchiveResult<std::vector<ThreadRecord>> Archive::Threads() { return threads_.All(); }

ArchiveResult<std::vector<std::string>> Archive::ThreadsStartingWith(const std::string& prefix) {
  return threads_.StartingWith(prefix);
}

ArchiveResult<std::vector<Bytes>> Archive::Rosters(const std::string& network_id) {
  return rosters_.OfNetwork(network_id);
}

// ---- outbox, receipts -----------------------------------------------------------------------

ArchiveStatus Archive::Enqueue(const OutboxEntry& e) { return outbox_.Enqueue(e); }

ArchiveResult<std::vector<OutboxEntry>> Archive::DueOutbox(std::int64_t now, int limit) { return outbox_.Due(now, limit); }

ArchiveStatus Archive::RecordAttempt(std::int64_t id, std::int64_t next_attempt_at) { return outbox_.RecordAttempt(id, next_attempt_at); }

ArchiveResult<bool> Archive::RemoveFromOutbox(std::int64_t id) { return outbox_.Remove(id); }

ArchiveResult<std::vector<OutboxEntry>> Archive::DueOutboxOf(std::int64_t now, int limit, bool retried) {
  return outbox_.DueOf(now, limit, retried);
}

ArchiveResult<bool> Archive::EnqueueOnce(const OutboxEntry& e) { return outbox_.EnqueueOnce(e); }

ArchiveResult<std::int64_t> Archive::OutboxCount() { return outbox_.Count(); }

ArchiveResult<std::optional<std::int64_t>> Archive::FindInOutbox(crypto::ByteView message_id, const std::string& recipient) {
  return outbox_.Find(message_id, recipient);
}

ArchiveResult<bool> Archive::Seen(crypto::ByteView message_id) { return messages_.Seen(message_id); }

ArchiveResult<bool> Archive::InOutbox(crypto::ByteView message_id) { return outbox_.Holds(message_id); }

ArchiveResult<std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>> Archive::OutboxDepths() {
  return outbox_.Depths();
}

ArchiveStatus Archive::ExpediteOutbox(const std::string& recipient, std::int64_t now) {
  return outbox_.Expedite(recipient, now);
}

ArchiveStatus Archive::AddReceipt(const ReceiptRecord& r) { return receipts_.Add(r); }

ArchiveResult<std::int64_t> Archive::AddEvidence(crypto::ByteView signed_receipt) {
  return receipts_.AddEvidence(signed_receipt);
}

ArchiveResult<std::int64_t> Archive::CountReceipts(const std::string& kind) { return receipts_.Count(kind); }

ArchiveResult<std::vector<std::pair<crypto::Bytes, std::string>>> Archive::Unreceipted(std::int64_t after,
                                                                                      std::int64_t until) {
  return receipts_.Unreceipted(after, until);
}

ArchiveResult<crypto::Bytes> Archive::GetMeta(const std::string& name) {
  auto v = meta_.Get(name);
  if (!v) return v.error();
  return v->value_or(crypto::Bytes{});
}

ArchiveStatus Archive::PutMeta(const std::string& name, crypto::ByteView value) { return meta_.Put(name, value); }

ArchiveResult<std::vector<ReceiptRecord>> Archive::Receipts(crypto::ByteView message_id) { return receipts_.ForMessage(message_id); }

// ---- attachments ----------------------------------------------------------------------------


ArchiveResult<AttachmentRecord> Archive::AddAttachment(std::istream& in, const std::string& name,
                                                       const std::string& media_type, crypto::ByteView message_id,
                                                       std::int64_t at) { return attachments_.Add(in, name, media_type, message_id, at); }

ArchiveStatus Archive::ReadAttachment(crypto::ByteView content_hash, std::ostream& out) { return attachments_.Read(content_hash, out); }

ArchiveResult<std::optional<AttachmentRecord>> Archive::GetAttachment(crypto::ByteView content_hash,
                                                                      crypto::SecretBytes* key) {
  return attachments_.Get(content_hash, key);
}

ArchiveResult<std::optional<std::string>> Archive::BlobOfStream(crypto::ByteView stream_hash) {
  return attachments_.BlobOfStream(stream_hash);
}

ArchiveResult<AttachmentRecord> Archive::AdoptAttachment(const std::string& stream_path, const crypto::SecretBytes& key,
                                                         const AttachmentRecord& rec) {
  return attachments_.Adopt(stream_path, key, rec);
}

// ---- audit ----------------------------------------------------------------------------------

ArchiveStatus Archive::Audit(std::int64_t at, const std::string& actor, const std::string& action,
                             const std::string& detail) { return audit_.Append(at, actor, action, detail); }

ArchiveResult<std::vector<AuditEntry>> Archive::AuditTail(int limit) { return audit_.Tail(limit); }

// ---- search ---------------------------------------------------------------------------------

ArchiveResult<std::vector<SearchHit>> Archive::Search(const std::string& query, int limit) { return search_.Query(query, limit); }

ArchiveResult<std::int64_t> Archive::CountMatches(const std::string& query) { return search_.Count(query); }

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
  if (!page_problems) {
    // SQLCipher fails the check itself, rather than reporting a row, when a page it needs to
    // walk the tree does not authenticate: that is damage too.
    std::string why = page_problems.error().message;
    if (why.rfind(db_->path() + ": ", 0) == 0) why.erase(0, db_->path().size() + 2);
    return fail(db_->path() + ": database integrity: the check stopped at a page it cannot read (" + why + ")");
  }
  const std::string problems = OneLine(*page_problems);
  if (!problems.empty()) return fail(db_->path() + ": database integrity: " + problems);
  report.checked.push_back("database integrity: ok (every page decrypts and every index matches)");

  // 2. The audit chain, end to end, and its recorded head.
  auto chain = audit_.Verify();
  if (!chain) return fail(chain.error().message);
  report.checked.push_back(*chain);

  // 3. Every attachment blob decrypts to its recorded hash.
  auto hashes = attachments_.AllHashes();
  if (!hashes) return fail(hashes.error().message);
  for (const Bytes& h : *hashes) {
    std::ofstream sink("/dev/null", std::ios::binary);
    if (auto st = attachments_.Read(h, sink); !st) return fail(st.error().message);
  }
  report.checked.push_back("attachments: " + std::to_string(hashes->size()) + " blobs decrypt to their recorded hashes");
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
  // The container streams the copy into place: memory stays bounded whatever the archive's size.
  std::string header(kBackupMagic, sizeof kBackupMagic);
  Bytes len;
  AppendLe(len, kdf_bytes->size(), 4);
  header.append(len.begin(), len.end());
  header += *kdf_bytes;
  auto written = node::WriteFileAtomicFrom(out_path, header, tmp_db, 0, 0600);
  RemoveDbFiles(tmp_db);
  return FromStatus(written, ArchiveCode::kIo);
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
      std::function<ArchiveResult<std::vector<PurgeItem>>()> list;
      const char* action;
      std::int64_t* count;
    };
    const Kind kinds[] = {
        {[&] { return messages_.ListBefore(before); }, "purge-message", &report.messages},
        {[&] { return threads_.ListDraftsBefore(before); }, "purge-draft", &report.drafts},
        {[&] { return notices_.ListBefore(before); }, "purge-notice", &report.notices},
        {[&] { return receipts_.ListBefore(before); }, "purge-receipt", &report.receipts},
        {[&] { return attachments_.ListBefore(before); }, "purge-attachment", &report.attachments},
    };
    for (const Kind& k : kinds) {
      auto items = k.list();
      if (!items) return items.error();
      for (const PurgeItem& item : *items) {
        const std::string what = Hex(item.id) + " of " + std::to_string(item.when) + " from " + item.who;
        if (auto a = audit_.Append(at, actor, k.action, what); !a) return a;
        if (k.count == &report.attachments) blob_hashes.push_back(item.id);
      }
      *k.count = static_cast<std::int64_t>(items->size());
    }
    const std::function<ArchiveStatus()> removals[] = {
        [&] { return search_.DeleteBefore(before); },        [&] { return messages_.DeleteBefore(before); },
        [&] { return threads_.DeleteDraftsBefore(before); }, [&] { return notices_.DeleteBefore(before); },
        [&] { return receipts_.DeleteBefore(before); },      [&] { return attachments_.DeleteBefore(before); },
    };
    for (const auto& remove : removals) {
      if (auto removed = remove(); !removed) return removed;
    }
    return audit_.Append(at, actor, "purge",
                         "before " + std::to_string(before) + ": " + std::to_string(report.messages) + " messages, " +
                             std::to_string(report.drafts) + " drafts, " + std::to_string(report.notices) +
                             " notices, " + std::to_string(report.receipts) + " receipts, " +
                             std::to_string(report.attachments) + " attachments");
  });
  if (!st) return st.error();
  for (const Bytes& h : blob_hashes) ::unlink(attachments_.BlobPath(h).c_str());
  // secure_delete zeroed the freed pages; the checkpoint takes old page images out of the WAL.
  // The purge is committed whatever happens here: a checkpoint that fails (a full disk) is
  // reported, and the next one clears the WAL.
  report.wal_checkpointed = db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok();
  return report;
}

ArchiveStatus Restore(const std::string& home, const std::string& backup_path, crypto::ByteView passphrase,
                      bool force, std::int64_t now) {
  const std::string db_path = home + kDbName;
  const std::string kdf_path = home + kKdfName;
  // Refuse before any work: nothing is read or staged for a restore that cannot happen.
  const bool live = node::FileExists(db_path) || node::FileExists(kdf_path);
  if (live && !force) {
    return Fail(ArchiveCode::kExists, "refusing to replace the archive in " + home + " (use --force)");
  }
  auto head = node::ReadFilePrefix(backup_path, 12 + 4096);
  if (!head) return Fail(ArchiveCode::kIo, head.error().message);
  const std::string& b = *head;
  if (b.size() < 12 || b.compare(0, 8, std::string(kBackupMagic, 8)) != 0) {
    return Fail(ArchiveCode::kDamaged, backup_path + " is not a Comity archive backup");
  }
  std::uint32_t kdf_len = 0;
  for (int i = 0; i < 4; ++i) kdf_len |= std::uint32_t{static_cast<std::uint8_t>(b[8 + i])} << (8 * i);
  if (kdf_len > 4096 || 12 + kdf_len > b.size()) return Fail(ArchiveCode::kDamaged, backup_path + " is damaged");
  const std::string kdf = b.substr(12, kdf_len);
  auto key = DeriveArchiveKey(passphrase, kdf);
  if (!key) return key.error();
  const std::string staged = db_path + ".restoring";
  RemoveDbFiles(staged);
  if (auto st = node::WriteFileAtomicFrom(staged, "", backup_path, 12 + kdf_len, 0600); !st) {
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
