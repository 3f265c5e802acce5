// Fuzz target: an envelope as a peer sends it (docs/PROTOCOL.md §6), through everything a node
// does with one: the message id, a relay's Inspect, the recipient's Open, and, when it opens,
// the check of its workflow content (a thread event or a notice).
#include <cstddef>
#include <cstdint>

#include "crypto/envelope.h"
#include "node/daemon/workflow.h"
#include "tests/fuzz/world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace comity;
  static const fuzz::World& w = fuzz::TheWorld();
  static crypto::test::QuietProtobufLogs quiet;
  const crypto::ByteView envelope(data, size);
  (void)crypto::MessageId(envelope);
  (void)crypto::Inspect(envelope, w.Spain().signed_certificate, w.trust, crypto::test::kNow);
  auto opened = crypto::Open(w.Portugal().identity, w.Portugal().party(), envelope, w.Spain().signed_certificate,
                             w.trust, crypto::test::kNow);
  if (opened) (void)node::CheckWorkflowContent(opened->header.content_type(), crypto::AsString(opened->plaintext));
  return 0;
}
