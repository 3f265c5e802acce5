// Fuzz target: an evidence bundle file (docs/PROTOCOL.md §13), verified offline under
// IberRed's root as `comity verify` does.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/service/bundle.h"
#include "tests/fuzz/world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace comity;
  static const fuzz::World& w = fuzz::TheWorld();
  static const v1::RootKey root = w.iber.root_key();
  static crypto::test::QuietProtobufLogs quiet;
  (void)service::VerifyBundle(std::string_view(reinterpret_cast<const char*>(data), size), root,
                              crypto::test::kNow);
  return 0;
}
