#include "tunnel/serve.hpp"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "accounts/passwd.hpp"
#include "tunnel/server.hpp"
#include "util/log.hpp"

namespace sshboot::tunnel {
namespace {

constexpr int k_listen_fd = 3;
constexpr int k_config_fd = 4;
constexpr std::size_t k_max_config = 1 << 20;

util::Expected<util::UniqueFd> bind_port(std::uint16_t port) {
    const int one = 1;
    // IPv6 with IPv4 mapped in; plain IPv4 where IPv6 is off.
    util::UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.valid()) {
        const int zero = 0;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_addr = in6addr_any;
        addr.sin6_port = htons(port);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            if (errno == EADDRINUSE) {
                return util::sys_error("bind tunnel port " + std::to_string(port));
            }
            fd.reset();
        }
    }
    if (!fd.valid()) {
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd.valid()) {
            return util::sys_error("socket for the tunnel port");
        }
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
        addr.sin_port = htons(port);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return util::sys_error("bind tunnel port " + std::to_string(port));
        }
    }
    if (::listen(fd.get(), SOMAXCONN) != 0) {
        return util::sys_error("listen on tunnel port " + std::to_string(port));
    }
    return fd;
}

util::Expected<util::UniqueFd> sealed_file(const std::string& content) {
    util::UniqueFd fd(::memfd_create("sshboot-tunnel", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd.valid()) {
        return util::sys_error("memfd_create for the tunnel settings");
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return util::sys_error("write the tunnel settings");
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) !=
        0) {
        return util::sys_error("seal the tunnel settings");
    }
    return fd;
}

// In the child after fork: async-signal-safe calls only until exec.
[[noreturn]] void exec_server(const Service& service) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        ::signal(sig, SIG_DFL);
    }
    // Out of the way first, then to their fixed numbers (dup2 clears
    // close-on-exec).
    const int listen_fd = ::fcntl(service.listen_fd.get(), F_DUPFD, 10);
    const int config_fd = ::fcntl(service.config_fd.get(), F_DUPFD, 10);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (listen_fd < 0 || config_fd < 0 || devnull < 0 || ::dup2(devnull, STDIN_FILENO) < 0 ||
        ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0 || ::dup2(listen_fd, k_listen_fd) < 0 ||
        ::dup2(config_fd, k_config_fd) < 0) {
        ::_exit(126);
    }
    ::syscall(SYS_close_range, k_config_fd + 1, ~0U, 0);
    // More descriptors for many waiting clients, within the hard limit.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    if (service.drop_privileges &&
        (::setgroups(0, nullptr) != 0 || ::setresgid(service.gid, service.gid, service.gid) != 0 ||
         ::setresuid(service.uid, service.uid, service.uid) != 0)) {
        const char* msg = "sshboot: error: tunnel server: cannot drop root privileges\n";
        [[maybe_unused]] auto r = ::write(STDERR_FILENO, msg, std::strlen(msg));
        ::_exit(126);
    }
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    char arg0[] = "sshboot";
    char arg1[k_serve_subcommand.size() + 1] = {};
    std::memcpy(arg1, k_serve_subcommand.data(), k_serve_subcommand.size());
    char* argv[] = {arg0, arg1, nullptr};
    char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path, nullptr};
    ::execve("/proc/self/exe", argv, envp);
    const char* msg = "sshboot: error: tunnel server: cannot run /proc/self/exe\n";
    [[maybe_unused]] auto r = ::write(STDERR_FILENO, msg, std::strlen(msg));
    ::_exit(127);
}

util::Expected<std::string> read_config_fd(int fd) {
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return util::sys_error("read the tunnel settings (fd 4)");
        }
        if (n == 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > k_max_config) {
            return util::make_error("the tunnel settings (fd 4) are larger than 1 MiB");
        }
    }
}

}  // namespace

util::Expected<std::shared_ptr<Service>> prepare_service(std::uint16_t port,
                                                         const ServeConfig& config) {
    auto service = std::make_shared<Service>();
    service->port = port;
    auto fd = bind_port(port);
    if (!fd) {
        return util::make_error(fd.error().message +
                                " (another process uses it? Set SSHBOOT_TUNNEL_PORT to a free "
                                "port, the one the platform proxies HTTP to)");
    }
    service->listen_fd = std::move(*fd);
    auto file = sealed_file(encode_serve_config(config));
    if (!file) {
        return file.error();
    }
    service->config_fd = std::move(*file);
    service->drop_privileges = ::geteuid() == 0;
    if (service->drop_privileges) {
        auto user = accounts::lookup_user(k_server_user);
        if (user && user->has_value() && (*user)->uid != 0) {
            service->uid = (*user)->uid;
            service->gid = (*user)->gid;
        }
    }
    return service;
}

util::Expected<pid_t> spawn(const Service& service) {
    const pid_t pid = ::fork();
    if (pid < 0) {
        return util::sys_error("fork for the tunnel server");
    }
    if (pid == 0) {
        exec_server(service);
    }
    log::info("tunnel server (pid {}) serves port {} as uid {}", pid, service.port,
              service.drop_privileges ? service.uid : ::geteuid());
    return pid;
}

int serve_main() {
    if (::geteuid() == 0 || ::getuid() == 0) {
        log::error("tunnel server: refusing to run as root (sshboot starts it as {})",
                   k_server_user);
        return 1;
    }
    auto text = read_config_fd(k_config_fd);
    ::close(k_config_fd);
    if (!text) {
        log::error("tunnel server: {}", text.error().message);
        return 1;
    }
    auto config = decode_serve_config(*text);
    if (!config) {
        log::error("{}", config.error().message);
        return 1;
    }
    log::init(config->verbose);
    return serve(*config, k_listen_fd);
}

}  // namespace sshboot::tunnel
