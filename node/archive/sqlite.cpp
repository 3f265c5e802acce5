#include "node/archive/sqlite.h"

#include <cstring>

namespace comity::archive {

ArchiveError Fail(ArchiveCode code, std::string message) { return ArchiveError{code, std::move(message)}; }

namespace {

ArchiveCode CodeOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB: return ArchiveCode::kWrongPassphrase;
    case SQLITE_CORRUPT: return ArchiveCode::kDamaged;
    case SQLITE_FULL: return ArchiveCode::kFull;
    case SQLITE_IOERR:
      // A write beyond a file-size limit or a full disk can surface as an I/O error.
      return ArchiveCode::kIo;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return ArchiveCode::kInvalid;
    case SQLITE_CANTOPEN: return ArchiveCode::kMissing;
    default: return ArchiveCode::kIo;
  }
}

// The raw-key spec "x'<64 hex>'", built in locked memory and handed to SQLCipher directly,
// never as SQL text.
crypto::SecretBytes KeySpec(const crypto::SecretBytes& key) {
  crypto::SecretBytes spec(3 + key.size() * 2);
  static constexpr char kHex[] = "0123456789abcdef";
  spec.data()[0] = 'x';
  spec.data()[1] = '\'';
  for (std::size_t i = 0; i < key.size(); ++i) {
    spec.data()[2 + 2 * i] = static_cast<std::uint8_t>(kHex[key.data()[i] >> 4]);
    spec.data()[3 + 2 * i] = static_cast<std::uint8_t>(kHex[key.data()[i] & 0xf]);
  }
  spec.data()[spec.size() - 1] = '\'';
  return spec;
}

}  // namespace

ArchiveResult<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Fail(CodeOf(rc), "cannot open " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  // Another comityd process (the running daemon, an admin command) may hold the write lock
  // for the length of one batch: wait for it rather than fail.
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<Db>(new Db(db, path));
}

Db::~Db() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close(db_);
}

ArchiveStatus Db::Key(const crypto::SecretBytes& key) {
  if (key.empty()) return {};
  crypto::SecretBytes spec = KeySpec(key);
  if (sqlite3_key(db_, spec.data(), static_cast<int>(spec.size())) != SQLITE_OK) return LastError("keying");
  // SQLCipher 3 defaults to 1024-byte pages; the archive uses 4096 on every open.
  return Exec("PRAGMA cipher_page_size = 4096");
}

ArchiveStatus Db::Rekey(const crypto::SecretBytes& key) {
  crypto::SecretBytes spec = KeySpec(key);
  if (sqlite3_rekey(db_, spec.data(), static_cast<int>(spec.size())) != SQLITE_OK) return LastError("rekeying");
  return {};
}

ArchiveStatus Db::Exec(std::string_view sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Fail(CodeOf(rc), path_ + ": " + msg);
  }
  return {};
}

ArchiveResult<Stmt*> Db::Prepare(std::string_view sql) {
  for (auto& [text, stmt] : cache_) {
    if (text == sql) return stmt.get();
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) return LastError("preparing a statement");
  cache_.emplace_back(std::string(sql), std::make_unique<Stmt>(this, raw));
  return cache_.back().second.get();
}

std::int64_t Db::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

ArchiveError Db::LastError(std::string_view what) const {
  int rc = sqlite3_extended_errcode(db_);
  return Fail(CodeOf(rc), path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}
Stmt& Stmt::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Stmt& Stmt::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int index, crypto::ByteView blob) {
  // A zero-length blob must still bind as a blob, not NULL.
  static const std::uint8_t kEmpty = 0;
  sqlite3_bind_blob(stmt_, index, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

ArchiveResult<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ArchiveError e = db_->LastError("statement failed");
  sqlite3_reset(stmt_);
  return e;
}

ArchiveStatus Stmt::Run() {
  for (;;) {
    auto more = Step();
    if (!more) return more.error();
    if (!*more) return {};
  }
}

std::int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t),
                                                    static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}
crypto::Bytes Stmt::Blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  return p == nullptr ? crypto::Bytes() : crypto::Bytes(p, p + sqlite3_column_bytes(stmt_, col));
}
bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

ArchiveStatus Txn::Begin() {
  if (auto st = db_.Exec("BEGIN IMMEDIATE"); !st) return st;
  open_ = true;
  return {};
}

ArchiveStatus Txn::Commit() {
  if (auto st = db_.Exec("COMMIT"); !st) return st;  // still open: the destructor rolls back
  open_ = false;
  return {};
}

Txn::~Txn() {
  if (open_) sqlite3_exec(db_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace comity::archive
