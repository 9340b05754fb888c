// What `sshboot doctor` looks at, gathered from the running system in one
// pass (effects) so that the checks themselves are pure functions of it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "accounts/hash_method.hpp"
#include "accounts/passwd.hpp"
#include "doctor/cluster_facts.hpp"
#include "doctor/sshd_options.hpp"
#include "report/endpoint.hpp"
#include "util/fs.hpp"

namespace sshboot::doctor {

// stat(2) of one path, as the checks need it.
struct FileInfo {
    std::string path;
    bool exists = false;
    int error = 0;  // errno when stat failed for a reason other than ENOENT
    bool is_dir = false;
    bool is_regular = false;
    uid_t uid = 0;
    gid_t gid = 0;
    unsigned mode = 0;       // permission bits, 07777
    std::string owner_name;  // from /etc/passwd; empty when unknown
};

struct ProcessInfo {
    pid_t pid = 0;
    std::string comm;
    std::string config_path;                  // sshd's -f argument; empty when none
    std::vector<std::uint16_t> listen_ports;  // TCP ports it listens on
};

struct CommandOutput {
    bool ran = false;
    int exit_code = -1;  // -1 when killed by a signal
    std::string output;  // stdout and stderr
};

struct AuthorizedKeysFacts {
    std::string path;            // as configured, expanded (absolute)
    FileInfo file;               // the file (after resolving symlinks)
    std::vector<FileInfo> dirs;  // its directory, then each parent up to home (or /)
    std::size_t usable_keys = 0;
    std::size_t refused = 0;
    std::string read_error;  // when it exists but could not be read
};

// sshboot's export of the container's environment to SSH sessions
// (session_env/export.hpp): a profile.d file and a SetEnv line in the config.
struct SessionEnvFacts {
    FileInfo profile;                // /etc/profile.d/sshboot-env.sh
    bool config_has_setenv = false;  // a SetEnv line in the config sshd runs with
};

struct Facts {
    std::string user_name = "root";
    std::uint16_t port = 22;
    bool port_from_variable = false;

    std::string sshd_path;     // empty: sshd not found
    std::string sshd_version;  // e.g. "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15"
    std::vector<ProcessInfo> sshd_processes;
    std::vector<ProcessInfo> port_owners;  // every process listening on `port`
    bool port_listening = false;           // a socket listens on `port` (owner may be unknown)

    std::string config_path;  // the config sshd runs (or would run) with
    bool config_exists = false;
    CommandOutput config_test;  // sshd -t -f config_path
    SshdOptions options;
    std::string options_source;  // "sshd -T" or "the config file"

    std::vector<FileInfo> host_keys;  // private host key files

    // SSHBOOT_STATE_DIR (or its default) and why it is not safe for private
    // keys (util::open_trusted_dir); empty problem when it is.
    std::string state_dir;
    std::optional<util::PathProblem> state_dir_problem;
    std::string state_dir_error;        // it could not be checked (e.g. missing)
    bool host_keys_configured = false;  // from HostKey lines (else sshd's defaults)

    FileInfo privsep_dir;

    std::string passwd_error;  // /etc/passwd unreadable
    std::optional<accounts::PasswdEntry> user;
    FileInfo shell;
    bool shell_executable = false;
    std::optional<std::string> shadow_password;  // the user's shadow password field
    std::string shadow_error;
    // The hash sshboot gives new passwords here, and why (what the image's
    // libcrypt and PAM verify).
    accounts::HashChoice password_hash;

    std::vector<AuthorizedKeysFacts> authorized_keys;

    report::EndpointSources endpoint;
    // The HTTPS tunnel (SSHBOOT_TUNNEL_PORT): its port (0: off) and what a
    // WebSocket upgrade to /ssh there brought back.
    std::uint16_t tunnel_port = 0;
    std::string tunnel_banner;  // sshd's banner through the tunnel
    std::string tunnel_error;   // why the probe failed
    SessionEnvFacts session_env;
    ClusterFacts cluster;  // enabled only in cluster mode
};

// Paths and inputs, injectable for tests.
struct GatherOptions {
    // The variables doctor reads (SSH_USER, SSH_PORT, endpoint variables);
    // those missing are taken from PID 1's environment when readable.
    std::map<std::string, std::string> env;
    std::string etc_dir = "/etc";
    std::string proc_dir = "/proc";
    std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    std::string cluster_state = cluster::LaunchPaths{}.state_file;
    bool probe_peers = true;  // log in to every cluster node (at most 5 s)
};

// The variables doctor reads.
const std::vector<std::string>& doctor_variables();

// stat(2) of `path`, following symlinks; owner_name from `passwd_text`.
FileInfo inspect_file(const std::string& path, std::string_view passwd_text = {});

// The paths sshd's StrictModes checks for `file`: the directory holding it,
// then each parent, stopping after `home` (or at /). Symlinks resolved.
std::vector<std::string> strict_modes_dirs(const std::string& file, const std::string& home);

// Expands an AuthorizedKeysFile entry (%h, %u, %%, relative to home).
std::string expand_authorized_keys_path(const std::string& pattern, const std::string& home,
                                        const std::string& user);

// The first "OpenSSH_..." line of `sshd -V` output (printed on stderr, with a
// usage message and a non-zero exit by older versions); empty when absent.
std::string parse_sshd_version(std::string_view output);

// The -f argument in a NUL-separated /proc/PID/cmdline; empty when none.
std::string config_from_cmdline(std::string_view cmdline);

// Everything, from the running system.
Facts gather(const GatherOptions& options);

}  // namespace sshboot::doctor
