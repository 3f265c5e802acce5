// Drives a ZeroMQ socket from a Boost.Asio io_context. ZMQ_FD is edge-triggered: it signals
// that ZMQ_EVENTS may have changed, not that a message is waiting. So after every wake-up, and
// after every send on the socket (which can consume the edge), Drain() reads ZMQ_EVENTS and
// receives until it reports nothing more, then waits again. The fd belongs to libzmq and is
// never closed here. Same thread as the io_context.
#pragma once

#include <chrono>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <vector>
#include <zmq.hpp>

namespace comity::node {

class ZmqReader {
 public:
  // One drain takes at most this many messages, or this much time, before it lets the other
  // work on the io_context run (timers, the local API, other sockets) and goes on after it.
  static constexpr int kMaxPerDrain = 512;
  static constexpr std::chrono::milliseconds kDrainBudget{20};
  using Handler = std::function<void(std::vector<zmq::message_t>& frames)>;
  // `on_drained`, if given, runs after each drain that received something (a node commits
  // what the drain brought in one transaction there).
  ZmqReader(boost::asio::io_context& io, zmq::socket_t& socket, Handler on_message,
            std::function<void()> on_drained = nullptr);
  ~ZmqReader();
  ZmqReader(const ZmqReader&) = delete;
  ZmqReader& operator=(const ZmqReader&) = delete;

  // Receives every message ready now, then waits for the next edge.
  void Drain();

 private:
  void Arm();

  zmq::socket_t& socket_;
  Handler on_message_;
  std::function<void()> on_drained_;
  boost::asio::posix::stream_descriptor fd_;
  bool armed_ = false;
  bool draining_ = false;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // a cancelled wait that runs late sees it gone
};

}  // namespace comity::node
