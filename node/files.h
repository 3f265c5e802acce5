// Small, careful file access for a node's home directory: whole-file reads, and atomic
// replacement (write a temporary file beside the target, fsync, rename, fsync the folder),
// so a crash or a full disk never leaves a half-written file where a good one was.
// Stateless functions; safe from any thread for distinct paths.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

#include "crypto/result.h"

namespace comity::node {

// Reads a whole file (refuses files over `max_bytes`).
Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes = 64u << 20);

// Atomically replaces (or creates) `path` with `data`, with permission bits `mode`.
// When `exclusive` is true, fails if `path` already exists.
Status<> WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode = 0600,
                         bool exclusive = false);

// Like WriteFileAtomic, but the content is `prefix` followed by the file `source` from byte
// `source_offset` to its end, copied in bounded chunks (for files of any size).
Status<> WriteFileAtomicFrom(const std::string& path, const std::string& prefix, const std::string& source,
                             std::uint64_t source_offset, mode_t mode = 0600, bool exclusive = false);

// The first `max_bytes` of a regular file (fewer if it is shorter).
Result<std::string> ReadFilePrefix(const std::string& path, std::size_t max_bytes);

bool FileExists(const std::string& path);

}  // namespace comity::node
