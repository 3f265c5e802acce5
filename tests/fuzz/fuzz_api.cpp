// Fuzz target: what a local client writes to HOME/comity.sock (docs/PROTOCOL.md §12): a
// stream of frames, each a 4-byte big-endian length and a body, decoded as the daemon's
// ApiServer does (the length limit, then ParseApiRequest: parse, version, known kind).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/daemon/api.h"
#include "tests/fuzz/world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace comity;
  static crypto::test::QuietProtobufLogs quiet;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (rest.size() >= 4) {
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<std::uint8_t>(rest[i]);
    rest.remove_prefix(4);
    if (length > node::kMaxApiRequest) return 0;  // the daemon answers and closes the connection
    if (length > rest.size()) return 0;           // the daemon waits for the rest
    (void)node::ParseApiRequest(rest.substr(0, length));
    rest.remove_prefix(length);
  }
  return 0;
}
