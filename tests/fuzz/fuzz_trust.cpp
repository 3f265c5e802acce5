// Fuzz target: the trust objects a node reads from others or from its disk: a Signed object
// as an enrollment request, a certificate and a roster (verified under IberRed's root, and
// offered to a trust store that holds both rosters), and a TrustState as trust.pb holds it.
#include <cstddef>
#include <cstdint>

#include "crypto/trust.h"
#include "tests/fuzz/world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace comity;
  static const fuzz::World& w = fuzz::TheWorld();
  static crypto::test::QuietProtobufLogs quiet;
  const auto now = crypto::test::kNow;
  v1::Signed signed_object;
  if (signed_object.ParseFromArray(data, static_cast<int>(size))) {
    (void)crypto::VerifyEnrollment(signed_object);
    (void)crypto::VerifyCertificate(signed_object, w.iber.root().public_key());
    (void)crypto::VerifyRoster(signed_object, w.iber.root().public_key(), "IberRed", now);
    (void)w.trust.VerifyMember(signed_object, now);
    crypto::TrustStore store = w.trust;
    (void)store.AcceptRoster(signed_object, now);
  }
  v1::TrustState state;
  if (state.ParseFromArray(data, static_cast<int>(size))) {
    if (auto loaded = crypto::TrustStore::Load(state)) (void)loaded->Save();
  }
  return 0;
}
