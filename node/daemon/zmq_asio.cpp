#include "node/daemon/zmq_asio.h"

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
  bool any = false;
  for (;;) {
    if ((socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) break;
    std::vector<zmq::message_t> frames;
    auto got = zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait);
    if (!got) break;
    any = true;
    on_message_(frames);
  }
  draining_ = false;
  if (any && on_drained_) on_drained_();
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
