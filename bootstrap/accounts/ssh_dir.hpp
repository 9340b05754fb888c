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
};

// Replaces the managed block of <home>/.ssh/authorized_keys with `lines`.
// Creates ~/.ssh (0700) when missing; fixes a group/world-writable home and a
// wrong ~/.ssh mode or owner; refuses ~/.ssh or authorized_keys when it is a
// symlink.
util::Expected<InstallResult> install_authorized_keys(const PasswdEntry& user,
                                                      const std::vector<std::string>& lines);

}  // namespace sshboot::accounts
