// Times a server's start from spawn to its SSH banner on 127.0.0.1:PORT.
//
//   bench_ready --root DIR --port PORT [OPTIONS] -- PROGRAM [ARG...]
//
// Records a steady_clock start, forks, and in the child chroot()s into DIR,
// chdir("/")s and execve()s PROGRAM (an absolute path inside DIR) with exactly
// the environment given by --env (plus PATH when --env gives none), in a
// process group of its own. The parent polls connect() to 127.0.0.1:PORT
// (non-blocking, every --interval-us) and reads until "SSH-2.0-" arrives.
// Then it SIGTERMs the child, SIGKILLs it and its process group after a
// bound, and, being a child subreaper, kills and reaps every descendant left
// (sshd's per-connection processes live in sessions of their own).
//
// Options:
//   --env NAME=VALUE       a variable of the child's environment (repeatable)
//   --timeout-ms MS        give up when no banner came by then (default 20000)
//   --interval-us US       pause between connection attempts (default 500)
//   --log FILE             append the child's stdout and stderr to FILE
//   --stdout-marker TEXT   also wait until the child's stdout holds TEXT and
//                          report when it did (marker_ms)
//   --idle-ms MS           after readiness, report the child's VmHWM and VmRSS
//                          and its context switches over MS idle milliseconds
//
// Prints one line of NAME=VALUE fields on stdout, e.g.
//   connect_ms=39.412 banner_ms=40.118 marker_ms=41.902 status=0
// with, under --idle-ms, vmhwm_kb, vmrss_kb, rssanon_kb, rssfile_kb,
// vctx_before, vctx_after, nvctx_before, nvctx_after, idle_ms.
//
// Exit code: 0 on success; 1 when the child did not become ready (it exited,
// timed out, or the port was busy) or a SIGINT, SIGTERM or SIGHUP cut the run
// short (what was started is stopped all the same); 2 for a usage error.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/fd.hpp"

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int) {
    g_interrupted = 1;
}

constexpr std::string_view k_banner = "SSH-2.0-";
constexpr const char* k_default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// How long the child gets between SIGTERM and SIGKILL, and how long the
// descendants left after it may take to die.
constexpr auto k_stop_grace = std::chrono::seconds(5);
constexpr auto k_reap_bound = std::chrono::seconds(5);

using Fd = sshboot::util::UniqueFd;

struct Options {
    std::string root;
    std::uint16_t port = 0;
    std::vector<std::string> env;
    std::vector<std::string> argv;
    std::chrono::milliseconds timeout{20000};
    std::chrono::microseconds interval{500};
    std::string log_path;
    std::string marker;
    std::optional<std::chrono::milliseconds> idle;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "bench_ready: %s\n"
                 "usage: bench_ready --root DIR --port PORT [--env NAME=VALUE]... "
                 "[--timeout-ms MS] [--interval-us US] [--log FILE] [--stdout-marker TEXT] "
                 "[--idle-ms MS] -- PROGRAM [ARG...]\n",
                 why.c_str());
    std::exit(2);
}

long parse_number(const std::string& flag, const char* text, long min, long max) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        usage(flag + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) +
              ", got '" + text + "'");
    }
    return v;
}

Options parse_options(int argc, char** argv) {
    Options o;
    int i = 1;
    auto value = [&](const std::string& flag) -> const char* {
        if (i + 1 >= argc) {
            usage(flag + " needs a value");
        }
        return argv[++i];
    };
    for (; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "--root") {
            o.root = value(a);
        } else if (a == "--port") {
            o.port = static_cast<std::uint16_t>(parse_number(a, value(a), 1, 65535));
        } else if (a == "--env") {
            const std::string e = value(a);
            if (e.find('=') == std::string::npos || e.front() == '=') {
                usage("--env wants NAME=VALUE, got '" + e + "'");
            }
            o.env.push_back(e);
        } else if (a == "--timeout-ms") {
            o.timeout = std::chrono::milliseconds(parse_number(a, value(a), 1, 3600000));
        } else if (a == "--interval-us") {
            o.interval = std::chrono::microseconds(parse_number(a, value(a), 10, 1000000));
        } else if (a == "--log") {
            o.log_path = value(a);
        } else if (a == "--stdout-marker") {
            o.marker = value(a);
            if (o.marker.empty()) {
                usage("--stdout-marker wants a non-empty text");
            }
        } else if (a == "--idle-ms") {
            o.idle = std::chrono::milliseconds(parse_number(a, value(a), 0, 3600000));
        } else {
            usage("unknown option '" + a + "'");
        }
    }
    for (; i < argc; ++i) {
        o.argv.emplace_back(argv[i]);
    }
    if (o.root.empty() || o.port == 0 || o.argv.empty()) {
        usage("--root, --port and a PROGRAM after -- are required");
    }
    if (o.argv.front().front() != '/') {
        usage("PROGRAM must be an absolute path inside the root");
    }
    bool has_path = false;
    for (const auto& e : o.env) {
        has_path = has_path || e.starts_with("PATH=");
    }
    if (!has_path) {
        o.env.push_back(std::string("PATH=") + k_default_path);
    }
    return o;
}

