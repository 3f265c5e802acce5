// The local API (proto/api.proto, docs/PROTOCOL.md §12): a Unix socket in the node's home,
// mode 0600, served on the node's io_context. Each request is a 4-byte big-endian length and
// a serialized ApiRequest; each gets one ApiResponse framed the same way, in order. A request
// over kMaxApiRequest bytes, one that does not parse, or of an unknown version or kind gets an
// error response (and, when too large, the connection is closed): never a crash.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "node/daemon/log.h"
#include "proto/api.pb.h"

namespace comity::node {

// 16 MiB: a draft (at most 8 MiB) and its request fit.
inline constexpr std::uint32_t kMaxApiRequest = 16 << 20;

// The request in one frame's body: it must parse, be version 1 and of a known kind; the
// error says which failed. Pure; what the fuzz target fuzz_api exercises.
Result<v1::ApiRequest> ParseApiRequest(std::string_view body);

// "\0\0\1\0" + bytes: the frame of one message.
std::string ApiFrame(const google::protobuf::Message& m);

// The answer to a request answered at once: `result`'s value in `field`, or its error as
// "`what`: message".
template <class T>
inline v1::ApiResponse Answer(const char* what, Result<T> result, T* (v1::ApiResponse::*field)()) {
  v1::ApiResponse response;
  if (!result) {
    response.set_error(std::string(what) + ": " + result.error().message);
  } else {
    *(response.*field)() = std::move(result).value();
  }
  return response;
}

class ApiServer {
 public:
  using Reply = std::function<void(v1::ApiResponse)>;
  // Called on the node's thread with a request that parsed; `reply` may be called later (a
  // ping waits for its receipt), at most once.
  using Handler = std::function<void(const v1::ApiRequest&, Reply)>;

  ApiServer(boost::asio::io_context& io, std::string path, Handler handler, Logger& log);
  ~ApiServer();
  // Binds the socket: a stale one (nobody answers) is replaced; one a running daemon answers
  // is an error, as is a path that is not a socket.
  Status<> Start();
  // Stops accepting, closes every connection and removes the socket file.
  void Stop();

 private:
  struct Connection;
  void Accept();

  boost::asio::io_context& io_;
  std::string path_;
  Handler handler_;
  Logger& log_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::set<std::shared_ptr<Connection>> connections_;
  bool bound_ = false;
};

}  // namespace comity::node
