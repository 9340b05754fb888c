// Creating the login user without useradd (the image may not have it, and
// NSS is off limits in a static binary): passwd, group, shadow and gshadow
// entries written directly, atomically, under the accounts lock; a home from
// /etc/skel; sudo through /etc/sudoers.d.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "accounts/passwd.hpp"
#include "util/expected.hpp"

namespace sshboot::accounts {

// "name:password:uid:gid:gecos:home:shell".
std::string format_passwd_line(const PasswdEntry& entry);

// True when colon-separated `text` has a line whose first field is `name`.
bool has_entry(std::string_view text, std::string_view name);

// The smallest id >= `min_id` and <= `max_id` that is neither a uid in
// `passwd_text` nor a gid in `group_text` (so the user and its own group
// share the number); nullopt when none is free.
std::optional<unsigned> next_free_id(std::string_view passwd_text, std::string_view group_text,
                                     unsigned min_id = 1000, unsigned max_id = 59999);

// `text` with `line` appended as a line of its own.
std::string append_line(std::string_view text, std::string_view line);

// The account database texts before and after adding a user.
struct AccountFiles {
    std::string passwd;
    std::string group;
    std::string shadow;
    std::optional<std::string> gshadow;  // absent when the system has none
};

struct NewUser {
    AccountFiles files;
    PasswdEntry entry;
};

// Adds user `name` with a group of the same name, home `home_base`/name and
// `shell`. The shadow field is "*": no password, yet not locked, so sshd
// (with or without PAM) accepts key logins. An error for an invalid name, an
// existing user or group of that name, or no free id.
util::Expected<NewUser> plan_new_user(std::string_view name, const AccountFiles& files,
                                      std::string_view home_base, std::string_view shell,
                                      long today_days);

struct UserPaths {
    std::string etc_dir = "/etc";
    std::string home_base = "/home";
    std::string skel_dir = "/etc/skel";
    std::string shells_root = "";  // prefix for /bin/bash and /bin/sh checks
};

struct EnsuredUser {
    PasswdEntry entry;
    bool created = false;
};

// Returns `name`'s passwd entry, creating the user (and its home, copied from
// the skeleton directory and owned by the user) when missing.
util::Expected<EnsuredUser> ensure_user(const std::string& name, const UserPaths& paths = {});

// The sudoers drop-in text for `user`: all commands, without a password when
// `nopasswd`.
std::string sudoers_text(std::string_view user, bool nopasswd);

// Writes /etc/sudoers.d/90-sshboot-<user> (0440), checked with visudo -cf
// when visudo exists. An error when sudo is not installed.
util::Status grant_sudo(const std::string& user, bool nopasswd,
                        const std::string& sudoers_dir = "/etc/sudoers.d");

}  // namespace sshboot::accounts
