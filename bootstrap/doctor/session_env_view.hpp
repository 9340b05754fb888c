// `sshboot doctor --session-env`: which variables SSH sessions see, by name
// only, as sshboot's last start exported them. Any user may run it: it reads
// the world-readable profile file, whose comments name the restricted,
// withheld and left-out variables (session_env::Manifest).
#pragma once

#include <string>

#include "session_env/format.hpp"

namespace sshboot::doctor {

// The report for a manifest read from `path`: sections "plain",
// "restricted", "withheld", "left out", in that order, one name per
// indented line.
std::string render_session_env(const session_env::Manifest& manifest, const std::string& path);

// Prints the report for the profile file in `profile_dir` on stdout; 0 when
// the file was read, 1 (with a message saying what to do) when it is missing
// or unreadable.
int run_session_env(const std::string& profile_dir);

}  // namespace sshboot::doctor
