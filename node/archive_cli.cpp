// comityd archive ...: verify, backup, restore, rekey and purge of a node's archive.
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>

#include <unistd.h>

#include "node/archive/archive.h"
#include "node/cli.h"
#include "node/files.h"

namespace comity::node {
namespace {

using archive::Archive;

struct Opened {
  Home home;
  crypto::SecretBytes passphrase;
  std::unique_ptr<Archive> archive;
};

Result<Opened, CmdError> OpenArchive(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return CmdError(home.error());
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return CmdError(pass.error());
  auto archive = Archive::Open(home->dir(), pass->view());
  if (!archive) return CmdError(archive.error());
  return Opened{std::move(home).value(), std::move(pass).value(), std::move(archive).value()};
}

// YYYY-MM-DD (UTC midnight) or YYYY-MM-DDTHH:MM:SSZ.
std::optional<std::int64_t> ParseDate(const std::string& text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char tail = 0;
  if (text.size() == 10 && std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &mo, &d, &tail) == 3) {
  } else if (text.size() == 20 && std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &y, &mo, &d, &h, &mi, &s, &tail) == 6) {
  } else {
    return std::nullopt;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t t = timegm(&tm);
  if (tm.tm_mday != d) return std::nullopt;  // e.g. 2026-02-30 normalised into March
  return static_cast<std::int64_t>(t);
}

CmdStatus CmdArchiveVerify(const Args& args) {
  auto a = OpenArchive(args);
  if (!a) return a.error();
  auto report = a->archive->Verify();
  if (!report) return CmdError(report.error());
  for (const std::string& line : report->checked) std::cout << "ok: " << line << "\n";
  if (!report->ok) return CmdError("archive " + a->home.dir() + "/archive.db: " + report->first_break, 1);
  std::cout << "Archive " << a->home.dir() << "/archive.db is intact\n";
  return {};
}

CmdStatus CmdArchiveBackup(const Args& args) {
  auto a = OpenArchive(args);
  if (!a) return a.error();
  const std::string out = *args.Get("out");
  if (FileExists(out)) return Fail("refusing to overwrite " + out);
  if (auto st = a->archive->Backup(out); !st) return CmdError(st.error());
  if (auto st = a->archive->Batch([&] { return a->archive->Audit(Now(), Actor(a->home), "backup", "to " + out); }); !st) {
    return CmdError(st.error());
  }
  std::cout << "Backup of " << a->home.dir() << "/archive.db written to " << out
            << " (encrypted; opens with the same passphrase)\n";
  return {};
}

CmdStatus CmdArchiveRestore(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return CmdError(home.error());
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return CmdError(pass.error());
  const std::string from = *args.Get("from");
  if (auto st = archive::Restore(home->dir(), from, pass->view(), args.Has("force"), Now()); !st) {
    return CmdError(st.error());
  }
  if (auto st = RecordInArchive(*home, *pass, "restore", "from " + from); !st) return st;
  std::cout << "Archive of " << home->dir() << " restored from " << from << "\n";
  return {};
}

CmdStatus CmdArchiveRekey(const Args& args) {
  auto a = OpenArchive(args);
  if (!a) return a.error();
  // The keystores are unlocked first: the same passphrase protects them and must change too.
  auto identity = a->home.UnlockIdentity(a->passphrase);
  if (!identity) return CmdError(identity.error());
  std::optional<crypto::SigningKey> root;
  if (a->home.IsCoordinator()) {
    auto r = a->home.UnlockRoot(a->passphrase);
    if (!r) return CmdError(r.error());
    root = std::move(r).value();
  }
  PassphraseSource next{args.Get("new-passphrase-file")};
  std::optional<crypto::SecretBytes> fresh;
  if (next.file) {
    auto p = ObtainPassphrase(next, true);
    if (!p) return CmdError(p.error());
    fresh = std::move(p).value();
  } else if (const char* env = std::getenv("COMITY_NEW_PASSPHRASE"); env != nullptr) {
    fresh = crypto::SecretBytes(std::strlen(env));
    std::copy(env, env + fresh->size(), fresh->data());
    if (fresh->empty()) return Fail("the new passphrase is empty");
  } else {
    return Fail("no new passphrase: use --new-passphrase-file FILE or COMITY_NEW_PASSPHRASE");
  }
  if (crypto::ConstantTimeEqual(fresh->view(), a->passphrase.view())) return Fail("the new passphrase is the old one");
  const crypto::KdfParams kdf = CreationKdf();
  // Stage the keystores, rekey the database, then move the keystores into place: every
  // step can be interrupted and the next unlock finishes it (node/home.h, archive.h).
  if (auto st = a->home.StageReseal("keys", "node", identity->ExportSecret(), *fresh, kdf); !st) return st;
  if (root) {
    if (auto st = a->home.StageReseal("root.key", "root", root->secret(), *fresh, kdf); !st) return st;
  }
  if (auto st = a->archive->Rekey(fresh->view(), kdf, Now(), Actor(a->home)); !st) {
    // When the old passphrase still opens the archive nothing changed: the staged keystores
    // must go too, or the next unlock with the new passphrase would adopt them.
    a->archive.reset();
    if (Archive::Open(a->home.dir(), a->passphrase.view())) {
      for (const char* name : {"keys", "root.key"}) ::unlink((a->home.PathOf(name) + ".new").c_str());
    }
    return CmdError(st.error());
  }
  if (auto st = a->home.CommitReseal("keys"); !st) return st;
  if (root) {
    if (auto st = a->home.CommitReseal("root.key"); !st) return st;
  }
  std::cout << "Passphrase changed for the archive and the keys of " << a->home.dir()
            << "; the old passphrase no longer opens them\n";
  return {};
}

CmdStatus CmdArchivePurge(const Args& args) {
  auto before = ParseDate(*args.Get("before"));
  if (!before) return Fail("--before must be a date: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  auto a = OpenArchive(args);
  if (!a) return a.error();
  auto report = a->archive->Purge(*before, Now(), Actor(a->home));
  if (!report) return CmdError(report.error());
  std::cout << "Purged content from before " << *args.Get("before") << ": " << report->messages << " messages, "
            << report->drafts << " drafts, " << report->notices << " notices, " << report->receipts << " receipts, "
            << report->attachments << " attachments (the audit log records each)\n";
  if (!report->wal_checkpointed) {
    std::cerr << "comityd: warning: the write-ahead log could not be checkpointed (is the disk full?); removed "
                 "content stays in archive.db-wal until the next checkpoint\n";
  }
  return {};
}

// The newest audit entries, oldest first, as the legal trace reads.
CmdStatus CmdArchiveLog(const Args& args) {
  int last = 20;
  if (auto n = args.Get("last")) {
    if (n->empty() || n->size() > 6 || n->find_first_not_of("0123456789") != std::string::npos || std::stoi(*n) < 1) {
      return Fail("--last must be a whole number from 1 to 999999");
    }
    last = std::stoi(*n);
  }
  auto a = OpenArchive(args);
  if (!a) return a.error();
  auto entries = a->archive->AuditTail(last);
  if (!entries) return CmdError(entries.error());
  for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
    std::cout << it->seq << "  " << UtcTime(it->at, "%Y-%m-%dT%H:%M:%SZ") << "  " << it->actor << "  " << it->action << "  " << it->detail << "\n";
  }
  return {};
}

}  // namespace

std::vector<Command> ArchiveCommands() {
  auto with = WithCommonOptions;
  return {
      {{"archive", "verify"}, "archive verify --home DIR", with({}), {}, {}, CmdArchiveVerify},
      {{"archive", "log"}, "archive log --home DIR [--last N]", with({"last"}), {}, {}, CmdArchiveLog},
      {{"archive", "backup"}, "archive backup --home DIR --out FILE", with({"out"}), {}, {"out"}, CmdArchiveBackup},
      {{"archive", "restore"}, "archive restore --home DIR --from FILE [--force]", with({"from"}), {"force"}, {"from"},
       CmdArchiveRestore},
      {{"archive", "rekey"}, "archive rekey --home DIR [--new-passphrase-file FILE]", with({"new-passphrase-file"}), {},
       {}, CmdArchiveRekey},
      {{"archive", "purge"}, "archive purge --home DIR --before YYYY-MM-DD", with({"before"}), {}, {"before"},
       CmdArchivePurge},
  };
}

}  // namespace comity::node
