// The OpenSSH version of an sshd binary, read from its bytes (no process is
// started), and the features sshboot's config depends on it for.
#pragma once

#include <optional>
#include <string>

#include "session_env/format.hpp"

namespace sshboot::sshd {

using Version = session_env::Version;

// The "OpenSSH_X.Y" inside the binary at `sshd_path`: looked for in the ELF
// .rodata section first (where a string constant lives: about a fifth of
// the file), then in the whole file, read in pieces of up to 64 KiB (sshd is over a
// megabyte; holding it whole raised sshboot's peak memory). nullopt when it
// cannot be read or names no version.
std::optional<Version> read_openssh_version(const std::string& sshd_path);

// PerSourcePenalties exists from OpenSSH 9.8 on; an older or unknown sshd
// refuses the keyword, so an unknown version gets none.
bool has_per_source_penalties(std::optional<Version> version);

}  // namespace sshboot::sshd
