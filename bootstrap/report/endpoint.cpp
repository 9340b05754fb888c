#include "report/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "util/parse.hpp"

namespace sshboot::report {

bool is_valid_host(std::string_view host) {
    if (host.empty() || host.size() > 254) {
        return false;
    }
    const std::string text(host);
    in6_addr v6{};
    if (host.find(':') != std::string_view::npos) {
        return host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos &&
               ::inet_pton(AF_INET6, text.c_str(), &v6) == 1;
    }
    if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
        in_addr v4{};
        return ::inet_pton(AF_INET, text.c_str(), &v4) == 1;
    }
    std::string_view name = host;
    if (name.ends_with('.')) {
        name.remove_suffix(1);
    }
    if (name.empty() || name.size() > 253) {
        return false;
    }
    while (true) {
        const auto dot = name.find('.');
        const std::string_view label = name.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), [](unsigned char c) {
                return c < 0x80 && (std::isalnum(c) != 0 || c == '-' || c == '_');
            })) {
            return false;
        }
        if (dot == std::string_view::npos) {
            return true;
        }
        name.remove_prefix(dot + 1);
    }
}

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

namespace sshboot::report {

util::Status validate_endpoint_sources(const EndpointSources& s, std::string_view runpod_port_name,
                                       std::string_view vast_port_name) {
    const std::pair<const char*, const std::string*> hosts[] = {
        {"SSH_PUBLIC_HOST", &s.public_host},
        {"RUNPOD_PUBLIC_IP", &s.runpod_public_ip},
        {"PUBLIC_IPADDR", &s.vast_public_ip},
    };
    for (const auto& [name, value] : hosts) {
        if (!value->empty() && !is_valid_host(*value)) {
            return util::make_error(
                std::string(name) + "=" + util::quoted_for_log(*value) +
                " is not a host name or an IP address: give a DNS name (letters, digits, '-', "
                "'.'), an IPv4 address (1.2.3.4) or an IPv6 address (2001:db8::1), nothing else; "
                "it is printed into the ssh, scp and rsync commands you paste");
        }
    }
    const std::pair<std::string, const std::string*> ports[] = {
        {"SSH_PUBLIC_PORT", &s.public_port},
        {"RUNPOD_TCP_PORT_22", &s.runpod_tcp_port_22},
        {"VAST_TCP_PORT_22", &s.vast_tcp_port_22},
        {std::string(runpod_port_name), &s.runpod_tcp_port},
        {std::string(vast_port_name), &s.vast_tcp_port},
    };
    for (const auto& [name, value] : ports) {
        if (!value->empty() && !util::parse_port(*value)) {
            return util::make_error(name + "=" + util::quoted_for_log(*value) +
                                    " is not a TCP port: give a number from 1 to 65535");
        }
    }
    return util::ok();
}

}  // namespace sshboot::report
