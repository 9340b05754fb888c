#include "session_env/export.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <vector>

#include "session_env/filter.hpp"
#include "session_env/format.hpp"
#include "sshd/version.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace sshboot::session_env {

util::Expected<ExportResult> export_environment(const std::vector<std::string>& environ_entries,
                                                const ExportOptions& options) {
    const Patterns patterns{parse_patterns(options.include_patterns),
                            parse_patterns(options.exclude_patterns)};
    auto selection = select_variables(environ_entries, patterns, options.limits);
    for (const auto& warning : selection.skipped) {
        log::warn("{}", warning);
    }

    // An allowlist, not a denylist: only variables known to be harmless are
    // world-readable; everything else reaches only root and SSH_USER.
    std::vector<Variable> plain;
    std::vector<Variable> secret;
    std::size_t look_secret = 0;
    for (const auto& var : selection.variables) {
        if (is_public(var)) {
            plain.push_back(var);
        } else {
            look_secret += is_secret(var) ? 1 : 0;
            secret.push_back(var);
        }
    }
    Manifest manifest;
    for (const auto& var : secret) {
        manifest.restricted.push_back(var.name);
    }
    manifest.withheld = std::move(selection.withheld);
    // The world-readable file does not even name sshboot's secrets; doctor
    // says they are always withheld.
    std::erase_if(manifest.withheld, [](const std::string& n) { return is_sshboot_secret(n); });
    manifest.left_out = std::move(selection.left_out);

    if (auto st = util::make_dirs(options.profile_dir, 0755); !st) {
        return st.error();
    }
    const std::string plain_path = util::path_join(options.profile_dir, k_profile_name);
    const std::string secret_path = util::path_join(options.profile_dir, k_secret_profile_name);
    // Both files are written anew on every start: no fsync (util::Durability).
    if (auto st = util::write_file_atomic(plain_path, render_profile(plain, &manifest), 0644,
                                          std::nullopt, util::Durability::Regenerated);
        !st) {
        return st.error();
    }
    if (secret.empty()) {
        if (::unlink(secret_path.c_str()) != 0 && errno != ENOENT) {
            return util::sys_error("remove " + secret_path);
        }
    } else if (auto st = util::write_file_atomic(secret_path, render_profile(secret), 0640,
                                                 util::FileOwner{0, options.user_group},
                                                 util::Durability::Regenerated);
               !st) {
        return st.error();
    }

    ExportResult result;
    result.exported = selection.variables.size();
    result.left_out = manifest.left_out;
    const auto version = options.sshd_version_known ? options.sshd_version
                                                    : sshd::read_openssh_version(options.sshd_path);
    const auto syntax = syntax_for(version);
    if (!syntax) {
        log::warn(
            "sshd is OpenSSH {}.{}, older than 7.8, which has no SetEnv: commands run with `ssh "
            "host cmd` will not see the container's environment (login shells still do, from "
            "{})",
            version->major, version->minor, plain_path);
        return result;
    }
    // Every account's sessions get the plain variables; SSH_USER's (in a
    // Match block of a root-only config) all of them.
    auto line = render_setenv_line(plain, *syntax);
    auto user_line = render_setenv_line(selection.variables, *syntax);
    for (const auto& name : user_line.skipped) {
        log::warn(
            "environment variable {} is not passed to `ssh host cmd` sessions: this sshd "
            "(before OpenSSH 8.7) cannot quote its value; login shells still see it",
            name);
    }
    result.setenv_line = std::move(line.line);
    result.restricted = std::any_of(secret.begin(), secret.end(), [&](const Variable& v) {
        return std::find(user_line.skipped.begin(), user_line.skipped.end(), v.name) ==
               user_line.skipped.end();
    });
    if (result.restricted) {
        result.user_setenv_line = std::move(user_line.line);
    }
    log::info(
        "{} environment variable(s) passed to SSH sessions ({}{}); {} of them only to the "
        "login user's ({} look like credentials)",
        selection.variables.size(), plain_path, secret.empty() ? "" : ", " + secret_path,
        secret.size(), look_secret);
    return result;
}

gid_t restricted_file_group(std::string_view user, gid_t gid, std::string_view passwd_text,
                            std::string_view group_text) {
    if (gid == 0) {
        return 0;
    }
    auto others = [&](std::string_view name) { return name != user && name != "root"; };
    auto fields = [](std::string_view line) {
        std::vector<std::string_view> out;
        while (true) {
            const auto colon = line.find(':');
            out.push_back(line.substr(0, colon));
            if (colon == std::string_view::npos) {
                return out;
            }
            line.remove_prefix(colon + 1);
        }
    };
    auto each_line = [](std::string_view text, auto&& fn) {
        while (!text.empty()) {
            const auto nl = text.find('\n');
            fn(text.substr(0, nl));
            text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        }
    };
    const std::string gid_text = std::to_string(gid);
    bool shared = false;
    each_line(passwd_text, [&](std::string_view line) {
        const auto f = fields(line);
        if (f.size() >= 4 && f[3] == gid_text && others(f[0])) {
            shared = true;
        }
    });
    each_line(group_text, [&](std::string_view line) {
        const auto f = fields(line);
        if (f.size() < 4 || f[2] != gid_text) {
            return;
        }
        for (std::string_view members = f[3]; !members.empty();) {
            const auto comma = members.find(',');
            if (others(members.substr(0, comma))) {
                shared = true;
            }
            members =
                comma == std::string_view::npos ? std::string_view() : members.substr(comma + 1);
        }
    });
    return shared ? 0 : gid;
}

std::vector<std::string> without_names(const std::vector<std::string>& environ_entries,
                                       const std::vector<std::string>& names) {
    std::vector<std::string> out;
    out.reserve(environ_entries.size());
    for (const auto& entry : environ_entries) {
        const std::string_view name(entry.data(), std::min(entry.find('='), entry.size()));
        if (!std::binary_search(names.begin(), names.end(), name)) {
            out.push_back(entry);
        }
    }
    return out;
}

}  // namespace sshboot::session_env
