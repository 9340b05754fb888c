// ~/.ssh/authorized_keys for the login user: the managed block written
// atomically, with the modes and owners sshd's StrictModes demands along the
// whole path, never following a symlink under the home directory.
#pragma once

#include <string>
#include <vector>

#include "accounts/passwd.hpp"
#include "util/expected.hpp"

namespace sshboot::accounts {

struct InstallResult {
    std::vector<std::string> warnings;  // permissions fixed or left as they were
    // Non-empty when the user's files were not safe to use and nothing was
    // installed: names the path, what is wrong with it and the fix.
    std::string refused;
};

// Replaces the managed block of <home>/.ssh/authorized_keys with `lines`.
// Creates ~/.ssh (0700) when missing; fixes a group/world-writable home the
// user owns and a wrong ~/.ssh mode or owner. What the user controls is never
// followed or waited on: a home owned by someone else, a ~/.ssh that is not a
// directory (a symlink, a FIFO, a file), an authorized_keys that is not a
// regular file (a symlink, FIFO, directory, device) or has other hard links
// is refused (result.refused), and nothing is changed. System call failures
// (a read-only or full file system) are errors.
util::Expected<InstallResult> install_authorized_keys(const PasswdEntry& user,
                                                      const std::vector<std::string>& lines);

}  // namespace sshboot::accounts
