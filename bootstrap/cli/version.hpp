// The one line `sshboot --version` prints: version, git commit, architecture
// and how the binary was built.
#pragma once

#include <string>

namespace sshboot::cli {

// e.g. "sshboot 0.1.0 commit=1a2b3c4d5e6f arch=x86_64 compiler=gcc-12.2.0
// libc=glibc-2.36 link=static libsodium=1.0.18" (one line, no newline).
std::string version_line();

}  // namespace sshboot::cli
