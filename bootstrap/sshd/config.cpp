#include "sshd/config.hpp"

#include <algorithm>

#include "util/embedded.hpp"
#include "util/template.hpp"

namespace sshboot::sshd {
namespace {

bool is_safe_token(const std::string& s) {
    return !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) {
        return c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '#' || c == '\\';
    });
}

}  // namespace

std::string password_limit_lines(bool per_source_penalties) {
    std::string out = "MaxAuthTries " + std::to_string(k_max_auth_tries) + "\n" +
                      "LoginGraceTime " + std::to_string(k_login_grace_seconds) + "\n";
    if (per_source_penalties) {
        out += std::string("PerSourcePenalties ") + k_per_source_penalties + "\n";
    }
    return out;
}

util::Expected<std::string> render_config(const ConfigParams& params) {
    if (params.port == 0) {
        return util::make_error("sshd config: port 0 is not a port");
    }
    if (params.host_key_paths.empty()) {
        return util::make_error("sshd config: no host key");
    }
    std::string host_keys;
    for (const auto& path : params.host_key_paths) {
        if (!is_safe_token(path)) {
            return util::make_error("sshd config: host key path '" + path +
                                    "' has spaces, quotes or control characters");
        }
        host_keys += (host_keys.empty() ? "HostKey " : "\nHostKey ") + path;
    }
    std::string host_certs;
    for (const auto& path : params.host_certificate_paths) {
        if (!is_safe_token(path)) {
            return util::make_error("sshd config: host certificate path '" + path +
                                    "' has spaces, quotes or control characters");
        }
        host_certs += (host_certs.empty() ? "HostCertificate " : "\nHostCertificate ") + path;
    }
    if (host_certs.empty()) {
        host_certs = "# (no HostCertificate: not in cluster mode)";
    }
    for (const auto* path : {&params.dropin_dir, &params.pid_file}) {
        if (!is_safe_token(*path)) {
            return util::make_error("sshd config: path '" + *path +
                                    "' has spaces, quotes or control characters");
        }
    }
    for (const auto* line : {&params.set_env, &params.user_set_env}) {
        if (line->find_first_of("\r\n") != std::string::npos ||
            (!line->empty() && !line->starts_with("SetEnv "))) {
            return util::make_error("sshd config: the SetEnv line is not one SetEnv line");
        }
    }
    std::string match_block = "# (no variable restricted to the login user)";
    if (!params.user_set_env.empty()) {
        const std::string& user = params.set_env_user;
        if (!is_safe_token(user) || user.find_first_of("*?!,") != std::string::npos) {
            return util::make_error("sshd config: user name '" + user +
                                    "' cannot be named in a Match block");
        }
        match_block =
            "# Variables only the login user sees (every variable not on sshboot's list of\n"
            "# harmless ones): other accounts get the line above. Last in the file, as a\n"
            "# Match block applies to every line after it.\n"
            "Match User " +
            user + "\n\t" + params.user_set_env;
    }
    // Root may log in with a key always; with a password only when asked for.
    const char* permit_root =
        params.password_authentication && params.root_password_login ? "yes" : "prohibit-password";
    std::string limits = "# (password login is off: sshd's default limits)";
    if (params.password_authentication) {
        limits = password_limit_lines(params.per_source_penalties);
        limits.pop_back();  // the template ends the line
    }
    return util::render_template(
        embedded::sshd_config_template,
        {
            {"DROPIN_DIR", params.dropin_dir},
            {"PORT", std::to_string(params.port)},
            {"HOST_KEYS", host_keys},
            {"HOST_CERTIFICATES", host_certs},
            {"PID_FILE", params.pid_file},
            {"PERMIT_ROOT_LOGIN", permit_root},
            {"PASSWORD_AUTHENTICATION", params.password_authentication ? "yes" : "no"},
            {"USE_PAM", params.use_pam ? "yes" : "no"},
            {"PASSWORD_LIMITS", limits},
            {"ACCEPT_ENV", params.accept_client_locale ? "LANG LC_* COLORTERM" : "COLORTERM"},
            {"SET_ENV", params.set_env.empty() ? "# (no environment to pass on)" : params.set_env},
            {"MATCH_USER", match_block},
        });
}

}  // namespace sshboot::sshd
