// comity-archive-writer: a separate process that writes known batches into a node's archive,
// so archive_faults_test.sh can kill it mid-batch or fill its disk and then check, with the
// real comityd, that every committed batch is there exactly once and nothing else is.
// Batch B holds messages B/0 .. B/M-1 (ids are BLAKE2b of that name), one audit entry and,
// when asked, one attachment of random bytes. The passphrase comes from COMITY_PASSPHRASE.
//
//   comity-archive-writer --home DIR --messages M --batches N [--start K] [--payload BYTES]
//                         [--attachment BYTES] [--cache-pages P] [--hold-in B]
//     writes batches K .. K+N-1; prints "begin B" before and "committed B" after each
//     commit (flushed); a failed batch prints one line on stderr and exits 1. With
//     --hold-in B it stops inside batch B, its transaction open with half its messages
//     written, prints "holding B" and waits to be killed.
//   comity-archive-writer --home DIR --messages M --count
//     prints "messages N audit A attachments T batches B partial P": B is the number of
//     complete batches 0 .. B-1, P the number of batches only partly present (must be 0).
// Exit codes: 0 done, 1 the archive refused or failed, 2 bad usage.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <unistd.h>

#include "node/archive/archive.h"

namespace {

using comity::archive::Archive;
using comity::archive::ArchiveCode;
using comity::archive::ArchiveError;
using comity::archive::ArchiveStatus;
using comity::archive::MessageRecord;
namespace crypto = comity::crypto;

constexpr char kActor[] = "comity-archive-writer";

const char* CodeName(ArchiveCode code) {
  switch (code) {
    case ArchiveCode::kWrongPassphrase: return "wrong-passphrase";
    case ArchiveCode::kDamaged: return "damaged";
    case ArchiveCode::kFull: return "disk-full";
    case ArchiveCode::kIo: return "io";
    case ArchiveCode::kMissing: return "missing";
    case ArchiveCode::kExists: return "exists";
    case ArchiveCode::kInvalid: return "invalid";
  }
  return "unknown";
}

int Refuse(const std::string& what, const ArchiveError& e) {
  std::cerr << "comity-archive-writer: " << what << ": " << e.message << " [" << CodeName(e.code) << "]\n";
  return 1;
}

int Usage(const std::string& why) {
  std::cerr << "comity-archive-writer: " << why
            << "\nusage: comity-archive-writer --home DIR --messages M (--batches N [--start K] [--payload BYTES] "
               "[--attachment BYTES] [--cache-pages P] | --count)\n";
  return 2;
}

crypto::Bytes MessageId(std::int64_t batch, std::int64_t index) {
  const std::string name = "comity-archive-writer/" + std::to_string(batch) + "/" + std::to_string(index);
  return crypto::Blake2b(crypto::AsBytes(name), 32);
}

MessageRecord Message(std::int64_t batch, std::int64_t index, std::size_t payload) {
  MessageRecord m;
  m.message_id = MessageId(batch, index);
  m.direction = "in";
  m.sender = "WRITER@TEST";
  m.recipients = "A-ONE@TEST";
  m.created_at = 1'700'000'000 + batch;
  m.stored_at = m.created_at;
  m.content_type = "text/plain";
  // Random bytes do not compress or deduplicate: each batch really costs its size on disk.
  m.envelope = crypto::RandomBytes(payload);
  m.content = crypto::RandomBytes(payload);
  m.subject = "batch " + std::to_string(batch) + " message " + std::to_string(index);
  m.body = "written by the fault test, batch " + std::to_string(batch);
  return m;
}

ArchiveStatus WriteBatch(Archive& a, std::int64_t batch, std::int64_t messages, std::size_t payload,
                         std::size_t attachment, bool hold) {
  return a.Batch([&]() -> ArchiveStatus {
    for (std::int64_t i = 0; i < messages; ++i) {
      if (hold && i == messages / 2) {
        std::cout << "holding " << batch << std::endl;
        for (;;) ::pause();  // until the test kills this process
      }
      auto added = a.AddMessage(Message(batch, i, payload));
      if (!added) return added.error();
      if (!*added) {
        return comity::archive::Fail(ArchiveCode::kInvalid, "message " + std::to_string(batch) + "/" +
                                                                std::to_string(i) + " is already in the archive");
      }
    }
    if (attachment > 0) {
      const crypto::Bytes bytes = crypto::RandomBytes(attachment);
      std::istringstream in(crypto::AsString(bytes));
      auto rec = a.AddAttachment(in, "batch-" + std::to_string(batch) + ".bin", "application/octet-stream",
                                 MessageId(batch, 0), 1'700'000'000 + batch);
      if (!rec) return rec.error();
    }
    return a.Audit(1'700'000'000 + batch, kActor, "test-batch",
                   "batch " + std::to_string(batch) + ": " + std::to_string(messages) + " messages");
  });
}

std::optional<std::int64_t> CountRows(Archive& a, const char* sql) {
  auto s = a.db().Prepare(sql);
  if (!s) return std::nullopt;
  auto row = (*s)->Reset().Step();
  if (!row || !*row) return std::nullopt;
  std::int64_t n = (*s)->Int(0);
  (*s)->Reset();
  return n;
}

int Count(Archive& a, std::int64_t messages) {
  auto total = a.MessageCount();
  if (!total) return Refuse("counting messages", total.error());
  auto tail = a.AuditTail(1);
  if (!tail) return Refuse("reading the audit log", tail.error());
  const std::int64_t audit = tail->empty() ? 0 : tail->front().seq;
  auto attachments = CountRows(a, "SELECT count(*) FROM attachments");
  if (!attachments) return Refuse("counting attachments", a.db().LastError("count"));
  // Walk the batches from 0: each must be whole; stop at the first that is wholly absent.
  std::int64_t complete = 0, partial = 0;
  for (std::int64_t b = 0;; ++b) {
    std::int64_t present = 0;
    for (std::int64_t i = 0; i < messages; ++i) {
      auto m = a.GetMessage(MessageId(b, i));
      if (!m) return Refuse("reading message " + std::to_string(b) + "/" + std::to_string(i), m.error());
      // A row only counts with the content it was written with.
      const MessageRecord want = Message(b, i, 0);
      if (m->has_value() && (*m)->subject == want.subject && (*m)->created_at == want.created_at) ++present;
    }
    if (present == 0) break;
    if (present == messages) {
      ++complete;
    } else {
      ++partial;
    }
  }
  std::cout << "messages " << *total << " audit " << audit << " attachments " << *attachments << " batches "
            << complete << " partial " << partial << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  bool count = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count") {
      count = true;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      opt[a.substr(2)] = argv[++i];
    } else {
      return Usage("unexpected argument '" + a + "'");
    }
  }
  auto number = [&](const std::string& name, std::int64_t fallback) -> std::optional<std::int64_t> {
    auto it = opt.find(name);
    if (it == opt.end()) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 0) return std::nullopt;
    return v;
  };
  for (const auto& [name, value] : opt) {
    static const char* const kKnown[] = {"home", "messages", "batches", "start", "payload", "attachment", "cache-pages",
                                         "hold-in"};
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return Usage("unknown option --" + name);
    }
  }
  const auto messages = number("messages", -1), batches = number("batches", -1), start = number("start", 0),
             payload = number("payload", 512), attachment = number("attachment", 0),
             cache = number("cache-pages", 0), hold = number("hold-in", -1);
  if (!messages || !batches || !start || !payload || !attachment || !cache || !hold) {
    return Usage("options take a number");
  }
  if (opt.count("home") == 0 || *messages <= 0) return Usage("--home and --messages are required");
  if (!count && *batches < 0) return Usage("give --batches N or --count");

  const char* pass = std::getenv("COMITY_PASSPHRASE");
  if (pass == nullptr || *pass == '\0') return Usage("COMITY_PASSPHRASE is not set");
  auto archive = Archive::Open(opt["home"], crypto::AsBytes(pass));
  if (!archive) return Refuse("cannot open the archive", archive.error());
  Archive& a = **archive;
  if (count) return Count(a, *messages);

  if (*cache > 0) {
    // A tiny page cache spills uncommitted pages into the WAL mid-batch, so a crash leaves
    // uncommitted frames behind that recovery must ignore.
    if (auto st = a.db().Exec("PRAGMA cache_size = " + std::to_string(*cache)); !st) {
      return Refuse("setting the cache size", st.error());
    }
  }
  for (std::int64_t b = *start; b < *start + *batches; ++b) {
    std::cout << "begin " << b << std::endl;
    if (auto st = WriteBatch(a, b, *messages, static_cast<std::size_t>(*payload),
                             static_cast<std::size_t>(*attachment), b == *hold);
        !st) {
      return Refuse("batch " + std::to_string(b) + " failed", st.error());
    }
    std::cout << "committed " << b << std::endl;
  }
  return 0;
}
