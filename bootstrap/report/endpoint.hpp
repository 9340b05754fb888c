// Where the container is reachable from outside: SSH_PUBLIC_HOST/PORT, else
// RunPod's, else vast.ai's variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::report {

// Whether `host` may be printed into the connect block's commands, which a
// user pastes into a shell: an IPv4 address in dotted decimal, an IPv6
// address (no brackets, no zone), or a DNS name (labels of letters, digits,
// '-' and '_', 1 to 63 bytes, not starting or ending with '-'; 253 bytes in
// all; one trailing dot allowed; not all digits and dots unless it is an
// IPv4 address). Nothing else: no shell metacharacters, spaces or quotes.
bool is_valid_host(std::string_view host);

// New fields go at the end: callers initialise this positionally.
struct EndpointSources {
    std::string public_host, public_port;
    std::string runpod_public_ip, runpod_tcp_port_22;
    std::string vast_public_ip, vast_tcp_port_22;
    std::uint16_t internal_port = 22;
    // RUNPOD_TCP_PORT_<internal_port> and VAST_TCP_PORT_<internal_port>: the
    // platforms name the external port after the internal one. Used before
    // the _22 variables when the internal port is not 22.
    std::string runpod_tcp_port, vast_tcp_port;
};

struct Endpoint {
    std::string host;
    std::uint16_t port = 22;
    std::string source;  // "SSH_PUBLIC_HOST", "RunPod", "vast.ai"
};

// "RUNPOD_TCP_PORT_<port>" / "VAST_TCP_PORT_<port>".
std::string runpod_port_variable(std::uint16_t internal_port);
std::string vast_port_variable(std::uint16_t internal_port);

// The endpoint, or nullopt when no source names a host. A source with a host
// but no port uses SSH_PUBLIC_PORT, then the internal port. On RunPod and
// vast.ai the variable for the internal port wins over the one for 22.
std::optional<Endpoint> detect_endpoint(const EndpointSources& sources);

// The variable that gave detect_endpoint's port ("RUNPOD_TCP_PORT_2222",
// "SSH_PUBLIC_PORT"), or "" when the port is the internal one or no endpoint
// is known.
std::string endpoint_port_variable(const EndpointSources& sources);

// The lines printed when no endpoint is known: what is missing (naming the
// variable for the internal port), what it means, what to do.
std::string missing_endpoint_message(const EndpointSources& sources);

// The external endpoint's variables checked: every host variable set is a
// valid host (is_valid_host), every port variable set is a port 1-65535.
// The error names the variable, shows the value escaped, and says what to
// give instead (the caller exits 2).
util::Status validate_endpoint_sources(const EndpointSources& sources,
                                       std::string_view runpod_port_name,
                                       std::string_view vast_port_name);

}  // namespace sshboot::report
