// comity export and comity verify: a thread's evidence bundle (docs/PROTOCOL.md §13), written
// from the daemon's Export answer, and checked offline with nothing but a network's root key,
// its verified timeline printed as `thread show` prints a thread.
#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/struct.pb.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>

#include "client/api_client.h"
#include "client/commands.h"
#include "client/evidence.h"
#include "client/print.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"

namespace comity::client {
namespace {

constexpr int kExportTimeoutMs = 120000;  // a thread with big drafts takes the daemon a moment
constexpr std::size_t kMaxRootKeyFileBytes = 64 * 1024;

std::string ErrorText(int e) { return std::strerror(e); }

// A file written beside its final path and put there whole, or not at all: the temporary file
// is removed unless Commit succeeds.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {}
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Creates the temporary file (mode 0600) in the final path's directory.
  std::optional<Failure> Create() {
    const std::filesystem::path final_path(path_);
    dir_ = final_path.parent_path().empty() ? "." : final_path.parent_path().string();
    std::string temp = dir_ + "/." + final_path.filename().string() + ".XXXXXX";
    fd_ = ::mkstemp(temp.data());
    if (fd_ < 0) return Failure{"cannot write in " + dir_ + ": " + ErrorText(errno)};
    temp_ = temp;
    return std::nullopt;
  }

  // Writes `bytes`, syncs them, and moves the file to its path, which must not exist yet.
  std::optional<Failure> Commit(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Failure{"cannot write " + path_ + ": " + ErrorText(errno)};
      done += static_cast<std::size_t>(w);
    }
    if (::fsync(fd_) != 0) return Failure{"cannot write " + path_ + ": " + ErrorText(errno)};
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Failure{"cannot write " + path_ + ": " + ErrorText(errno)};
    if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
      const int e = errno;
      if (e == EEXIST) return Failure{path_ + " exists: give a file that does not"};
      if (e != EINVAL && e != ENOSYS && e != EOPNOTSUPP) return Failure{"cannot write " + path_ + ": " + ErrorText(e)};
      // A file system without RENAME_NOREPLACE: a hard link refuses an existing path too.
      if (::link(temp_.c_str(), path_.c_str()) != 0) {
        const int le = errno;
        if (le == EEXIST) return Failure{path_ + " exists: give a file that does not"};
        return Failure{"cannot write " + path_ + ": " + ErrorText(le)};
      }
      ::unlink(temp_.c_str());
    }
    temp_.clear();
    // The rename itself is durable once the directory is.
    const int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      (void)::fsync(dir);
      ::close(dir);
    }
    return std::nullopt;
  }

 private:
  std::string path_;
  std::string dir_;
  std::string temp_;  // while it exists
  int fd_ = -1;
};

std::string AddressOf(const v1::Party& p) { return p.member_id() + "@" + p.network_id(); }

}  // namespace

int Export(const Options& o) {
  if (auto f = CheckOptions(o, "export", {"--out"})) return Fail(*f);
  const std::string usage = "'export' takes a thread and a new file: comity export THREAD --out FILE";
  const auto out = o.Value("--out");
  if (o.words.size() != 2 || !out || out->empty()) return Usage(usage);
  const auto thread = ThreadArgument(o.words[1]);
  if (!thread) return Usage("'" + o.words[1] + "' is no thread: give its id (16 hex digits) or at least its first 4");
  struct stat st {};
  if (::lstat(out->c_str(), &st) == 0) return Fail({*out + " exists: give a file that does not"});
  if (errno != ENOENT) return Fail({"cannot write " + *out + ": " + ErrorText(errno)});
  AtomicFile file(*out);
  if (auto f = file.Create()) return Fail(*f);

  v1::ApiRequest request;
  request.mutable_export_()->set_thread(*thread);
  auto r = Call(o, std::move(request), {kExportTimeoutMs, service::kMaxBundleBytes + (std::size_t{1} << 20)});
  if (!r.ok()) return Fail(r.error());
  const v1::ExportResponse& e = r->export_();
  if (e.bundle().empty()) return Fail({"comityd sent no bundle"});
  if (auto f = file.Commit(e.bundle())) return Fail(*f);
  if (o.json) {
    google::protobuf::Struct doc;
    auto& fields = *doc.mutable_fields();
    fields["thread"].set_string_value(*thread);
    fields["out"].set_string_value(*out);
    fields["bytes"].set_number_value(static_cast<double>(e.bundle().size()));
    fields["envelopes"].set_number_value(e.envelopes());
    fields["receipts"].set_number_value(e.receipts());
    fields["rosters"].set_number_value(e.rosters());
    PrintJson(doc);
    return 0;
  }
  std::cout << "Exported thread " << Shown(e.thread_id()) << " to " << *out << ": " << e.envelopes()
            << (e.envelopes() == 1 ? " envelope, " : " envelopes, ") << e.receipts()
            << (e.receipts() == 1 ? " receipt, " : " receipts, ") << e.rosters()
            << (e.rosters() == 1 ? " roster" : " rosters") << " (" << SizeText(e.bundle().size()) << ")\n";
  return 0;
}

