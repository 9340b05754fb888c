#include "cluster/hydra.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <set>

namespace sshboot::cluster {
namespace {

// `host` as the canonical numeric text inet_ntop gives; empty when it is a name.
std::string numeric(const std::string& host) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        return ::inet_ntop(AF_INET, &v4, text.data(), text.size()) ? text.data() : "";
    }
    in6_addr v6{};
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
        h = h.substr(1, h.size() - 2);
    }
    if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
        return ::inet_ntop(AF_INET6, &v6, text.data(), text.size()) ? text.data() : "";
    }
    return {};
}

bool is_loopback(const std::string& address) {
    return address.starts_with("127.") || address == "::1";
}

}  // namespace

std::optional<std::string> hydra_interface(const Topology& t,
                                           const std::vector<Interface>& interfaces) {
    const std::string self = numeric(t.self().host);
    if (!self.empty()) {
        for (const auto& i : interfaces) {
            if (numeric(i.address) == self) {
                return i.name;
            }
        }
        // Loopback addresses reach this node whichever lo address it is.
        if (is_loopback(self)) {
            for (const auto& i : interfaces) {
                if (is_loopback(i.address)) {
                    return i.name;
                }
            }
        }
        return std::nullopt;
    }
    std::set<std::string> names;
    for (const auto& i : interfaces) {
        if (!is_loopback(i.address) && !i.address.starts_with("fe80:")) {
            names.insert(i.name);
        }
    }
    if (names.size() == 1) {
        return *names.begin();
    }
    return std::nullopt;
}

std::vector<Interface> list_interfaces() {
    std::vector<Interface> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return out;
    }
    for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || a->ifa_name == nullptr || (a->ifa_flags & IFF_UP) == 0) {
            continue;
        }
        std::array<char, INET6_ADDRSTRLEN> text{};
        const void* raw = nullptr;
        const int family = a->ifa_addr->sa_family;
        if (family == AF_INET) {
            raw = &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr;
        } else if (family == AF_INET6) {
            raw = &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
        } else {
            continue;
        }
        if (::inet_ntop(family, raw, text.data(), text.size()) != nullptr) {
            out.push_back({a->ifa_name, text.data()});
        }
    }
    ::freeifaddrs(list);
    return out;
}

std::optional<std::string> hydra_session_entry(const Topology& t,
                                               const std::vector<std::string>& session_env) {
    if (std::any_of(session_env.begin(), session_env.end(),
                    [](const std::string& e) { return e.starts_with("HYDRA_IFACE="); })) {
        return std::nullopt;
    }
    if (auto name = hydra_interface(t, list_interfaces())) {
        return "HYDRA_IFACE=" + *name;
    }
    return std::nullopt;
}

}  // namespace sshboot::cluster
