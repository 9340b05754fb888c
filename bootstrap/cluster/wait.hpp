// `sshboot cluster wait [--timeout S]`: a readiness barrier for launchers.
#pragma once

#include <string>
#include <vector>

namespace sshboot::cluster {

// `args` are the arguments after "cluster wait". Returns the exit code:
// 0 when every peer accepts an authenticated SSH login, 1 when some do not
// before the timeout, 2 on a usage error.
int wait_command(const std::vector<std::string>& args);

}  // namespace sshboot::cluster
