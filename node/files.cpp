#include "node/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

namespace comity::node {
namespace {

Error SysError(const std::string& what, const std::string& path) {
  return MakeError(what + " " + path + ": " + std::strerror(errno));
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int fd = fd_; fd_ = -1; return fd; }

 private:
  int fd_;
};

}  // namespace

namespace {

// Reads a regular file: all of it (at most `max_bytes`, else an error) when `whole`, else its
// first `max_bytes` bytes.
Result<std::string> ReadRegular(const std::string& path, std::size_t max_bytes, bool whole) {
  // O_NONBLOCK so that a FIFO given by mistake is refused below instead of blocking here.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return SysError("cannot read", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return SysError("cannot read", path);
  if (!S_ISREG(st.st_mode)) return MakeError("cannot read " + path + ": not a regular file");
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  if (whole && static_cast<std::size_t>(st.st_size) > max_bytes) {
    return MakeError("cannot read " + path + ": file is too large");
  }
  std::string out(whole ? static_cast<std::size_t>(st.st_size) : max_bytes, '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("cannot read", path);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace

Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes) {
  return ReadRegular(path, max_bytes, true);
}

namespace {

bool WriteAll(int fd, const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The one atomic-replacement procedure: `fill` writes the content into the temporary file.
Status<> ReplaceAtomically(const std::string& path, mode_t mode, bool exclusive,
                           const std::function<bool(int fd)>& fill) {
  if (exclusive && FileExists(path)) return MakeError("refusing to overwrite " + path + ": it exists");
  std::string tmp = path + ".tmp-XXXXXX";
  Fd fd(::mkstemp(tmp.data()));
  if (fd.get() < 0) return SysError("cannot create a temporary file for", path);
  auto fail = [&](const std::string& what) {
    Error e = SysError(what, path);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot set permissions of");
  if (!fill(fd.get())) return fail("cannot write");
  if (::fsync(fd.get()) != 0) return fail("cannot sync");
  if (::close(fd.release()) != 0) return fail("cannot write");
  if (exclusive) {
    // link() fails if the target appeared meanwhile, unlike rename().
    if (::link(tmp.c_str(), path.c_str()) != 0) return fail("cannot create");
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("cannot replace");
  }
  Fd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return {};
}

}  // namespace

Status<> WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode, bool exclusive) {
  return ReplaceAtomically(path, mode, exclusive, [&](int fd) { return WriteAll(fd, data.data(), data.size()); });
}

Status<> WriteFileAtomicFrom(const std::string& path, const std::string& prefix, const std::string& source,
                             std::uint64_t source_offset, mode_t mode, bool exclusive) {
  Fd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return SysError("cannot read", source);
  if (::lseek(in.get(), static_cast<off_t>(source_offset), SEEK_SET) < 0) return SysError("cannot read", source);
  int read_errno = 0;
  auto st = ReplaceAtomically(path, mode, exclusive, [&](int out) {
    if (!WriteAll(out, prefix.data(), prefix.size())) return false;
    std::vector<char> buf(1 << 20);  // memory stays bounded whatever the file size
    for (;;) {
      ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        read_errno = errno;
        return false;
      }
      if (n == 0) return true;
      if (!WriteAll(out, buf.data(), static_cast<std::size_t>(n))) return false;
    }
  });
  if (!st && read_errno != 0) {
    errno = read_errno;
    return SysError("cannot read", source);
  }
  return st;
}

Result<std::string> ReadFilePrefix(const std::string& path, std::size_t max_bytes) {
  return ReadRegular(path, max_bytes, false);
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace comity::node
