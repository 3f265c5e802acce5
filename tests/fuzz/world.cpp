#include "tests/fuzz/world.h"

#include <cstdio>
#include <cstdlib>

namespace comity::fuzz {

World::World() {
  iber.Admit("ES-MJ");
  iber.Admit("PT-PGR");
  wacap.Admit("SN-MJ");
  iber.AddBridge(wacap);
  wacap.AddBridge(iber);
  iber_roster = iber.Publish(crypto::test::kNow - crypto::test::kDay);
  wacap_roster = wacap.Publish(crypto::test::kNow - crypto::test::kDay);
  trust = crypto::test::TrustingOnly(iber, iber_roster);
  if (!trust.AcceptRoster(wacap_roster, crypto::test::kNow)) {
    std::fprintf(stderr, "fuzz world: WACAP's roster is refused\n");
    std::abort();
  }
}

const World& TheWorld() {
  static const World* world = new World();  // never destroyed: targets run until the process ends
  return *world;
}

}  // namespace comity::fuzz
