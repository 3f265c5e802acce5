// A free loopback TCP port for a test or benchmark node to listen on (bound and released:
// another process could take it in between; on a test machine that does not happen in
// practice, and a bind failure fails loudly). The kernel may give a released port again, so
// one process never hands out the same port twice.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <set>

namespace comity::test {

inline int FreePort() {
  static std::set<int> given;
  for (;;) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
    const int port = a.local_endpoint().port();
    if (given.insert(port).second) return port;
  }
}

}  // namespace comity::test
