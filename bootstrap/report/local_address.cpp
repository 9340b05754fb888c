#include "report/local_address.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace sshboot::report {

std::string container_address() {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return "127.0.0.1";
    }
    std::string v4;
    std::string v6;
    for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0 ||
            (a->ifa_flags & IFF_LOOPBACK) != 0) {
            continue;
        }
        char text[INET6_ADDRSTRLEN] = {};
        if (a->ifa_addr->sa_family == AF_INET && v4.empty()) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
            if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) != nullptr) {
                v4 = text;
            }
        } else if (a->ifa_addr->sa_family == AF_INET6 && v6.empty()) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
            if (!IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) &&
                ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) != nullptr) {
                v6 = text;
            }
        }
    }
    ::freeifaddrs(list);
    if (!v4.empty()) {
        return v4;
    }
    return v6.empty() ? "127.0.0.1" : v6;
}

}  // namespace sshboot::report
