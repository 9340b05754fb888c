// The tunnel server: HTTP/1.1 on a listening socket PID 1 bound, WebSocket
// upgrades on /ssh relayed to the local sshd, the connect page elsewhere.
// Runs in its own unprivileged process (tunnel/serve.hpp starts it); the only
// place Boost.Beast is used on the server side.
#pragma once

#include <cstdint>
#include <string>

#include "tunnel/http_policy.hpp"
#include "util/expected.hpp"

namespace sshboot::tunnel {

// Header bytes a request may have before it is refused (431).
inline constexpr std::size_t k_header_limit = 8 * 1024;
// Seconds a client gets to send its request and finish the upgrade.
inline constexpr int k_handshake_seconds = 10;
// Connections still in their handshake at once; past this new ones are
// closed at once (each costs a file descriptor and a timer).
inline constexpr int k_max_pending = 1024;
// Bytes read per direction before the next read waits for the write.
inline constexpr std::size_t k_relay_chunk = 64 * 1024;

// Serves on `listen_fd` until SIGTERM or SIGINT; returns the exit code.
// Sleeps in epoll with no timer armed while no connection is open.
int serve(const ServeConfig& config, int listen_fd);

// `sshboot doctor`'s check: a WebSocket upgrade to /ssh on 127.0.0.1:port
// (with the token when one is set) and the first bytes relayed back. Returns
// sshd's banner line ("SSH-2.0-..."); an error saying which step failed.
// Bounded by `timeout_seconds` in all.
util::Expected<std::string> probe(std::uint16_t port, const std::string& token,
                                  int timeout_seconds = 5);

}  // namespace sshboot::tunnel
