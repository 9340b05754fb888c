// Makes the container's environment visible in SSH sessions (effects).
//
// Why two mechanisms:
// - sshd's SetEnv (OpenSSH 7.8+), in sshboot's own sshd config, sets the
//   variables in every session sshd starts: `ssh host cmd` (what VS Code
//   Remote, rsync and scripts use; the shell then runs non-interactive and
//   non-login and reads no profile), interactive shells, sftp, for root and
//   SSH_USER alike, with or without PAM (UsePAM no images have no pam_env, so
//   /etc/environment would be ignored there; PermitUserEnvironment needs a
//   file in every user's home). Values are carried byte for byte: sshd's
//   config quoting is known and escaped here, where /etc/environment has no
//   quoting at all.
// - A login shell runs /etc/profile, which on Debian and Ubuntu resets PATH
//   (dropping /usr/local/cuda/bin, /opt/conda/bin, ...) before it sources
//   /etc/profile.d/*.sh. So the same variables are exported again from a file
//   there; it also serves `su -` and other login shells inside the container.
// Only variables on an allowlist of harmless names whose values do not look
// like credentials (session_env::is_public) are world-readable and reach
// every account. Everything else (HF_TOKEN, DATABASE_URL, MODEL_NAME, ...)
// reaches only the login user: a separate profile.d file readable only by
// root and SSH_USER's group, and a `Match User` block in sshd's config, which
// is then root-only. The world-readable file also lists, names only, what was
// restricted, withheld and left out (for `sshboot doctor --session-env`).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "session_env/filter.hpp"
#include "session_env/format.hpp"
#include "util/expected.hpp"

namespace sshboot::session_env {

inline constexpr const char* k_profile_dir = "/etc/profile.d";
inline constexpr const char* k_profile_name = "sshboot-env.sh";
inline constexpr const char* k_secret_profile_name = "sshboot-env-secrets.sh";

struct ExportOptions {
    std::string include_patterns;  // SSHBOOT_ENV_INCLUDE
    std::string exclude_patterns;  // SSHBOOT_ENV_EXCLUDE
    std::string sshd_path;         // read for its OpenSSH version (SetEnv syntax)
    // The version when the caller already read it from sshd_path (sshd is
    // then not read again); sshd_version_known says whether it did.
    bool sshd_version_known = false;
    std::optional<Version> sshd_version;
    gid_t user_group = 0;  // SSH_USER's primary group: may read the secrets file
    std::string profile_dir = k_profile_dir;
    Limits limits;  // bounds on what is exported
};

struct ExportResult {
    std::string setenv_line;  // for every account: the plain variables; empty when none
    // For the login user only (a `Match User` block): every variable; empty
    // when no restricted variable is carried.
    std::string user_setenv_line;
    bool restricted = false;            // user_setenv_line carries restricted values
    std::size_t exported = 0;           // variables in the profile files
    std::vector<std::string> left_out;  // names over the export limits, sorted
};

// Selects the variables from `environ_entries` ("NAME=value"), writes the
// profile.d files atomically (replacing the previous start's; the secrets
// file is removed when there is no secret), logs a warning per skipped
// variable (its name, never its value), and returns the SetEnv lines.
util::Expected<ExportResult> export_environment(const std::vector<std::string>& environ_entries,
                                                const ExportOptions& options);

// `environ_entries` without the variables named in `names` (sorted): the
// environment sshd gets when the container's is over the export limits. sshd
// needs none of them, and copies its whole environment on every connection
// (100,000 inherited variables cost over a second per login).
// The group the restricted profile file gets: `gid` (SSH_USER's primary
// group) when only that user (and root) can be in it, else 0 (root only; the
// user's SSH sessions still get the variables from sshd's Match block). A
// group is shared when another account has it as its primary group in
// `passwd_text` or is listed as a member in `group_text`.
gid_t restricted_file_group(std::string_view user, gid_t gid, std::string_view passwd_text,
                            std::string_view group_text);

std::vector<std::string> without_names(const std::vector<std::string>& environ_entries,
                                       const std::vector<std::string>& names);

}  // namespace sshboot::session_env
