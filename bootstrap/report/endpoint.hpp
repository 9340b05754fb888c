// Where the container is reachable from outside: SSH_PUBLIC_HOST/PORT, else
// RunPod's, else vast.ai's variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sshboot::report {

struct EndpointSources {
    std::string public_host, public_port;
    std::string runpod_public_ip, runpod_tcp_port_22;
    std::string vast_public_ip, vast_tcp_port_22;
    std::uint16_t internal_port = 22;
};

struct Endpoint {
    std::string host;
    std::uint16_t port = 22;
    std::string source;  // "SSH_PUBLIC_HOST", "RunPod", "vast.ai"
};

// The endpoint, or nullopt when no source names a host. A source with a host
// but no port uses SSH_PUBLIC_PORT, then the internal port.
std::optional<Endpoint> detect_endpoint(const EndpointSources& sources);

// The lines printed when no endpoint is known: what it means, what to do.
std::string missing_endpoint_message(std::uint16_t internal_port);

}  // namespace sshboot::report
