// Shared pieces of the archive unit tests: a temporary home folder removed on destruction,
// whole-file reads and writes for damaging files on purpose, record builders with fixed
// times, and a fixture that creates an archive (MinimumKdf, so opens stay fast) in a fresh
// home. Test-only; one thread per fixture.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/sodium.h"
#include "node/archive/archive.h"

namespace comity::archive {

// Code names instead of numbers in failure messages (found by ADL).
inline void PrintTo(ArchiveCode code, std::ostream* os) {
  switch (code) {
    case ArchiveCode::kWrongPassphrase: *os << "kWrongPassphrase"; return;
    case ArchiveCode::kDamaged: *os << "kDamaged"; return;
    case ArchiveCode::kFull: *os << "kFull"; return;
    case ArchiveCode::kIo: *os << "kIo"; return;
    case ArchiveCode::kMissing: *os << "kMissing"; return;
    case ArchiveCode::kExists: *os << "kExists"; return;
    case ArchiveCode::kInvalid: *os << "kInvalid"; return;
  }
  *os << "ArchiveCode(" << static_cast<int>(code) << ")";
}

}  // namespace comity::archive

namespace comity::archive::test {

namespace fs = std::filesystem;
using crypto::Bytes;
using crypto::ToBytes;

inline constexpr std::string_view kWrongPassphraseMessage = "wrong passphrase or not a Comity archive";
inline constexpr std::int64_t kT0 = 1'750'000'000;  // the tests' clock: mid-2025

// A folder under /tmp made by mkdtemp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/comity-archive-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline bool WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out.flush());
}

inline bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Every regular file below `dir`, recursively, sorted.
inline std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline crypto::SecretBytes SecretOf(crypto::ByteView bytes) {
  crypto::SecretBytes secret(bytes.size());
  std::copy(bytes.begin(), bytes.end(), secret.data());
  return secret;
}

inline crypto::SecretBytes RandomKey() { return SecretOf(crypto::RandomBytes(32)); }

// Success, or the failure's message in the test output.
template <class R>
::testing::AssertionResult Ok(const R& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed: " << r.error().message;
}

// A distinct message id for a test number.
inline Bytes IdOf(std::string_view what) { return crypto::Blake2b(crypto::AsBytes(what), 32); }

inline MessageRecord Message(std::string_view tag, std::int64_t created_at, std::string subject, std::string body) {
  MessageRecord m;
  m.message_id = IdOf(tag);
  m.direction = "in";
  m.sender = "alice@eurojust-test";
  m.recipients = "bob@eurojust-test,carol@eurojust-test";
  m.created_at = created_at;
  m.stored_at = created_at + 1;
  m.content_type = "text/plain";
  m.envelope = ToBytes("envelope of " + std::string(tag));
  m.content = ToBytes("content of " + std::string(tag));
  m.subject = std::move(subject);
  m.body = std::move(body);
  return m;
}

inline ThreadRecord Thread(std::string uid, std::string subject, std::int64_t at) {
  ThreadRecord t;
  t.thread_uid = std::move(uid);
  t.subject = std::move(subject);
  t.kind = "mla-request";
  t.status = "draft";
  t.created_at = t.updated_at = at;
  return t;
}

inline DraftVersion Draft(const std::string& thread_uid, std::int64_t version, std::string text, std::int64_t at) {
  return DraftVersion{thread_uid, version, IdOf(thread_uid + "/v" + std::to_string(version)), "bob@eurojust-test",
                      std::move(text), at};
}

inline NoticeRecord Notice(std::string_view tag, std::string subject, std::string body, std::int64_t at) {
  NoticeRecord n;
  n.message_id = IdOf(tag);
  n.sender = "carol@eurojust-test";
  n.subject = std::move(subject);
  n.body = std::move(body);
  n.confidentiality = "restricted";
  n.use_conditions = "judicial use only";
  n.created_at = at;
  return n;
}

inline ReceiptRecord Receipt(const Bytes& message_id, std::string party, const std::string& kind, std::int64_t at) {
  return ReceiptRecord{message_id, std::move(party), kind, ToBytes("signed " + kind), at};
}

// `n` bytes of a repeatable pattern that differs per seed.
inline std::string Content(std::size_t n, int seed) {
  std::string s(n, '\0');
  const std::size_t salt = static_cast<std::size_t>(seed) * 7;
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + salt + i / 251) & 0xff);
  return s;
}

// A home folder with an archive created under passphrase_.
class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(home_.path().empty()) << "mkdtemp failed";
    auto created = Archive::Create(home(), passphrase_, crypto::MinimumKdf());
    ASSERT_TRUE(Ok(created));
    archive_ = std::move(created).value();
  }

  const std::string& home() const { return home_.path(); }
  std::string db_path() const { return home() + "/archive.db"; }
  std::string kdf_path() const { return home() + "/archive.kdf"; }
  std::string blob_dir() const { return home() + "/blobs"; }
  Archive& archive() { return *archive_; }

  // Closes the archive (checkpointing the WAL into archive.db) and opens it again.
  ::testing::AssertionResult Reopen(crypto::ByteView passphrase) {
    archive_.reset();
    auto opened = Archive::Open(home(), passphrase);
    if (!opened) return ::testing::AssertionFailure() << "reopen failed: " << opened.error().message;
    archive_ = std::move(opened).value();
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult Reopen() { return Reopen(passphrase_); }

  // Runs `body` in a Batch.
  ::testing::AssertionResult InBatch(const std::function<ArchiveStatus()>& body) { return Ok(archive_->Batch(body)); }

  ::testing::AssertionResult AddMessages(const std::vector<MessageRecord>& ms) {
    return InBatch([&]() -> ArchiveStatus {
      for (const auto& m : ms) {
        auto added = archive_->AddMessage(m);
        if (!added) return added.error();
      }
      return {};
    });
  }

  ArchiveResult<AttachmentRecord> Attach(const std::string& content, const std::string& name, std::int64_t at) {
    std::optional<ArchiveResult<AttachmentRecord>> rec;
    auto st = archive_->Batch([&]() -> ArchiveStatus {
      std::istringstream in(content);
      rec.emplace(archive_->AddAttachment(in, name, "application/octet-stream", IdOf("attached to " + name), at));
      if (!*rec) return rec->error();
      return {};
    });
    if (!st) return st.error();
    return std::move(*rec);
  }

  std::int64_t AuditCount() {
    auto all = archive_->AuditTail(1'000'000);
    EXPECT_TRUE(Ok(all));
    return all ? static_cast<std::int64_t>(all->size()) : -1;
  }

  TempDir home_;
  Bytes passphrase_ = ToBytes("correct horse battery staple");
  std::unique_ptr<Archive> archive_;
};

}  // namespace comity::archive::test