double ms_since(Clock::time_point start, Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - start).count();
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// A non-blocking connection attempt; the socket, or an invalid Fd when the
// port refused at once. `connected` tells whether it completed already.
Fd start_connect(std::uint16_t port, bool& connected) {
    connected = false;
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
        std::perror("bench_ready: socket");
        std::exit(1);
    }
    const auto addr = loopback(port);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        connected = true;
        return s;
    }
    if (errno == EINPROGRESS) {
        return s;
    }
    return Fd();
}

// True when something accepts connections on the port right now.
bool port_busy(std::uint16_t port) {
    bool connected = false;
    Fd s = start_connect(port, connected);
    if (!s.valid() || connected) {
        return s.valid();
    }
    pollfd p{s.get(), POLLOUT, 0};
    if (::poll(&p, 1, 200) <= 0) {
        return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    return ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

std::vector<char*> cstrings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

// In the child: stdio, process group, signals, chroot, exec. Only
// async-signal-safe calls (the vectors were built before fork).
[[noreturn]] void exec_child(const Options& o, char* const* argv, char* const* envp, int out_fd,
                             int err_fd) {
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        ::dup2(devnull, STDIN_FILENO);
    }
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const char* step = "chroot";
    if (::chroot(o.root.c_str()) == 0) {
        step = "chdir /";
        if (::chdir("/") == 0) {
            step = "execve";
            ::execve(argv[0], argv, envp);
        }
    }
    const char* msg = std::strerror(errno);
    const char* const parts[] = {"bench_ready: ", step, " ", argv[0], ": ", msg, "\n"};
    for (const char* part : parts) {
        [[maybe_unused]] auto r = ::write(STDERR_FILENO, part, std::strlen(part));
    }
    ::_exit(127);
}

// The first field of a line "NAME:  value kB" in /proc/PID/status, or -1.
long status_field(pid_t pid, std::string_view name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
            line[name.size()] == ':') {
            return std::strtol(line.c_str() + name.size() + 1, nullptr, 10);
        }
    }
    return -1;
}

// Pids whose parent is this process (children, and orphans reparented here).
std::vector<pid_t> my_children() {
    std::vector<pid_t> out;
    const std::string me = std::to_string(::getpid());
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) {
        return out;
    }
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        std::ifstream in(std::string("/proc/") + e->d_name + "/status");
        std::string line;
        while (std::getline(in, line)) {
            if (line.starts_with("PPid:")) {
                std::string_view v(line);
                v.remove_prefix(5);
                while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
                    v.remove_prefix(1);
                }
                if (v == me) {
                    out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
                }
                break;
            }
        }
    }
    ::closedir(dir);
    return out;
}

// Kills and reaps every descendant left; true when none remains in time.
bool kill_descendants() {
    const auto deadline = Clock::now() + k_reap_bound;
    for (;;) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        const auto left = my_children();
        if (left.empty()) {
            return true;
        }
        if (Clock::now() >= deadline) {
            std::fprintf(stderr, "bench_ready: %zu process(es) still alive after %lld s\n",
                         left.size(), static_cast<long long>(k_reap_bound.count()));
            return false;
        }
        for (const pid_t p : left) {
            ::kill(p, SIGKILL);
        }
        // Wait for one of them to become reapable, or a short while (a
        // grandchild may be reparented here meanwhile).
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, left.front(), 0));
        if (pidfd >= 0) {
            pollfd p{pidfd, POLLIN, 0};
            ::poll(&p, 1, 100);
            ::close(pidfd);
        }
    }
}

class Run {
  public:
    explicit Run(Options o) : m_o(std::move(o)) {}

