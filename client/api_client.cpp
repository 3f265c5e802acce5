#include "client/api_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace comity::client {
namespace {

// Closes the socket however the call ends.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

bool WriteAll(int fd, const std::string& data, int timeout_ms) {
  std::size_t done = 0;
  while (done < data.size()) {
    if (!WaitFor(fd, POLLOUT, timeout_ms)) return false;
    const ssize_t w = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* out, std::size_t n, int timeout_ms) {
  std::size_t done = 0;
  while (done < n) {
    if (!WaitFor(fd, POLLIN, timeout_ms)) return false;
    const ssize_t r = ::recv(fd, out + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

Result<v1::ApiResponse, Failure> Call(const Options& o, v1::ApiRequest request, const CallLimits& limits,
                                      const std::function<void(const v1::Progress&)>& on_progress) {
  request.set_version(1);
  const std::string path = SocketOf(o);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Failure{"the socket path " + path + " is too long", 2};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Socket socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket.fd() < 0) return Failure{std::string("cannot make a socket: ") + std::strerror(errno)};
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ECONNREFUSED) return Failure{NotRunning(o), 3};
    if (e == EACCES || e == EPERM) {
      return Failure{"permission denied on " + path + " (run comity as the user that runs comityd)"};
    }
    return Failure{"cannot reach comityd at " + path + ": " + std::strerror(e)};
  }
  if (on_progress) request.set_progress(true);
  const std::string body = request.SerializeAsString();
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>(static_cast<std::uint32_t>(body.size()) >> (24 - 8 * i));
  const std::string seconds = std::to_string(limits.timeout_ms / 1000) + " s";
  // A daemon that refuses a request (too large) answers and closes without reading it all: its
  // answer is still worth reading when the write fails.
  const bool written = WriteAll(socket.fd(), frame + body, limits.timeout_ms);
  const std::string unreadable = "comityd at " + path + " sent an answer this client cannot read";
  // Progress responses (asked for) come first; then the answer.
  for (;;) {
    unsigned char header[4];
    if (!ReadAll(socket.fd(), reinterpret_cast<char*>(header), 4, limits.timeout_ms)) {
      if (!written) return Failure{"comityd at " + path + " did not take the request"};
      return Failure{"comityd at " + path + " did not answer within " + seconds};
    }
    const std::uint32_t size = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                               (std::uint32_t{header[2]} << 8) | header[3];
    if (size > limits.max_answer) return Failure{unreadable};
    std::string in(size, '\0');
    v1::ApiResponse response;
    if (!ReadAll(socket.fd(), in.data(), size, limits.timeout_ms) || !response.ParseFromString(in)) {
      return Failure{unreadable};
    }
    if (response.has_progress() && on_progress) {
      on_progress(response.progress());
      continue;
    }
    if (!response.error().empty()) return Failure{response.error()};
    return response;
  }
}

}  // namespace comity::client
