// The tunnel server as a process of its own, kept away from everything
// secret: PID 1 binds the port and writes the server's settings into a sealed
// memory file, then spawn() starts `sshboot __tunnel-serve` as an
// unprivileged user (nobody), with no environment, no supplementary groups,
// no new privileges, and only the listening socket (fd 3) and that file
// (fd 4) open. supervise/ restarts it when it dies, as it does sshd.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tunnel/http_policy.hpp"
#include "util/expected.hpp"
#include "util/fd.hpp"

namespace sshboot::tunnel {

// The hidden subcommand the server child runs.
inline constexpr std::string_view k_serve_subcommand = "__tunnel-serve";

// The account the server runs as when PID 1 is root.
inline constexpr std::string_view k_server_user = "nobody";

struct Service {
    util::UniqueFd listen_fd;  // bound and listening, close-on-exec in PID 1
    util::UniqueFd config_fd;  // sealed memfd with encode_serve_config()
    uid_t uid = 65534;
    gid_t gid = 65534;
    bool drop_privileges = true;  // PID 1 is root
    std::uint16_t port = 0;
};

// Binds `port` on every address (IPv6 dual-stack, else IPv4) and stores
// `config` for the child. An error names the port and what to do.
util::Expected<std::shared_ptr<Service>> prepare_service(std::uint16_t port,
                                                         const ServeConfig& config);

// Starts the server child; the pid to supervise.
util::Expected<pid_t> spawn(const Service& service);

// The body of `sshboot __tunnel-serve`: reads fd 4, serves fd 3.
int serve_main();

}  // namespace sshboot::tunnel
