// /etc/passwd read without NSS (glibc's getpwnam is not safe in a static
// binary): parse the file ourselves.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::accounts {

struct PasswdEntry {
    std::string name;
    std::string password;  // usually "x"
    uid_t uid = 0;
    gid_t gid = 0;
    std::string gecos;
    std::string home;
    std::string shell;
};

// Parses one passwd line; nullopt when it is not a well-formed 7-field entry.
std::optional<PasswdEntry> parse_passwd_line(std::string_view line);

// Finds `name` in passwd-format text.
std::optional<PasswdEntry> find_user(std::string_view passwd_text, std::string_view name);

// Reads `passwd_path` and finds `name`; an error when the file cannot be read.
util::Expected<std::optional<PasswdEntry>> lookup_user(
    std::string_view name, const std::string& passwd_path = "/etc/passwd");

}  // namespace sshboot::accounts
