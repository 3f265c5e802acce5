#include "node/daemon/api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>

namespace comity::node {
namespace {

using boost::asio::local::stream_protocol;

std::uint32_t GetBe32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

v1::ApiResponse Error(const std::string& why) {
  v1::ApiResponse r;
  r.set_error(why);
  return r;
}

}  // namespace

std::string ApiFrame(const google::protobuf::Message& m) {
  const std::string body = m.SerializeAsString();
  std::string out(4, '\0');
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (24 - 8 * i));
  return out + body;
}

Result<v1::ApiRequest> ParseApiRequest(std::string_view body) {
  v1::ApiRequest request;
  if (body.size() > kMaxApiRequest || !request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return MakeError("malformed request");
  }
  if (request.version() != 1) return MakeError("request version " + std::to_string(request.version()) + " is not 1");
  if (request.request_case() == v1::ApiRequest::REQUEST_NOT_SET) return MakeError("unknown request (a newer client?)");
  return request;
}

// One client: reads a request, hands it over, writes the response when it comes, then reads
// the next. Responses go out in request order because the next request is read only after.
struct ApiServer::Connection : std::enable_shared_from_this<Connection> {
  Connection(ApiServer& server, stream_protocol::socket socket) : server(server), socket(std::move(socket)) {}

  void ReadHeader() {
    auto self = shared_from_this();
    boost::asio::async_read(socket, boost::asio::buffer(header), [self](const boost::system::error_code& ec, std::size_t) {
      if (ec) return self->Close();
      const std::uint32_t size = GetBe32(self->header);
      if (size > kMaxApiRequest) {
        // The rest is not read: the connection ends after the answer.
        return self->Write(Error("request of " + std::to_string(size) + " bytes: the limit is " +
                                 std::to_string(kMaxApiRequest)),
                           false);
      }
      self->body.resize(size);
      self->ReadBody();
    });
  }

  void ReadBody() {
    auto self = shared_from_this();
    boost::asio::async_read(socket, boost::asio::buffer(body), [self](const boost::system::error_code& ec, std::size_t) {
      if (ec) return self->Close();
      auto parsed = ParseApiRequest(self->body);
      if (!parsed) return self->Write(Error(parsed.error().message), true);
      const v1::ApiRequest request = std::move(parsed).value();
      std::weak_ptr<Connection> weak = self;
      auto answered = std::make_shared<bool>(false);
      self->server.handler_(request, [weak, answered](v1::ApiResponse response) {
        auto c = weak.lock();
        // Progress only before the answer; one answer.
        if (!c || *answered) return;
        const bool progress = response.has_progress();
        *answered = !progress;
        c->Write(response, true, !progress);
      });
    });
  }

  // Queues a response: progress ones (final false) go before the answer, which ends the
  // request (then the next is read, or the connection closed).
  void Write(const v1::ApiResponse& response, bool then_read, bool final = true) {
    queue.push_back({ApiFrame(response), then_read, final});
    if (!writing) WriteNext();
  }

  void WriteNext() {
    writing = true;
    auto self = shared_from_this();
    boost::asio::async_write(socket, boost::asio::buffer(queue.front().bytes),
                             [self](const boost::system::error_code& ec, std::size_t) {
                               const Out done = std::move(self->queue.front());
                               self->queue.pop_front();
                               self->writing = false;
                               if (ec || (done.final && !done.then_read)) return self->Close();
                               if (done.final) return self->ReadHeader();
                               if (!self->queue.empty()) self->WriteNext();
                             });
  }

  void Close() {
    boost::system::error_code ignored;
    socket.close(ignored);
    server.connections_.erase(shared_from_this());
  }

  ApiServer& server;
  stream_protocol::socket socket;
  unsigned char header[4] = {};
  std::string body;
  struct Out {
    std::string bytes;
    bool then_read = true;
    bool final = true;
  };
  std::deque<Out> queue;
  bool writing = false;
};

ApiServer::ApiServer(boost::asio::io_context& io, std::string path, Handler handler, Logger& log)
    : io_(io), path_(std::move(path)), handler_(std::move(handler)), log_(log), acceptor_(io) {}

ApiServer::~ApiServer() { Stop(); }

Status<> ApiServer::Start() {
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return MakeError("cannot serve the local API at " + path_ + ": the path is too long for a Unix socket");
  }
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return MakeError("cannot serve the local API: " + path_ + " exists and is not a socket");
    stream_protocol::socket probe(io_);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path_), ec);
    if (!ec) return MakeError("another comityd answers at " + path_ + ": is this node already running?");
    ::unlink(path_.c_str());  // left by a daemon that did not stop cleanly
  }
  boost::system::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path_), ec);
  if (!ec && ::chmod(path_.c_str(), 0600) != 0) ec.assign(errno, boost::system::system_category());
  if (!ec) acceptor_.listen(16, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return MakeError("cannot serve the local API at " + path_ + ": " + ec.message());
  }
  bound_ = true;
  Accept();
  return {};
}

void ApiServer::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, stream_protocol::socket socket) {
    if (ec) return;  // closed by Stop
    auto c = std::make_shared<Connection>(*this, std::move(socket));
    connections_.insert(c);
    c->ReadHeader();
    Accept();
  });
}

void ApiServer::Stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& c : connections_) c->socket.close(ignored);
  connections_.clear();
  if (bound_) ::unlink(path_.c_str());
  bound_ = false;
}

}  // namespace comity::node
