// The managed block of authorized_keys: keys from the environment live
// between two marker lines and are replaced on every start; everything
// outside the block belongs to the user and is kept byte for byte.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sshboot::keys {

inline constexpr std::string_view k_block_begin =
    "# >>> sshboot managed keys: replaced on every start, edit outside this block >>>";
inline constexpr std::string_view k_block_end = "# <<< sshboot managed keys <<<";

// Returns the new content of authorized_keys: `existing` with its managed
// block replaced by `lines` (one per line, "\n"-terminated). With no block in
// `existing`, the block is appended at the end (after adding a "\n" when the
// content does not end in one). With `lines` empty the block is removed.
//
// A block runs from a begin marker line to the end marker line that closes it
// (a trailing "\r" on a marker line is tolerated). Markers nest like
// brackets: an end closes the latest begin still open, and a block inside
// another is part of it. A begin marker never closed, and an end marker with
// no begin open, are ordinary user lines and kept (with no block, a fresh one
// is appended): losing user lines to a damaged marker would be worse than a
// stray comment. When several blocks exist, all are removed and the new
// block takes the place of the first. Every byte outside the block(s) is
// preserved exactly, and merging the result again changes nothing. Empty
// strings in `lines` are skipped; lines must not contain line breaks.
std::string merge_managed_block(std::string_view existing, const std::vector<std::string>& lines);

// The same merge for another file's managed block, between `begin_marker`
// and `end_marker` lines.
std::string merge_managed_block(std::string_view existing, const std::vector<std::string>& lines,
                                std::string_view begin_marker, std::string_view end_marker);

}  // namespace sshboot::keys
