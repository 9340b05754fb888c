#include "session_env/export.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "session_env/filter.hpp"
#include "session_env/format.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace sshboot::session_env {
namespace {

std::optional<Version> sshd_version(const std::string& sshd_path) {
    if (sshd_path.empty()) {
        return std::nullopt;
    }
    auto binary = util::read_file(sshd_path, 64 << 20);
    if (!binary) {
        log::debug("cannot read {} for its version: {}", sshd_path, binary.error().message);
        return std::nullopt;
    }
    return find_openssh_version(*binary);
}

}  // namespace

util::Expected<ExportResult> export_environment(const std::vector<std::string>& environ_entries,
                                                const ExportOptions& options) {
    const Patterns patterns{parse_patterns(options.include_patterns),
                            parse_patterns(options.exclude_patterns)};
    auto selection = select_variables(environ_entries, patterns);
    for (const auto& warning : selection.skipped) {
        log::warn("{}", warning);
    }

    std::vector<Variable> plain;
    std::vector<Variable> secret;
    for (const auto& var : selection.variables) {
        (looks_secret(var.name) ? secret : plain).push_back(var);
    }

    if (auto st = util::make_dirs(options.profile_dir, 0755); !st) {
        return st.error();
    }
    const std::string plain_path = util::path_join(options.profile_dir, k_profile_name);
    const std::string secret_path = util::path_join(options.profile_dir, k_secret_profile_name);
    if (auto st = util::write_file_atomic(plain_path, render_profile(plain), 0644); !st) {
        return st.error();
    }
    if (secret.empty()) {
        if (::unlink(secret_path.c_str()) != 0 && errno != ENOENT) {
            return util::sys_error("remove " + secret_path);
        }
    } else if (auto st = util::write_file_atomic(secret_path, render_profile(secret), 0640,
                                                 util::FileOwner{0, options.user_group});
               !st) {
        return st.error();
    }

    ExportResult result;
    result.exported = selection.variables.size();
    const auto version = sshd_version(options.sshd_path);
    const auto syntax = syntax_for(version);
    if (!syntax) {
        log::warn(
            "sshd is OpenSSH {}.{}, older than 7.8, which has no SetEnv: commands run with `ssh "
            "host cmd` will not see the container's environment (login shells still do, from "
            "{})",
            version->major, version->minor, plain_path);
        return result;
    }
    auto line = render_setenv_line(selection.variables, *syntax);
    for (const auto& name : line.skipped) {
        log::warn(
            "environment variable {} is not passed to `ssh host cmd` sessions: this sshd "
            "(before OpenSSH 8.7) cannot quote its value; login shells still see it",
            name);
    }
    result.setenv_line = std::move(line.line);
    for (const auto& var : secret) {
        if (std::find(line.skipped.begin(), line.skipped.end(), var.name) == line.skipped.end()) {
            result.has_secrets = true;
        }
    }
    log::info("{} environment variable(s) passed to SSH sessions ({}{})",
              selection.variables.size(), plain_path, secret.empty() ? "" : ", " + secret_path);
    return result;
}

}  // namespace sshboot::session_env
