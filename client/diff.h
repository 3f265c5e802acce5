// A unified line diff of two texts, like `diff -u` (`comity thread diff`). A pure function
// over values; thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace comity::client {

struct DiffOptions {
  std::size_t context = 3;  // unchanged lines shown around each change
  // Bounds on the search for a shortest edit, so that two 8 MiB texts take about a second at
  // most (optimised build) and some 20 bytes of memory per line whatever they hold: past
  // `max_work` steps (Myers' edit steps and moves along common lines), or for texts whose
  // differing middles together have more than `max_lines` lines, what still differs is shown
  // as removed and added in blocks (a correct diff, not a shortest one).
  std::size_t max_work = std::size_t{1} << 27;
  std::size_t max_lines = std::size_t{1} << 23;
  // What a line's text (without its '\n') is printed as, e.g. escaped for a terminal; empty:
  // the text as it is.
  std::function<std::string(std::string_view)> shown;
};

// The unified diff that turns `old_text` into `new_text`; empty when they are equal.
//
// A line is what ends with '\n', or the text's end; two lines are the same when their bytes
// are, the newline included. The output is "--- OLD_LABEL" and "+++ NEW_LABEL", then each
// hunk as "@@ -a,b +c,d @@" (",b" left out when b is 1; a is the line before when b is 0)
// followed by its lines, each prefixed by ' ' (unchanged), '-' (removed) or '+' (added), and
// "\ No newline at end of file" after a text's last line when it has no '\n'. Changes at most
// 2 * context unchanged lines apart share a hunk.
//
// The edit is a shortest one (Myers' O(ND) algorithm in linear space, after the common first
// and last lines, and the lines found in only one text, are set aside) within the bounds of
// `options`.
std::string UnifiedDiff(std::string_view old_text, std::string_view new_text, const std::string& old_label,
                        const std::string& new_label, const DiffOptions& options = {});

}  // namespace comity::client
