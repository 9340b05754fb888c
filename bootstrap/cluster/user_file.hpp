// The cluster files sshboot keeps in a user's home (~/.ssh/config,
// known_hosts, id_ed25519*, ~/.deepspeed_env) are read the way
// authorized_keys is: never through a symlink, never a FIFO or a device, and
// never a file with more than one hard link. Root reads the old file to merge
// or compare it; a second name of /etc/shadow planted there would be read and
// its text copied into the user's new file.
#pragma once

#include <optional>
#include <string>

#include "util/expected.hpp"

namespace sshboot::cluster {

// Reads `name` under the directory `dirfd`; nullopt when it does not exist.
// An error, naming `shown` (the path to print) and the fix, for anything but
// a regular file with one link.
util::Expected<std::optional<std::string>> read_user_file(int dirfd, const std::string& name,
                                                          const std::string& shown,
                                                          std::size_t max_bytes = 1 << 20);

}  // namespace sshboot::cluster
