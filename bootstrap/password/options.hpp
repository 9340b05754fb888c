// `sshboot password` flags, parsed without Boost (the command's few flags do
// not go through the environment table).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "accounts/password.hpp"
#include "util/expected.hpp"

namespace sshboot::password {

enum class Source {
    Auto,      // prompt on /dev/tty when there is a terminal, else generate
    Generate,  // --generate
    Stdin,     // --stdin: the first line of standard input
};

struct Options {
    Source source = Source::Auto;
    std::optional<std::string> user;  // --user; else SSH_USER; else root
    // --hash; nullopt (the default, or --hash auto): what the image verifies
    // (accounts::choose_hash_method).
    std::optional<accounts::HashMethod> hash;
    bool help = false;
};

// Parses the words after "password". A usage error names the bad word.
util::Expected<Options> parse_options(const std::vector<std::string>& args);

std::string help_text();

}  // namespace sshboot::password