    int main() {
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
            std::perror("bench_ready: prctl(PR_SET_CHILD_SUBREAPER)");
            return 1;
        }
        if (port_busy(m_o.port)) {
            std::fprintf(stderr, "bench_ready: something already accepts on 127.0.0.1:%u\n",
                         static_cast<unsigned>(m_o.port));
            return 1;
        }
        if (!spawn()) {
            return 1;
        }
        const bool ready = wait_ready();
        std::string idle;
        if (ready && m_o.idle) {
            idle = measure_idle(*m_o.idle);
        }
        const int status = stop();
        const bool clean = kill_descendants();
        if (!ready || g_interrupted) {
            return 1;
        }
        std::printf("connect_ms=%.3f banner_ms=%.3f", ms_since(m_start, m_connected),
                    ms_since(m_start, m_banner));
        if (!m_o.marker.empty()) {
            std::printf(" marker_ms=%.3f", ms_since(m_start, m_marker));
        }
        std::printf("%s status=%d\n", idle.c_str(), status);
        return clean ? 0 : 1;
    }

  private:
    bool spawn() {
        if (!m_o.log_path.empty()) {
            m_log =
                Fd(::open(m_o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        } else {
            m_log = Fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        }
        if (!m_log.valid()) {
            std::perror(("bench_ready: open " + m_o.log_path).c_str());
            return false;
        }
        int out_fd = m_log.get();
        Fd out_write;
        if (!m_o.marker.empty()) {
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) != 0) {
                std::perror("bench_ready: pipe2");
                return false;
            }
            m_out = Fd(fds[0]);
            out_write = Fd(fds[1]);
            out_fd = out_write.get();
        }
        auto argv = cstrings(m_o.argv);
        auto envp = cstrings(m_o.env);
        m_start = Clock::now();
        m_pid = ::fork();
        if (m_pid < 0) {
            std::perror("bench_ready: fork");
            return false;
        }
        if (m_pid == 0) {
            exec_child(m_o, argv.data(), envp.data(), out_fd, m_log.get());
        }
        ::setpgid(m_pid, m_pid);  // also done in the child; whichever comes first
        m_pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0)));
        if (!m_pidfd.valid()) {
            std::perror("bench_ready: pidfd_open");
            return false;
        }
        return true;
    }

    // Copies what the child wrote on stdout to the log; notes the marker.
    void drain_stdout() {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::read(m_out.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                if (n == 0) {
                    m_out.reset();  // EOF
                }
                return;
            }
            [[maybe_unused]] auto w = ::write(m_log.get(), buf, static_cast<std::size_t>(n));
            if (!m_marker_seen) {
                m_stdout.append(buf, static_cast<std::size_t>(n));
                if (m_stdout.find(m_o.marker) != std::string::npos) {
                    m_marker = Clock::now();
                    m_marker_seen = true;
                    m_stdout.clear();
                }
            }
            if (n < static_cast<ssize_t>(sizeof buf)) {
                return;
            }
        }
    }

    // The socket turned writable: connected, or refused after all.
    void on_connect_done() {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(m_sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            m_sock.reset();
            m_next_attempt = Clock::now() + m_o.interval;
            return;
        }
        m_connected = Clock::now();
        m_sock_connected = true;
    }

    void on_banner_data() {
        char buf[512];
        const ssize_t n = ::read(m_sock.get(), buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            return;
        }
        if (n <= 0) {
            // Closed before a banner (a listener not ready to serve yet): again.
            m_sock.reset();
            m_sock_connected = false;
            m_reply.clear();
            m_next_attempt = Clock::now() + m_o.interval;
            return;
        }
        m_reply.append(buf, static_cast<std::size_t>(n));
        if (m_reply.find(k_banner) != std::string::npos) {
            m_banner = Clock::now();
            m_banner_seen = true;
            m_sock.reset();
        }
    }

    bool wait_ready() {
        const auto deadline = m_start + m_o.timeout;
        m_next_attempt = m_start;
        const bool want_marker = !m_o.marker.empty();
        while (!m_banner_seen || (want_marker && !m_marker_seen)) {
            if (g_interrupted) {
                std::fprintf(stderr, "bench_ready: interrupted\n");
                return false;
            }
            const auto now = Clock::now();
            if (now >= deadline) {
                std::fprintf(stderr, "bench_ready: %s within %lld ms\n",
                             m_banner_seen ? "no stdout marker" : "no SSH banner",
                             static_cast<long long>(m_o.timeout.count()));
                return false;
            }
            if (!m_banner_seen && !m_sock.valid() && now >= m_next_attempt) {
                bool connected = false;
                m_sock = start_connect(m_o.port, connected);
                if (!m_sock.valid()) {
                    m_next_attempt = now + m_o.interval;
                } else if (connected) {
                    m_connected = Clock::now();
                    m_sock_connected = true;
                }
            }
            std::vector<pollfd> fds;
            fds.push_back({m_pidfd.get(), POLLIN, 0});
            if (m_out.valid()) {
                fds.push_back({m_out.get(), POLLIN, 0});
            }
            if (m_sock.valid()) {
                fds.push_back(
                    {m_sock.get(), static_cast<short>(m_sock_connected ? POLLIN : POLLOUT), 0});
            }
            // Sleep until the next attempt; poll() has millisecond resolution,
            // so a sub-millisecond pause is a ppoll() timeout.
            auto until = deadline;
            if (!m_banner_seen && !m_sock.valid() && m_next_attempt < until) {
                until = m_next_attempt;
            }
            const auto left = std::max(Clock::duration::zero(), until - Clock::now());
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            const timespec ts{static_cast<time_t>(ns / 1000000000),
                              static_cast<long>(ns % 1000000000)};
            const int r = ::ppoll(fds.data(), fds.size(), &ts, nullptr);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                std::perror("bench_ready: ppoll");
                return false;
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (fds[i].revents == 0) {
                    continue;
                }
                if (fds[i].fd == m_out.get()) {
                    drain_stdout();
                } else if (!m_sock_connected) {
                    on_connect_done();
                } else {
                    on_banner_data();
                }
            }
            if (fds[0].revents != 0) {
                if (m_out.valid()) {
                    drain_stdout();
                }
                if (!(m_banner_seen && (!want_marker || m_marker_seen))) {
                    std::fprintf(stderr, "bench_ready: %s exited before it was ready%s%s\n",
                                 m_o.argv.front().c_str(), m_o.log_path.empty() ? "" : "; see ",
                                 m_o.log_path.c_str());
                    return false;
                }
            }
        }
        return true;
    }

    // The child's memory and context switches while it sits idle for `idle`
    // (a bounded wait on a deadline that ends early only if the child exits).
    std::string measure_idle(std::chrono::milliseconds idle) {
        const long vctx0 = status_field(m_pid, "voluntary_ctxt_switches");
        const long nvctx0 = status_field(m_pid, "nonvoluntary_ctxt_switches");
        const auto t0 = Clock::now();
        const auto deadline = t0 + idle;
        bool exited = false;
        while (!exited && !g_interrupted && Clock::now() < deadline) {
            pollfd fds[2] = {{m_pidfd.get(), POLLIN, 0}, {m_out.get(), POLLIN, 0}};
            const int r = ::poll(fds, m_out.valid() ? 2 : 1, remaining_ms(deadline));
            if (r > 0 && fds[0].revents != 0) {
                exited = true;
            }
            if (r > 0 && m_out.valid() && fds[1].revents != 0) {
                drain_stdout();
            }
        }
        const double waited = ms_since(t0, Clock::now());
        const long vctx1 = status_field(m_pid, "voluntary_ctxt_switches");
        const long nvctx1 = status_field(m_pid, "nonvoluntary_ctxt_switches");
        const long hwm = status_field(m_pid, "VmHWM");
        const long rss = status_field(m_pid, "VmRSS");
        const long anon = status_field(m_pid, "RssAnon");
        const long file = status_field(m_pid, "RssFile");
        if (exited) {
            std::fprintf(stderr, "bench_ready: the child exited during the idle wait\n");
        }
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      " vmhwm_kb=%ld vmrss_kb=%ld rssanon_kb=%ld rssfile_kb=%ld vctx_before=%ld "
                      "vctx_after=%ld nvctx_before=%ld nvctx_after=%ld idle_ms=%.0f",
                      hwm, rss, anon, file, vctx0, vctx1, nvctx0, nvctx1, waited);
        return buf;
    }

    // SIGTERM, a bounded wait, SIGKILL to the process group. The wait status.
    int stop() {
        ::kill(m_pid, SIGTERM);
        pollfd p{m_pidfd.get(), POLLIN, 0};
        const auto deadline = Clock::now() + k_stop_grace;
        while (::poll(&p, 1, remaining_ms(deadline)) < 0 && errno == EINTR) {
        }
        if (p.revents == 0) {
            std::fprintf(stderr, "bench_ready: %s ignored SIGTERM for %lld s; SIGKILL\n",
                         m_o.argv.front().c_str(), static_cast<long long>(k_stop_grace.count()));
        }
        ::kill(-m_pid, SIGKILL);  // the group: leftovers, or the child itself
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (m_out.valid()) {
            drain_stdout();
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    Options m_o;
    Fd m_log;
    Fd m_out;  // the child's stdout, under --stdout-marker
    Fd m_pidfd;
    Fd m_sock;
    pid_t m_pid = -1;
    bool m_sock_connected = false;
    bool m_banner_seen = false;
    bool m_marker_seen = false;
    std::string m_reply;
    std::string m_stdout;
    Clock::time_point m_start{};
    Clock::time_point m_next_attempt{};
    Clock::time_point m_connected{};
    Clock::time_point m_banner{};
    Clock::time_point m_marker{};
};

}  // namespace

int main(int argc, char** argv) {
    // A reader that went away must not kill us before we clean up; a signal
    // to stop ends the run early but still stops what it started.
    ::signal(SIGPIPE, SIG_IGN);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        ::sigaction(sig, &sa, nullptr);
    }
    return Run(parse_options(argc, argv)).main();
}
