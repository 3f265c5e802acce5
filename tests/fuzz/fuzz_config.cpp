// Fuzz target: the daemon's configuration file (comityd run --config, protobuf text format),
// parsed and checked as comityd does before it asks for the passphrase.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/daemon/config.h"
#include "tests/fuzz/world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace comity;
  static crypto::test::QuietProtobufLogs quiet;
  static const v1::NodeConfig node = [] {
    v1::NodeConfig n;
    n.set_format(1);
    n.set_member_id("ES-MJ");
    n.add_listen("tcp://127.0.0.1:7400");
    return n;
  }();
  (void)node::ParseDaemonConfig(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.conf", node);
  return 0;
}
