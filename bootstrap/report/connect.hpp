// The connect block printed on stdout once sshd accepts connections.
#pragma once

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
};

// "[host]:port" (or just host for port 22), as known_hosts names a host.
std::string known_hosts_name(const std::string& host, std::uint16_t port);

// "256 SHA256:... (ED25519)", as ssh-keygen -l prints a key without comment.
std::string fingerprint_line(const HostKeyInfo& key);

// Turns a pod id or hostname into a safe ssh_config Host name.
std::string sanitize_alias(const std::string& name);

util::Expected<std::string> render_connect_block(const ConnectInput& input);

}  // namespace sshboot::report
