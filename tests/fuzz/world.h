// The fixed world every fuzz target runs in: IberRed (ES-MJ, PT-PGR) and WACAP (SN-MJ),
// bridged both ways, with keys derived from fixed seeds, so that the seed corpus in
// tests/fuzz/corpus (written by fuzz_seeds) holds inputs that are valid here: envelopes that
// open, rosters and certificates that verify, a bundle that verifies. Built once, on first use.
#pragma once

#include <string>

#include "crypto/trust.h"
#include "tests/unit/test_network.h"

namespace comity::fuzz {

struct World {
  World();
  crypto::test::TestNetwork iber{"IberRed", 1};
  crypto::test::TestNetwork wacap{"WACAP", 2};
  v1::Signed iber_roster;
  v1::Signed wacap_roster;
  crypto::TrustStore trust;  // trusts IberRed's root, holds both rosters

  const crypto::test::TestMember& Spain() const { return iber.member("ES-MJ"); }
  const crypto::test::TestMember& Portugal() const { return iber.member("PT-PGR"); }
  const crypto::test::TestMember& Senegal() const { return wacap.member("SN-MJ"); }
};

const World& TheWorld();

}  // namespace comity::fuzz
