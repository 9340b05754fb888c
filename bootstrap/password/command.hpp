// `sshboot password`: set a password, make the sshd that serves this
// container accept it, print how to connect.
#pragma once

#include <string>
#include <vector>

#include "cli/settings.hpp"

namespace sshboot::password {

// Runs the command with the words after "password"; returns the exit code
// (2 for a usage error, 1 when it failed, 0 when password login works).
int password_command(const std::vector<std::string>& args, const cli::Environment& env);

}  // namespace sshboot::password