Result<VerifiedThread> VerifyThread(std::string_view file, const v1::RootKey& root, std::int64_t now) {
  auto verified = service::VerifyBundle(file, root, now);
  if (!verified.ok()) return std::move(verified).error();
  const service::VerifiedBundle& b = verified.value();
  std::vector<service::ThreadItem> items;
  for (std::size_t i = 0; i < b.envelopes.size(); ++i) {
    const service::VerifiedEnvelope& e = b.envelopes[i];
    service::ThreadItem item;
    if (!item.event.ParseFromArray(e.content.data(), static_cast<int>(e.content.size()))) {
      return MakeError("envelope " + std::to_string(i + 1) + " holds no thread event");
    }
    item.message_id = e.message_id;
    item.sender = e.sender;
    item.created_at = e.header.created_at();
    items.push_back(std::move(item));
  }
  VerifiedThread out;
  out.view = service::FoldThread(std::move(items), {});
  std::map<std::string, v1::ThreadEventView*> events;
  for (auto& e : *out.view.mutable_events()) events[e.message_id()] = &e;
  for (const service::VerifiedReceipt& r : b.receipts) {
    const bool about = r.receipt.kind() == "relayed" || r.receipt.kind() == "not-delivered";
    const std::string party = about && r.receipt.has_about() ? AddressOf(r.receipt.about()) : r.signer;
    for (const std::string& id : r.receipt.message_ids()) {
      auto it = events.find(id);
      if (it == events.end()) continue;
      v1::ReceiptView* receipt = it->second->add_receipts();
      receipt->set_kind(r.receipt.kind());
      receipt->set_party(party);
      receipt->set_at(r.receipt.at());
    }
  }
  out.envelopes = b.envelopes.size();
  out.receipts = b.receipts.size();
  out.rosters = static_cast<std::size_t>(b.bundle.rosters_size());
  out.networks = b.networks;
  out.exporter = b.exporter;
  out.exported_at = b.bundle.exported_at();
  return out;
}

void PrintVerified(const VerifiedThread& v, std::ostream& out) {
  PrintThread(v.view, out);
  out << "\nVerified: " << v.envelopes << (v.envelopes == 1 ? " envelope, " : " envelopes, ") << v.receipts
      << (v.receipts == 1 ? " receipt, " : " receipts, ") << v.rosters << (v.rosters == 1 ? " roster" : " rosters")
      << " of " << ShownList(v.networks) << "; exported by " << Shown(v.exporter) << " at " << UtcTime(v.exported_at)
      << " UTC\n";
}

std::string VerifiedJson(const VerifiedThread& v, const std::string& file) {
  google::protobuf::Struct summary;
  auto& fields = *summary.mutable_fields();
  fields["file"].set_string_value(file);
  fields["envelopes"].set_number_value(static_cast<double>(v.envelopes));
  fields["receipts"].set_number_value(static_cast<double>(v.receipts));
  fields["rosters"].set_number_value(static_cast<double>(v.rosters));
  auto* networks = fields["networks"].mutable_list_value();
  for (const std::string& n : v.networks) networks->add_values()->set_string_value(n);
  fields["exporter"].set_string_value(v.exporter);
  fields["exported_at"].set_number_value(static_cast<double>(v.exported_at));
  return "{\"thread\":" + JsonOf(v.view) + ",\"verified\":" + JsonOf(summary) + "}";
}

int Verify(const Options& o) {
  if (auto f = CheckOptions(o, "verify", {"--root"})) return Fail(*f);
  const auto root_file = o.Value("--root");
  if (o.words.size() != 2 || !root_file) {
    return Usage("'verify' takes a bundle and its network's root key: comity verify FILE --root ROOT_FILE");
  }
  const std::string& path = o.words[1];
  auto root_bytes = ReadArgumentFile(*root_file, kMaxRootKeyFileBytes, "a root key file");
  if (!root_bytes.ok()) return Fail(root_bytes.error());
  v1::RootKey root;
  if (!root.ParseFromString(root_bytes.value())) {
    return Fail({*root_file + ": not a network root key (a RootKey as comityd network root writes it)"});
  }
  auto file = ReadArgumentFile(path, service::kMaxBundleBytes, "an evidence bundle");
  if (!file.ok()) return Fail(file.error());
  auto verified = VerifyThread(file.value(), root, static_cast<std::int64_t>(std::time(nullptr)));
  if (!verified.ok()) return Fail({path + ": " + verified.error().message});
  if (o.json) {
    std::cout << VerifiedJson(verified.value(), path) << "\n";
  } else {
    PrintVerified(verified.value(), std::cout);
  }
  return 0;
}

}  // namespace comity::client
