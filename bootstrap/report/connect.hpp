// The connect block printed on stdout once sshd accepts connections.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/endpoint.hpp"
#include "util/expected.hpp"

namespace sshboot::report {

struct HostKeyInfo {
    std::string type;         // "ssh-ed25519"
    std::string base64;       // the public blob
    std::string fingerprint;  // "SHA256:..."
    unsigned bits = 0;
};

struct ConnectInput {
    std::string user;
    Endpoint endpoint;
    std::vector<HostKeyInfo> host_keys;
    std::string alias;            // Host name for ~/.ssh/config
    std::string remote_dir;       // where scp/rsync examples copy to ("/workspace/" or "~/")
    std::string password;         // a generated password, printed once; empty otherwise
    bool password_login = false;  // password login is on (says so; never prints a password)
    // The HTTPS tunnel (SSHBOOT_TUNNEL_PORT): its port inside the container
    // (0: off), its public ws(s):// URL ("" when not known) and whether it
    // asks for a token (the token itself is never printed).
    std::uint16_t tunnel_port = 0;
    std::string tunnel_url;
    bool tunnel_token = false;
};

// The Host name of the tunnel's ~/.ssh/config block: "<alias>-tunnel" beside
// a TCP endpoint, the alias itself when the tunnel is the only way in.
std::string tunnel_host_name(const ConnectInput& input);

// The tunnel's ~/.ssh/config block (ProxyCommand sshboot tunnel URL,
// HostKeyAlias the alias); empty when no tunnel URL is known.
std::vector<std::string> tunnel_config_lines(const ConnectInput& input);

// The connect block's tunnel part: the config block, the known_hosts line,
// the websocat alternative and the token advice; "" when the tunnel is off.
std::string render_tunnel_section(const ConnectInput& input);

// "[host]:port" (or just host for port 22), as known_hosts names a host.
std::string known_hosts_name(const std::string& host, std::uint16_t port);

// "256 SHA256:... (ED25519)", as ssh-keygen -l prints a key without comment.
std::string fingerprint_line(const HostKeyInfo& key);

// Turns a pod id or hostname into a safe ssh_config Host name.
std::string sanitize_alias(const std::string& name);

// The ~/.ssh/config block for the alias (Host line first, options indented
// by four spaces), without a trailing newline.
std::vector<std::string> config_block_lines(const ConnectInput& input);

// One POSIX sh command (`sh -c '...'`, several lines) to paste on the laptop:
// it puts the config block (between marker comments, before the first Host or
// Match section) into ~/.ssh/config and the alias's known_hosts lines into
// ~/.ssh/known_hosts, replacing what an earlier paste for the same alias
// wrote, and creates ~/.ssh (0700) when missing. nullopt when a value holds a
// character that is not safe to paste into a shell (then it is not offered).
std::optional<std::string> laptop_setup_command(const ConnectInput& input);

util::Expected<std::string> render_connect_block(const ConnectInput& input);

// Everything printed on stdout once sshd accepts connections: the connect
// block when `sources` name an endpoint; otherwise the missing-endpoint
// message, then the host's identity with the in-container address so a user
// who reaches it another way (a proxy, a port-forward, a VPN) can verify it,
// and a generated password when there is one.
struct ReportInput {
    ConnectInput connect;  // endpoint is filled in from sources
    EndpointSources sources;
    std::string local_address;  // the container's own address ("10.0.0.5")
};
util::Expected<std::string> render_report(const ReportInput& input);

// The page the tunnel port serves at /: the report without any password.
util::Expected<std::string> render_tunnel_page(const ReportInput& input);

}  // namespace sshboot::report
