// Gathers the public keys the settings name (variables and files), parses
// them and reports repairs, warnings and refusals.
#pragma once

#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "keys/parse.hpp"

namespace sshboot::run {

struct KeySet {
    std::vector<keys::PublicKey> keys;
    std::vector<std::string> sources;  // which variables or files were read
};

// SSH_PUBLIC_KEY(_FILE) replace PUBLIC_KEY(_FILE) when either is set. Logs
// every repair, warning and refusal; never logs a pasted private key.
KeySet collect_keys(const cli::Settings& settings);

}  // namespace sshboot::run
