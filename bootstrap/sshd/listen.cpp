#include "sshd/listen.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/parse.hpp"

namespace sshboot::sshd {

std::vector<ListeningSocket> parse_listening(std::string_view text) {
    std::vector<ListeningSocket> out;
    std::size_t start = 0;
    bool header = true;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const auto line = text.substr(start, end - start);
        start = end + 1;
        if (header) {
            header = false;
            continue;
        }
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const auto f = util::fields_of(line);
        if (f.size() < 10 || f[3] != "0A") {
            continue;
        }
        const auto colon = f[1].rfind(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const auto port_hex = f[1].substr(colon + 1);
        unsigned port = 0;
        unsigned long inode = 0;
        auto r1 = std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), port, 16);
        auto r2 = std::from_chars(f[9].data(), f[9].data() + f[9].size(), inode);
        if (r1.ec != std::errc{} || r2.ec != std::errc{} || port > 65535) {
            continue;
        }
        out.push_back({static_cast<std::uint16_t>(port), inode});
    }
    return out;
}

namespace {

// The listening TCP sockets of `family` from the kernel's socket diagnostics
// (netlink): the kernel fills in only LISTEN sockets, where reading
// /proc/net/tcp makes it walk its whole connection table (about 3 ms a read,
// and sshd, starting beside it, slows down). nullopt when netlink is not
// available (a seccomp filter, say).
std::optional<std::vector<ListeningSocket>> netlink_listening(std::uint8_t family) {
    util::UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (fd.get() < 0) {
        return std::nullopt;
    }
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } query{};
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    query.request.sdiag_family = family;
    query.request.sdiag_protocol = IPPROTO_TCP;
    query.request.idiag_states = 1U << TCP_LISTEN;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), &query, sizeof query, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) != static_cast<ssize_t>(sizeof query)) {
        return std::nullopt;
    }
    std::vector<ListeningSocket> out;
    alignas(nlmsghdr) char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return std::nullopt;
        }
        // The messages one after another, each padded to NLMSG_ALIGNTO
        // (NLMSG_OK and NLMSG_NEXT, written out without their mixed-sign
        // comparisons).
        const auto size = static_cast<std::size_t>(n);
        for (std::size_t at = 0; at + sizeof(nlmsghdr) <= size;) {
            const auto* h = reinterpret_cast<const nlmsghdr*>(buf + at);
            if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > size - at) {
                break;
            }
            at += NLMSG_ALIGN(h->nlmsg_len);
            if (h->nlmsg_type == NLMSG_DONE) {
                return out;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                return std::nullopt;
            }
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
                continue;
            }
            const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
            out.push_back({ntohs(msg->id.idiag_sport), msg->idiag_inode});
        }
    }
}

}  // namespace

std::vector<ListeningSocket> listening_sockets() {
    auto v4 = netlink_listening(AF_INET);
    auto v6 = v4 ? netlink_listening(AF_INET6) : std::nullopt;
    if (v4 && v6) {
        v4->insert(v4->end(), v6->begin(), v6->end());
        return std::move(*v4);
    }
    std::vector<ListeningSocket> out;
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        // /proc files report size 0; read_file reads until EOF.
        auto text = util::read_file(path);
        if (text) {
            auto part = parse_listening(*text);
            out.insert(out.end(), part.begin(), part.end());
        }
    }
    return out;
}

bool process_listens_on(pid_t pid, std::uint16_t port) {
    std::vector<unsigned long> inodes;
    for (const auto& s : listening_sockets()) {
        if (s.port == port) {
            inodes.push_back(s.inode);
        }
    }
    if (inodes.empty()) {
        return false;
    }
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(fd_dir.c_str());
    if (dir == nullptr) {
        return false;
    }
    bool found = false;
    char target[64];
    while (!found) {
        const dirent* entry = ::readdir(dir);
        if (entry == nullptr) {
            break;
        }
        const std::string link = fd_dir + "/" + entry->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 0) {
            continue;
        }
        target[n] = '\0';
        // "socket:[12345]"
        if (std::strncmp(target, "socket:[", 8) != 0) {
            continue;
        }
        unsigned long inode = 0;
        std::from_chars(target + 8, target + n, inode);
        for (auto i : inodes) {
            found = found || i == inode;
        }
    }
    ::closedir(dir);
    return found;
}

bool port_in_use(std::uint16_t port) {
    for (const auto& s : listening_sockets()) {
        if (s.port == port) {
            return true;
        }
    }
    return false;
}

}  // namespace sshboot::sshd
