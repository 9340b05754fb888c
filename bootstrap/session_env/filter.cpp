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
    // PWD and OLDPWD are the shell's working directories, not passwords.
    if (has("PWD") && n != "PWD" && n != "OLDPWD") {
        return true;
    }
    return has("TOKEN") || has("SECRET") || has("PASS") || has("CREDENTIAL") || has("PRIVATE") ||
           has("AUTH") || has("CONNECTION_STRING") || has("CONNSTR") || n == "DSN" ||
           n.ends_with("_DSN") || n.ends_with("_PAT");
}

bool value_has_token(std::string_view value) {
    auto token_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    };
    // Length of the run of token characters from `from`.
    auto run_length = [&](std::size_t from) {
        std::size_t i = from;
        while (i < value.size() && token_char(value[i])) {
            ++i;
        }
        return i - from;
    };
    auto at_boundary = [&](std::size_t pos) {
        return pos == 0 || std::isalnum(static_cast<unsigned char>(value[pos - 1])) == 0;
    };
    struct Prefix {
        std::string_view text;
        std::size_t min_rest;  // token characters after it
    };
    static constexpr Prefix k_prefixes[] = {
        {"ghp_", 20},        {"gho_", 20},   {"ghu_", 20},  {"ghs_", 20},  {"ghr_", 20},
        {"github_pat_", 20}, {"glpat-", 16}, {"xoxa-", 10}, {"xoxb-", 10}, {"xoxp-", 10},
        {"xoxe-", 10},       {"xoxs-", 10},  {"sk-", 20},   {"hf_", 20},   {"AKIA", 16},
    };
    for (const auto& prefix : k_prefixes) {
        for (auto pos = value.find(prefix.text); pos != std::string_view::npos;
             pos = value.find(prefix.text, pos + 1)) {
            if (at_boundary(pos) && run_length(pos + prefix.text.size()) >= prefix.min_rest) {
                return true;
            }
        }
    }
    // A JWT: header.payload.signature, base64url, the header a JSON object.
    for (auto pos = value.find("eyJ"); pos != std::string_view::npos;
         pos = value.find("eyJ", pos + 1)) {
        if (!at_boundary(pos)) {
            continue;
        }
        const std::size_t header = run_length(pos);
        const std::size_t dot1 = pos + header;
        if (header < 10 || dot1 >= value.size() || value[dot1] != '.') {
            continue;
        }
        const std::size_t payload = run_length(dot1 + 1);
        const std::size_t dot2 = dot1 + 1 + payload;
        if (payload >= 10 && dot2 < value.size() && value[dot2] == '.') {
            return true;
        }
    }
    // An HTTP Authorization value: "Bearer <token>".
    const std::string v = lower(value);
    for (auto pos = v.find("bearer"); pos != std::string::npos; pos = v.find("bearer", pos + 1)) {
        std::size_t i = pos + 6;
        if (!at_boundary(pos) || i >= v.size() || (v[i] != ' ' && v[i] != '\t')) {
            continue;
        }
        while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) {
            ++i;
        }
        std::size_t j = i;  // a bearer token may hold base64 and JWT characters too
        while (j < v.size() && (token_char(v[j]) || v[j] == '.' || v[j] == '~' || v[j] == '+' ||
                                v[j] == '/' || v[j] == '=')) {
            ++j;
        }
        if (j - i >= 8) {
            return true;
        }
    }
    // Webhook URLs whose path is the credential.
    for (std::string_view hook : {"hooks.slack.com/", "discord.com/api/webhooks/",
                                  "discordapp.com/api/webhooks/", "webhook.office.com/"}) {
        if (v.find(hook) != std::string::npos) {
            return true;
        }
    }
    return false;
}

bool value_has_credentials(std::string_view value) {
    // A password in a URL: the userinfo has a ':' with something after it.
    if (any_url_userinfo(value, [](std::string_view userinfo) {
            const auto colon = userinfo.find(':');
            return colon != std::string_view::npos && colon + 1 < userinfo.size();
        })) {
        return true;
    }
    if (value_has_token(value)) {
        return true;
    }
    // Keyword connection strings (libpq, ADO.NET, Azure), key=value lists
    // (an AWS credentials file) and query strings that sign a URL.
    static constexpr std::string_view k_keys[] = {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "accountkey",
        "sharedaccesskey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "key",
        "private_key",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "aws_secret_access_key",
        "aws_session_token",
        "secret_access_key",
    };
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

bool is_public_name(std::string_view name) {
    static const std::set<std::string_view> k_names = {
        "PATH",
        "LD_LIBRARY_PATH",
        "LIBRARY_PATH",
        "CPATH",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "PKG_CONFIG_PATH",
        "MANPATH",
        "INFOPATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "PYTHONHASHSEED",
        "VIRTUAL_ENV",
        "LANG",
        "LANGUAGE",
        "TZ",
        "COLORTERM",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "DEBIAN_FRONTEND",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_DATASETS_CACHE",
        "HF_HUB_ENABLE_HF_TRANSFER",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_CACHE",
        "TORCH_HOME",
        "TORCH_CUDA_ARCH_LIST",
        "PYTORCH_VERSION",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "JAVA_HOME",
        "GOPATH",
        "GOROOT",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "MASTER_ADDR",
        "MASTER_PORT",
        "WORLD_SIZE",
        "NODE_RANK",
        "RANK",
        "LOCAL_RANK",
        "LOCAL_WORLD_SIZE",
        "NNODES",
        "JOB_COMPLETION_INDEX",
        "HYDRA_HOST_FILE",
        "PDSH_RCMD_TYPE",
        "OMPI_ALLOW_RUN_AS_ROOT",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM",
        "RUNPOD_POD_ID",
        "RUNPOD_POD_HOSTNAME",
        "RUNPOD_GPU_COUNT",
        "RUNPOD_CPU_COUNT",
        "RUNPOD_MEM_GB",
        "RUNPOD_GPU_NAME",
        "RUNPOD_PUBLIC_IP",
        "RUNPOD_DC_ID",
        "RUNPOD_VOLUME_ID",
        "PUBLIC_IPADDR",
        "VAST_CONTAINERLABEL",
        "CONTAINER_ID",
        "SKYPILOT_NODE_RANK",
        "SKYPILOT_NUM_NODES",
        "SKYPILOT_NODE_IPS",
        "SKYPILOT_NUM_GPUS_PER_NODE",
    };
    static constexpr std::string_view k_prefixes[] = {
        "CUDA_",
        "NVIDIA_",
        "NV_",
        "NCCL_",
        "CUDNN_",
        "CONDA_",
        "LC_",
        "RUNPOD_TCP_PORT_",
        "RUNPOD_UDP_PORT_",
        "VAST_TCP_PORT_",
        "VAST_UDP_PORT_",
        "OMPI_MCA_",
    };
    if (looks_secret(name)) {
        return false;
    }
    return k_names.count(name) != 0 ||
           std::any_of(std::begin(k_prefixes), std::end(k_prefixes),
                       [&](std::string_view p) { return name.starts_with(p); });
}

bool is_public(const Variable& var) {
    return is_public_name(var.name) && !is_secret(var);
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
