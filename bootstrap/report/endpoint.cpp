#include "report/endpoint.hpp"

#include "util/parse.hpp"

namespace sshboot::report {

std::optional<Endpoint> detect_endpoint(const EndpointSources& s) {
    auto port_or = [&](const std::string& text) -> std::uint16_t {
        if (auto p = util::parse_port(text)) {
            return *p;
        }
        if (auto p = util::parse_port(s.public_port)) {
            return *p;
        }
        return s.internal_port;
    };
    if (!s.public_host.empty()) {
        return Endpoint{s.public_host, port_or(s.public_port), "SSH_PUBLIC_HOST"};
    }
    if (!s.runpod_public_ip.empty() && util::parse_port(s.runpod_tcp_port_22)) {
        return Endpoint{s.runpod_public_ip, port_or(s.runpod_tcp_port_22), "RunPod"};
    }
    if (!s.vast_public_ip.empty() && util::parse_port(s.vast_tcp_port_22)) {
        return Endpoint{s.vast_public_ip, port_or(s.vast_tcp_port_22), "vast.ai"};
    }
    return std::nullopt;
}

std::string missing_endpoint_message(std::uint16_t internal_port) {
    const std::string port = std::to_string(internal_port);
    return "\n"
           " RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing, so the address to connect\n"
           " to from outside is not known.\n"
           " This means the pod has no public IP, or TCP port " +
           port +
           " is not exposed.\n"
           " What to do: on RunPod, edit the pod or template, add " +
           port +
           " under \"Expose TCP Ports\"\n"
           " and pick a GPU with a public IP; elsewhere, publish port " +
           port + " (docker run -p 2222:" + port +
           ")\n"
           " and set SSH_PUBLIC_HOST and SSH_PUBLIC_PORT to the address to print.\n"
           " SSH is running inside the container on port " +
           port + " either way.\n\n";
}

}  // namespace sshboot::report
