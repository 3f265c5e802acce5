#include "node/daemon/zmq_asio.h"

#include <boost/asio/post.hpp>
#include <zmq_addon.hpp>

namespace comity::node {

ZmqReader::ZmqReader(boost::asio::io_context& io, zmq::socket_t& socket, Handler on_message,
                     std::function<void()> on_drained)
    : socket_(socket),
      on_message_(std::move(on_message)),
      on_drained_(std::move(on_drained)),
      fd_(io, socket.get(zmq::sockopt::fd)) {}

ZmqReader::~ZmqReader() {
  boost::system::error_code ignored;
  fd_.cancel(ignored);
  fd_.release();  // libzmq's descriptor: not ours to close
}

void ZmqReader::Drain() {
  if (draining_) return;  // a handler that sends calls Drain again: the loop below goes on
  draining_ = true;
  int taken = 0;
  bool more = false;
  const auto until = std::chrono::steady_clock::now() + kDrainBudget;
  for (;;) {
    if ((socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) break;
    if (taken >= kMaxPerDrain || std::chrono::steady_clock::now() >= until) {
      more = true;  // a peer that never stops sending must not starve everything else
      break;
    }
    std::vector<zmq::message_t> frames;
    auto got = zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait);
    if (!got) break;
    ++taken;
    on_message_(frames);
  }
  draining_ = false;
  if (taken > 0 && on_drained_) on_drained_();
  if (more) {
    // The edge is spent: come back after what else waits on the io_context.
    std::weak_ptr<char> alive = alive_;
    boost::asio::post(fd_.get_executor(), [this, alive] {
      if (!alive.expired()) Drain();
    });
    return;
  }
  Arm();
}

void ZmqReader::Arm() {
  if (armed_) return;
  armed_ = true;
  std::weak_ptr<char> alive = alive_;
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this, alive](const boost::system::error_code& ec) {
                   if (alive.expired()) return;  // the reader is gone
                   armed_ = false;
                   if (ec) return;
                   Drain();
                 });
}

}  // namespace comity::node
