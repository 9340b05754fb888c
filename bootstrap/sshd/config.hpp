// The sshd configuration sshboot owns, rendered from templates/sshd_config.in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::sshd {

inline constexpr const char* k_config_dir = "/etc/sshboot";
inline constexpr const char* k_config_path = "/etc/sshboot/sshd_config";
inline constexpr const char* k_dropin_dir = "/etc/sshboot/sshd_config.d";
inline constexpr const char* k_pid_file = "/run/sshboot/sshd.pid";
// The drop-in `sshboot password` writes: "00-" so it sorts before the other
// drop-ins (sshd keeps the first value it reads for these keywords).
inline constexpr const char* k_password_dropin_name = "00-sshboot-password.conf";

struct ConfigParams {
    std::uint16_t port = 22;
    std::vector<std::string> host_key_paths;
    // HostCertificate files (cluster mode: the host key signed by the cluster CA).
    std::vector<std::string> host_certificate_paths;
    bool use_pam = false;
    bool password_authentication = false;
    // The login user is root and logs in by password: PermitRootLogin yes.
    bool root_password_login = false;
    std::string dropin_dir = k_dropin_dir;
    std::string pid_file = k_pid_file;
    // One "SetEnv ..." line (session_env::render_setenv_line), or empty.
    std::string set_env;
};

// Renders the config. Refuses values that could add a line of their own
// (a newline in a path) or that sshd would split (spaces, quotes).
util::Expected<std::string> render_config(const ConfigParams& params);

}  // namespace sshboot::sshd
