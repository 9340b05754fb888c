#include "session_env/filter.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <unordered_set>

#include "util/parse.hpp"

namespace sshboot::session_env {
namespace {

// Warnings about single variables beyond this many are summed up in one line.
constexpr std::size_t k_max_named_warnings = 10;
// Names listed in the warning about variables over the limits.
constexpr std::size_t k_max_listed_names = 10;

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

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool is_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// The userinfo of every "scheme://userinfo@host..." in `value`, in order.
template <typename F>
bool any_url_userinfo(std::string_view value, F&& pred) {
    for (auto pos = value.find("://"); pos != std::string_view::npos;
         pos = value.find("://", pos + 3)) {
        const std::string_view rest = value.substr(pos + 3);
        const auto end = rest.find_first_of("/?#,; \t\"'");
        const std::string_view authority = rest.substr(0, end);
        const auto at = authority.rfind('@');
        if (at != std::string_view::npos && pred(authority.substr(0, at))) {
            return true;
        }
    }
    return false;
}

std::string kib(std::size_t bytes) {
    return std::to_string(bytes >> 10) + " KiB";
}

// "A, B, C and 7 more" from the first names of a list.
std::string some_names(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < k_max_listed_names; ++i) {
        out += (i == 0 ? "" : ", ") + names[i];
    }
    if (names.size() > k_max_listed_names) {
        out += " and " + std::to_string(names.size() - k_max_listed_names) + " more";
    }
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
    for (std::string_view prefix :
         {"SSH_PASSWORD", "PUBLIC_KEY", "SSH_PUBLIC_KEY", "SSHBOOT_CLUSTER_SECRET"}) {
        if (name.starts_with(prefix)) {
            return true;
        }
    }
    return false;
}

bool is_sshboot_setting(std::string_view name) {
    static const std::set<std::string_view> k_names = {
        "SSH_PORT",           "SSH_USER",        "SSH_SUDO",
        "SSH_HOST_KEY_TYPES", "SSH_PUBLIC_HOST", "SSH_PUBLIC_PORT",
    };
    return k_names.count(name) != 0 || name.starts_with("SSHBOOT_");
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
    return k_names.count(name) != 0 || is_sshboot_setting(name);
}

bool looks_secret(std::string_view name) {
    const std::string n = upper(name);
    auto has = [&](std::string_view part) { return n.find(part) != std::string::npos; };
    if (has("KEY") && !has("PUBLIC_KEY")) {
        return true;
    }
    return has("TOKEN") || has("SECRET") || has("PASSWORD") || has("PASSWD") || has("CREDENTIAL") ||
           has("PRIVATE") || has("AUTH") || has("CONNECTION_STRING") || has("CONNSTR") ||
           n == "DSN" || n.ends_with("_DSN") || n.ends_with("_PAT");
}

bool value_has_credentials(std::string_view value) {
    // A password in a URL: the userinfo has a ':' with something after it.
    if (any_url_userinfo(value, [](std::string_view userinfo) {
            const auto colon = userinfo.find(':');
            return colon != std::string_view::npos && colon + 1 < userinfo.size();
        })) {
        return true;
    }
    // Keyword connection strings (libpq, ADO.NET, Azure) and query strings.
    static constexpr std::array<std::string_view, 11> k_keys{
        "password",        "passwd",  "pwd",          "accountkey",
        "sharedaccesskey", "token",   "access_token", "secret",
        "client_secret",   "api_key", "sig"};
    const std::string v = lower(value);
    for (std::string_view key : k_keys) {
        for (auto pos = v.find(key); pos != std::string::npos; pos = v.find(key, pos + 1)) {
            if (pos > 0 && is_word_char(v[pos - 1])) {
                continue;
            }
            auto i = pos + key.size();
            while (i < v.size() && v[i] == ' ') {
                ++i;
            }
            if (i < v.size() && v[i] == '=') {
                return true;
            }
        }
    }
    return false;
}

bool value_has_url_userinfo(std::string_view value) {
    return any_url_userinfo(value, [](std::string_view userinfo) { return !userinfo.empty(); });
}

bool is_secret(const Variable& var) {
    if (looks_secret(var.name) || value_has_credentials(var.value)) {
        return true;
    }
    const std::string n = upper(var.name);
    const bool url_name = n.ends_with("_URL") || n.ends_with("_URI") || n.ends_with("_URLS") ||
                          n == "URL" || n == "URI";
    return url_name && value_has_url_userinfo(var.value);
}

bool is_shell_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return c == '_' || (c < 0x80 && std::isalnum(c)); });
}

