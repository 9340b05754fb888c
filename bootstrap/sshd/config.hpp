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

// Limits against password guessing, set whenever password login is on (the
// README's "Password login" explains each value):
// - MaxAuthTries 4: four tries a connection (default 6); a key the client
//   offers counts as a try too.
// - LoginGraceTime 30: an unauthenticated connection is dropped after 30 s
//   (default 120 s), so guessers hold sshd's MaxStartups slots less long.
// - PerSourcePenalties (OpenSSH 9.8 and later): an address whose connection
//   ended in failed logins is refused for 30 s, up to 10 minutes when it goes
//   on (the defaults refuse for 5 s, after 15 s have added up).
// TCP forwarding stays on: VS Code Remote, Jupyter tunnels and ssh -L need it.
inline constexpr int k_max_auth_tries = 4;
inline constexpr int k_login_grace_seconds = 30;
inline constexpr const char* k_per_source_penalties =
    "authfail:30s grace-exceeded:30s max:10m min:30s";

// The limits as sshd config lines, each ending in a newline; PerSourcePenalties
// only with `per_source_penalties` (sshd refuses keywords it does not know).
std::string password_limit_lines(bool per_source_penalties);

struct ConfigParams {
    std::uint16_t port = 22;
    std::vector<std::string> host_key_paths;
    // HostCertificate files (cluster mode: the host key signed by the cluster CA).
    std::vector<std::string> host_certificate_paths;
    bool use_pam = false;
    bool password_authentication = false;
    // The login user is root and logs in by password: PermitRootLogin yes.
    bool root_password_login = false;
    // The sshd knows PerSourcePenalties (sshd::has_per_source_penalties).
    bool per_source_penalties = false;
    std::string dropin_dir = k_dropin_dir;
    std::string pid_file = k_pid_file;
    // AcceptEnv LANG LC_*: the image has locales beyond C.UTF-8 (sshd/locale.hpp).
    bool accept_client_locale = true;
    // One "SetEnv ..." line (session_env::render_setenv_line), or empty: for
    // every account.
    std::string set_env;
    // With user_set_env: a `Match User <user>` block, last in the file, whose
    // SetEnv line replaces set_env for that user's sessions (sshd replaces
    // the whole SetEnv list with a matching block's). The restricted
    // variables reach no other account's sessions.
    std::string set_env_user;
    std::string user_set_env;
};

// Renders the config. Refuses values that could add a line of their own
// (a newline in a path) or that sshd would split (spaces, quotes), and a
// user name that is a pattern (*, ?, !, ,) rather than one name.
util::Expected<std::string> render_config(const ConfigParams& params);

}  // namespace sshboot::sshd
