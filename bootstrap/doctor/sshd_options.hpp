// The sshd settings doctor needs, read from `sshd -T` output (the effective
// configuration) or, when sshd -T cannot run, from the config file itself.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::doctor {

struct SshdOptions {
    std::vector<std::uint16_t> ports;    // empty: sshd's default, 22
    std::vector<std::string> host_keys;  // empty: sshd's default files
    bool password_authentication = true;
    bool pubkey_authentication = true;
    bool use_pam = false;
    bool strict_modes = true;
    std::string permit_root_login = "prohibit-password";
    std::vector<std::string> authorized_keys_files = {".ssh/authorized_keys",
                                                      ".ssh/authorized_keys2"};
};

// Returns the texts of the files an Include pattern names (already globbed).
using IncludeResolver = std::function<std::vector<std::string>(std::string_view pattern)>;

// Parses sshd_config text, or `sshd -T` output (same syntax, lowercase
// keywords). Keywords are case-insensitive, "Keyword value" or
// "Keyword=value"; for single-valued keywords the first value wins, Port and
// HostKey accumulate. Include lines are read through `include` (when set) at
// their place, up to a small depth; reading stops at the first Match block
// (its settings are conditional). OpenSSH's defaults fill what is not set.
SshdOptions parse_sshd_options(std::string_view text, const IncludeResolver& include = {});

// The files sshd reads when no HostKey is configured.
std::vector<std::string> default_host_key_paths();

}  // namespace sshboot::doctor