Selection select_variables(const std::vector<std::string>& environ_entries,
                           const Patterns& patterns, const Limits& limits) {
    struct Candidate {
        Variable var;
        bool included = false;
    };
    Selection out;
    std::vector<Candidate> candidates;
    std::vector<std::string> too_big;
    std::unordered_set<std::string_view> seen;
    seen.reserve(environ_entries.size());
    std::size_t unusable = 0;
    for (const auto& entry : environ_entries) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            continue;
        }
        const std::string_view name_view(entry.data(), eq);
        if (!seen.insert(name_view).second) {
            continue;
        }
        std::string name(name_view);
        if (is_sshboot_secret(name)) {
            out.withheld.push_back(std::move(name));
            continue;
        }
        const bool included = matches_any(name, patterns.include);
        if (!included && (is_excluded_by_default(name) || matches_any(name, patterns.exclude))) {
            out.withheld.push_back(std::move(name));
            continue;
        }
        std::string_view value(entry);
        value.remove_prefix(eq + 1);
        const char* why = nullptr;
        if (!is_shell_name(name)) {
            why = "its name is not a valid shell variable name";
        } else if (value.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
            why = "its value contains a line break, which sshd's SetEnv cannot carry";
        }
        if (why != nullptr) {
            if (++unusable <= k_max_named_warnings) {
                out.skipped.push_back("environment variable " + util::printable(name) +
                                      " is not passed to SSH sessions: " + why);
            }
            continue;
        }
        if (!included && value.size() > limits.max_value_bytes) {
            too_big.push_back(name);
            if (too_big.size() <= k_max_named_warnings) {
                out.skipped.push_back(
                    "environment variable " + name +
                    " is not passed to SSH sessions: its value is " + std::to_string(value.size()) +
                    " bytes, over the " + kib(limits.max_value_bytes) +
                    " limit for one value; name it in SSHBOOT_ENV_INCLUDE to pass it anyway");
            }
            continue;
        }
        candidates.push_back({{std::move(name), std::string(value)}, included});
    }
    if (unusable > k_max_named_warnings) {
        out.skipped.push_back(std::to_string(unusable - k_max_named_warnings) +
                              " more environment variables are not passed to SSH sessions for the "
                              "same reasons (a name that is not a shell name, or a line break)");
    }
    if (too_big.size() > k_max_named_warnings) {
        out.skipped.push_back(std::to_string(too_big.size() - k_max_named_warnings) +
                              " more environment variables are not passed to SSH sessions: each "
                              "value is over " +
                              kib(limits.max_value_bytes) + "; name them in SSHBOOT_ENV_INCLUDE");
    }

    // Included variables first, then the rest in the environment's order (an
    // image's ENV, PATH among it, comes before what a runtime adds), while
    // within bounds.
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](const Candidate& c) { return c.included; });
    std::size_t total = 0;
    for (auto& c : candidates) {
        const std::size_t bytes = c.var.name.size() + 1 + c.var.value.size();
        if (out.variables.size() < limits.max_variables &&
            total + bytes <= limits.max_total_bytes) {
            total += bytes;
            out.variables.push_back(std::move(c.var));
        } else {
            out.left_out.push_back(std::move(c.var.name));
        }
    }
    std::sort(out.variables.begin(), out.variables.end(),
              [](const Variable& a, const Variable& b) { return a.name < b.name; });
    std::sort(out.withheld.begin(), out.withheld.end());
    std::sort(out.left_out.begin(), out.left_out.end());
    if (!out.left_out.empty()) {
        out.skipped.push_back(
            std::to_string(out.left_out.size()) +
            " environment variable(s) not passed to SSH sessions: sshboot passes at most " +
            std::to_string(limits.max_variables) + " variables and " + kib(limits.max_total_bytes) +
            " in all (sshd refuses sessions with 1,000 variables, and slows down with many); left "
            "out: " +
            some_names(out.left_out) +
            ". Name the ones sessions need in SSHBOOT_ENV_INCLUDE (they are taken first), or "
            "leave others out with SSHBOOT_ENV_EXCLUDE");
    }
    out.left_out.insert(out.left_out.end(), too_big.begin(), too_big.end());
    std::sort(out.left_out.begin(), out.left_out.end());
    return out;
}

}  // namespace sshboot::session_env
