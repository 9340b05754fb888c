// Listening TCP sockets (from the kernel's socket diagnostics over netlink,
// else /proc/net/tcp and /proc/net/tcp6): how sshboot knows sshd accepts
// connections without connecting to it (a probe connection would leave a
// line in sshd's log on every start).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace sshboot::sshd {

struct ListeningSocket {
    std::uint16_t port = 0;
    unsigned long inode = 0;
};

// Parses the text of /proc/net/tcp or /proc/net/tcp6; keeps LISTEN rows.
std::vector<ListeningSocket> parse_listening(std::string_view proc_net_tcp);

// The listening sockets of this network namespace (tcp and tcp6).
std::vector<ListeningSocket> listening_sockets();

// True when a socket listening on `port` is one of `pid`'s open files.
bool process_listens_on(pid_t pid, std::uint16_t port);

// True when anything in this network namespace listens on `port`.
bool port_in_use(std::uint16_t port);

}  // namespace sshboot::sshd
