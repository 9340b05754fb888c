#include "report/endpoint.hpp"

#include "util/parse.hpp"

namespace sshboot::report {

std::string runpod_port_variable(std::uint16_t internal_port) {
    return "RUNPOD_TCP_PORT_" + std::to_string(internal_port);
}

std::string vast_port_variable(std::uint16_t internal_port) {
    return "VAST_TCP_PORT_" + std::to_string(internal_port);
}

namespace {

// The platform's port variable for the internal port, else the one for 22.
struct PlatformPort {
    std::uint16_t port = 0;
    std::string variable;
};

std::optional<PlatformPort> platform_port(const std::string& for_internal,
                                          const std::string& for_22, const std::string& prefix,
                                          std::uint16_t internal_port) {
    if (internal_port != 22) {
        if (auto p = util::parse_port(for_internal)) {
            return PlatformPort{*p, prefix + std::to_string(internal_port)};
        }
    }
    if (auto p = util::parse_port(for_22)) {
        return PlatformPort{*p, prefix + "22"};
    }
    return std::nullopt;
}

struct Detected {
    Endpoint endpoint;
    std::string variable;
};

std::optional<Detected> detect(const EndpointSources& s) {
    if (!s.public_host.empty()) {
        if (auto p = util::parse_port(s.public_port)) {
            return Detected{{s.public_host, *p, "SSH_PUBLIC_HOST"}, "SSH_PUBLIC_PORT"};
        }
        return Detected{{s.public_host, s.internal_port, "SSH_PUBLIC_HOST"}, ""};
    }
    auto with_port = [](const std::string& host, const PlatformPort& p, const char* source) {
        return Detected{{host, p.port, source}, p.variable};
    };
    if (!s.runpod_public_ip.empty()) {
        if (auto p = platform_port(s.runpod_tcp_port, s.runpod_tcp_port_22, "RUNPOD_TCP_PORT_",
                                   s.internal_port)) {
            return with_port(s.runpod_public_ip, *p, "RunPod");
        }
    }
    if (!s.vast_public_ip.empty()) {
        if (auto p = platform_port(s.vast_tcp_port, s.vast_tcp_port_22, "VAST_TCP_PORT_",
                                   s.internal_port)) {
            return with_port(s.vast_public_ip, *p, "vast.ai");
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<Endpoint> detect_endpoint(const EndpointSources& s) {
    if (auto d = detect(s)) {
        return d->endpoint;
    }
    return std::nullopt;
}

std::string endpoint_port_variable(const EndpointSources& s) {
    auto d = detect(s);
    return d ? d->variable : std::string();
}

std::string missing_endpoint_message(const EndpointSources& s) {
    const std::string port = std::to_string(s.internal_port);
    const std::string runpod_var = runpod_port_variable(s.internal_port);
    std::string out =
        "\n"
        " RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing, so the address to connect\n"
        " to from outside is not known.\n";
    if (s.internal_port != 22) {
        out += " With SSH_PORT=" + port + ", the external port is in " + runpod_var +
               "\n (vast.ai: " + vast_port_variable(s.internal_port) + ").\n";
    }
    if (!s.runpod_public_ip.empty()) {
        out += " RUNPOD_PUBLIC_IP is set but " + runpod_var + " is not: TCP port " + port +
               " is not exposed.\n";
    } else if (!s.vast_public_ip.empty()) {
        out += " PUBLIC_IPADDR is set but " + vast_port_variable(s.internal_port) +
               " is not: TCP port " + port + " is not exposed.\n";
    } else {
        out += " This means the pod has no public IP, or TCP port " + port + " is not exposed.\n";
    }
    out += " What to do: on RunPod, edit the pod or template, add " + port +
           " under \"Expose TCP Ports\"\n"
           " and pick a GPU with a public IP; elsewhere, publish port " +
           port + " (docker run -p 2222:" + port +
           ")\n"
           " and set SSH_PUBLIC_HOST and SSH_PUBLIC_PORT to the address to print.\n"
           " SSH is running inside the container on port " +
           port + " either way.\n\n";
    return out;
}

}  // namespace sshboot::report
