// Settings: the one value every command works from, built from flags and the
// environment (a flag wins over its variable). The only place that knows the
// variable names is the table in settings.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::cli {

enum class Command { Run, Help, Version };

struct Settings {
    Command command = Command::Run;

    // Raw key sources; SSH_PUBLIC_KEY* replace PUBLIC_KEY* when set.
    std::string ssh_public_key;
    std::string ssh_public_key_file;
    std::string public_key;
    std::string public_key_file;

    std::string user = "root";
    // SSH_PASSWORD (never printed or logged) or SSH_PASSWORD_FILE; SSH_SUDO.
    std::string password;
    std::string password_file;
    bool sudo = false;
    std::uint16_t port = 22;
    std::string state_dir;  // resolved default when not given
    // Short names from hostkeys::parse_host_key_types.
    std::vector<std::string> host_key_types = {"ed25519"};

    // External endpoint sources, in order of precedence.
    std::string public_host;
    std::string public_port;
    std::string runpod_public_ip;
    std::string runpod_tcp_port_22;
    std::string vast_public_ip;
    std::string vast_tcp_port_22;
    // RUNPOD_TCP_PORT_<port> / VAST_TCP_PORT_<port> for the SSH_PORT in use
    // (the platforms name the external port after the internal one).
    std::string runpod_tcp_port;
    std::string vast_tcp_port;

    // Names the ~/.ssh/config Host: RUNPOD_POD_ID, else VAST_CONTAINERLABEL.
    std::string pod_id;
    std::string vast_container_label;

    // SSHBOOT_ENV_EXCLUDE / SSHBOOT_ENV_INCLUDE: comma-separated globs.
    std::string env_exclude;
    std::string env_include;

    // Cluster mode (multi-node jobs): SSHBOOT_CLUSTER_SECRET (never printed,
    // logged or passed on) or SSHBOOT_CLUSTER_SECRET_FILE turn it on;
    // SSHBOOT_CLUSTER_RANK and SSHBOOT_CLUSTER_HOSTS as given ("" = unset),
    // resolved with the platform's variables by cluster::resolve_topology.
    std::string cluster_secret;
    std::string cluster_secret_file;
    std::string cluster_rank;
    std::string cluster_hosts;
    // SSHBOOT_CLUSTER_PATTERN, _SIZE, _SLOTS: read by cluster::resolve_topology
    // from the environment; a flag given here replaces its variable there.
    std::string cluster_pattern;
    std::string cluster_size;
    std::string cluster_slots;
    bool cluster_mode() const { return !cluster_secret.empty() || !cluster_secret_file.empty(); }

    // The HTTPS tunnel (SSH over WebSocket): off while tunnel_port is 0.
    // SSHBOOT_TUNNEL_TOKEN (never printed, logged or passed on) or
    // SSHBOOT_TUNNEL_TOKEN_FILE; SSHBOOT_TUNNEL_URL normalized to ws(s)://.
    std::uint16_t tunnel_port = 0;
    std::string tunnel_token;
    std::string tunnel_token_file;
    std::string tunnel_url;
    int tunnel_ping_seconds = 25;
    int tunnel_max = 64;
    bool tunnel_enabled() const { return tunnel_port != 0; }

    bool keep_alive = false;
    int stop_timeout_seconds = 8;
    bool signal_process_group = false;
    bool verbose = false;

    std::vector<std::string> command_argv;  // COMMAND [ARG...]
};

using Environment = std::map<std::string, std::string>;

// Parses argv (argv[0] excluded) and the environment. Every error is a usage
// error (exit 2) whose message names the flag or variable. `workspace_exists`
// decides the state directory default.
util::Expected<Settings> parse_settings(const std::vector<std::string>& args,
                                        const Environment& env, bool workspace_exists);

// The --help text: usage, the options and the variable each one reads.
std::string help_text();

// Validators shared with other commands.
bool is_valid_user_name(const std::string& name);

}  // namespace sshboot::cli
