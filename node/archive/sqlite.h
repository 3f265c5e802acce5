// RAII over SQLCipher's C API for the archive: a connection (Db), prepared statements (Stmt)
// and transactions (Txn). Failures come back as ArchiveError with a code that says what the
// operator can do (wrong key, damaged file, disk full, I/O). Internal to node/archive: the
// rest of the node goes through archive.h. One thread per Db; statements belong to their Db.
#pragma once

#include <sqlcipher/sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::archive {

enum class ArchiveCode {
  kWrongPassphrase,  // the key does not open it, or it is not a Comity archive
  kDamaged,          // the file is corrupt, truncated or inconsistent
  kFull,             // the disk (or a size limit) is full; the transaction was rolled back
  kIo,               // another file-system failure
  kMissing,          // no archive where one was expected
  kExists,           // an archive already exists where a new one would go
  kInvalid,          // bad arguments or a constraint the caller broke
};
using ArchiveError = TypedError<ArchiveCode>;
using ArchiveStatus = Status<ArchiveError>;
template <class T>
using ArchiveResult = Result<T, ArchiveError>;

ArchiveError Fail(ArchiveCode code, std::string message);

class Stmt;

// One SQLCipher connection. Opened read-write; never creates a file unless `create`.
class Db {
 public:
  static ArchiveResult<std::unique_ptr<Db>> Open(const std::string& path, bool create);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Keys the connection with a raw 32-byte key (sqlite3_key with x'..'; no PBKDF2). With an
  // empty key the database is plain SQLite (only the benchmark's baseline does that).
  ArchiveStatus Key(const crypto::SecretBytes& key);
  ArchiveStatus Rekey(const crypto::SecretBytes& key);

  ArchiveStatus Exec(std::string_view sql);
  // Prepares once; the Db keeps the statement for reuse and owns it.
  ArchiveResult<Stmt*> Prepare(std::string_view sql);
  std::int64_t LastInsertRowid() const;
  int Changes() const;
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }
  // Maps the connection's last error to an ArchiveError naming `what`.
  ArchiveError LastError(std::string_view what) const;

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::vector<std::pair<std::string, std::unique_ptr<Stmt>>> cache_;
};

// A prepared statement, reset for reuse by every Bind... chain's first Reset().
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Reset();
  Stmt& Bind(int index, std::int64_t value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& BindBlob(int index, crypto::ByteView blob);
  Stmt& BindNull(int index);

  // Steps once: true when a row is ready, false when done; errors are returned.
  ArchiveResult<bool> Step();
  // Steps to completion (for statements that return no rows).
  ArchiveStatus Run();

  std::int64_t Int(int col) const;
  std::string Text(int col) const;
  crypto::Bytes Blob(int col) const;
  bool IsNull(int col) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction; rolls back on destruction unless Commit() succeeded.
class Txn {
 public:
  explicit Txn(Db& db) : db_(db) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ArchiveStatus Begin();
  ArchiveStatus Commit();

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace comity::archive
