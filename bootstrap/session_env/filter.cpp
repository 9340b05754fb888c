#include "session_env/filter.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace sshboot::session_env {
namespace {

bool starts_with_any(std::string_view name, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return name.starts_with(p); });
}

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        return ::fnmatch(p.c_str(), name.c_str(), 0) == 0;
    });
}

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

}  // namespace

std::vector<std::string> parse_patterns(std::string_view csv) {
    std::vector<std::string> out;
    while (!csv.empty()) {
        const auto comma = csv.find(',');
        std::string_view item = csv.substr(0, comma);
        csv = comma == std::string_view::npos ? std::string_view() : csv.substr(comma + 1);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
            item.remove_prefix(1);
        }
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            out.emplace_back(item);
        }
    }
    return out;
}

bool is_sshboot_secret(std::string_view name) {
    return starts_with_any(
        name, {"SSH_PASSWORD", "PUBLIC_KEY", "SSH_PUBLIC_KEY", "SSHBOOT_CLUSTER_SECRET"});
}

bool is_excluded_by_default(std::string_view name) {
    // Set per login by sshd, login(1), PAM or the shell: a value copied from
    // sshboot's own process would be wrong in a session.
    static const std::set<std::string_view> k_names = {
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "TERM",
        "HOSTNAME",
        "_",
        "MAIL",
        "SSH_CLIENT",
        "SSH_CONNECTION",
        "SSH_TTY",
        "SSH_AUTH_SOCK",
        "SSH_ORIGINAL_COMMAND",
        "XDG_RUNTIME_DIR",
        "XDG_SESSION_ID",
        "TMUX",
        "TMUX_PANE",
        "COLUMNS",
        "LINES",
        "NOTIFY_SOCKET",
    };
    // SSHBOOT_*: sshboot's own settings, meaningless inside a session.
    return k_names.count(name) != 0 || name.starts_with("SSHBOOT_");
}

bool looks_secret(std::string_view name) {
    const std::string n = upper(name);
    auto has = [&](std::string_view part) { return n.find(part) != std::string::npos; };
    if (has("KEY") && !has("PUBLIC_KEY")) {
        return true;
    }
    return has("TOKEN") || has("SECRET") || has("PASSWORD") || has("PASSWD") || has("CREDENTIAL") ||
           has("PRIVATE") || has("AUTH") || n.starts_with("HF_") || n.ends_with("_PAT");
}

bool is_shell_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return c == '_' || (c < 0x80 && std::isalnum(c)); });
}

Selection select_variables(const std::vector<std::string>& environ_entries,
                           const Patterns& patterns) {
    Selection out;
    std::set<std::string> seen;
    for (const auto& entry : environ_entries) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            continue;
        }
        std::string name = entry.substr(0, eq);
        if (!seen.insert(name).second || is_sshboot_secret(name)) {
            continue;
        }
        const bool included = matches_any(name, patterns.include);
        if (!included && (is_excluded_by_default(name) || matches_any(name, patterns.exclude))) {
            continue;
        }
        std::string value = entry.substr(eq + 1);
        if (!is_shell_name(name)) {
            out.skipped.push_back("environment variable " + name +
                                  " is not passed to SSH sessions: its name is not a valid shell "
                                  "variable name");
            continue;
        }
        if (value.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
            out.skipped.push_back("environment variable " + name +
                                  " is not passed to SSH sessions: its value contains a line "
                                  "break, which sshd's SetEnv cannot carry");
            continue;
        }
        out.variables.push_back({std::move(name), std::move(value)});
    }
    std::sort(out.variables.begin(), out.variables.end(),
              [](const Variable& a, const Variable& b) { return a.name < b.name; });
    return out;
}

}  // namespace sshboot::session_env
