// The archive's schema as a list of migrations: migration N takes user_version N-1 to N, in
// its own transaction. Internal to node/archive.
#pragma once

#include "node/archive/sqlite.h"

namespace comity::archive {

// Brings the database from its user_version up to `target` (never down). Refuses a database
// newer than this build knows.
ArchiveStatus Migrate(Db& db, int target);
ArchiveResult<int> SchemaVersion(Db& db);

}  // namespace comity::archive
