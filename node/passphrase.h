// Where the operator's passphrase comes from, in this order: --passphrase-file FILE, the
// COMITY_PASSPHRASE environment variable, or a prompt on the terminal without echo.
// The passphrase is returned in locked, wiped memory and never logged.
#pragma once

#include <optional>
#include <string>

#include "crypto/result.h"
#include "crypto/sodium.h"

namespace comity::node {

struct PassphraseSource {
  std::optional<std::string> file;  // --passphrase-file
};

// `confirm`: when prompting, ask twice (used when creating keys).
Result<crypto::SecretBytes> ObtainPassphrase(const PassphraseSource& source, bool confirm);

}  // namespace comity::node
