#include "supervise/supervise.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "supervise/backoff.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace sshboot::supervise {
namespace {

using Clock = std::chrono::steady_clock;

// How long sshd gets between SIGTERM and SIGKILL on shutdown. Short: sshd's
// listener exits at once on SIGTERM, and the whole stop must fit in the 10 s
// Docker waits before killing the container.
constexpr std::chrono::seconds k_sshd_stop_grace{1};

constexpr int k_forwarded_signals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                                       SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const int sig : k_forwarded_signals) {
        sigaddset(&set, sig);
    }
    sigaddset(&set, SIGCHLD);
    return set;
}

util::Status block_handled_signals() {
    const sigset_t set = handled_signals();
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
        return util::sys_error("sigprocmask(SIG_BLOCK)");
    }
    return util::ok();
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

long long millis(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Sends `sig` to `target` (a pid, or -pgid for a process group); a target that
// is already gone is not an error.
void send_signal(pid_t target, int sig, const std::string& who) {
    if (::kill(target, sig) != 0 && errno != ESRCH) {
        log::error("{}", util::sys_error("kill(" + signal_name(sig) + ") " + who).message);
    }
}

class Supervisor {
  public:
    explicit Supervisor(const Config& config) : m_config(config) {}

    int run() {
        start_command();
        adopt_sshd();
        if (m_config.start_tunnel && !m_stopping) {
            m_tunnel_restart_at = Clock::now();
        }
        for (;;) {
            reap_children();
            if (finished()) {
                break;
            }
            act_on_deadlines();
            wait_for_signal();
        }
        return m_exit_code.value_or(0);
    }

  private:
    // ---- the phases of one turn of the loop ----

    // Collects every child that ended: COMMAND, sshd, or an orphan.
    void reap_children() {
        for (;;) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid == 0) {
                return;
            }
            if (pid < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno != ECHILD) {
                    log::error("{}", util::sys_error("waitpid").message);
                }
                return;
            }
            if (pid == m_command) {
                on_command_exit(status);
            } else if (pid == m_sshd) {
                on_sshd_exit(status);
            } else if (pid == m_tunnel) {
                on_tunnel_exit(status);
            } else {
                log::debug("reaped process {} ({})", pid, util::describe_wait_status(status));
            }
        }
    }

    // Done when COMMAND has ended and sshd has been stopped.
    bool finished() const {
        return m_command <= 0 && m_sshd_stopping && m_sshd <= 0 && m_tunnel <= 0;
    }

    // SIGKILL for whoever outstayed its stop grace period; sshd restarts due.
    void act_on_deadlines() {
        const auto now = Clock::now();
        if (m_command_kill_at && now >= *m_command_kill_at) {
            m_command_kill_at.reset();
            if (m_command > 0) {
                log::warn(
                    "COMMAND did not exit within {} s of being asked to stop; sending SIGKILL",
                    stop_timeout().count());
                send_signal(command_target(), SIGKILL, "COMMAND");
            }
        }
        if (m_sshd_kill_at && now >= *m_sshd_kill_at) {
            m_sshd_kill_at.reset();
            if (m_sshd > 0) {
                log::warn("sshd (pid {}) did not exit within {} s of SIGTERM; sending SIGKILL",
                          m_sshd, k_sshd_stop_grace.count());
                send_signal(m_sshd, SIGKILL, "sshd");
            }
        }
        if (m_sshd_restart_at && now >= *m_sshd_restart_at) {
            m_sshd_restart_at.reset();
            restart_sshd();
        }
        if (m_tunnel_kill_at && now >= *m_tunnel_kill_at) {
            m_tunnel_kill_at.reset();
            if (m_tunnel > 0) {
                send_signal(m_tunnel, SIGKILL, "tunnel server");
            }
        }
        if (m_tunnel_restart_at && now >= *m_tunnel_restart_at) {
            m_tunnel_restart_at.reset();
            start_tunnel();
        }
    }

    // Sleeps in the kernel until a signal arrives, or until the next deadline
    // when one is pending. With no deadline there is no timeout at all.
    void wait_for_signal() {
        const sigset_t set = handled_signals();
        siginfo_t info{};
        int sig = -1;
        if (const auto deadline = next_deadline()) {
            const auto left = std::max(Clock::duration::zero(), *deadline - Clock::now());
            const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
            const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(left - secs);
            const timespec timeout{static_cast<time_t>(secs.count()),
                                   static_cast<long>(nanos.count())};
            sig = ::sigtimedwait(&set, &info, &timeout);
        } else {
            sig = ::sigwaitinfo(&set, &info);
        }
        if (sig < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                log::error("{}", util::sys_error("sigtimedwait").message);
            }
            return;
        }
        if (sig != SIGCHLD) {
            on_signal(sig);
        }
    }

    // ---- events ----

    void on_signal(int sig) {
        if (sig == SIGTERM || sig == SIGINT) {
            request_stop(sig);
        } else if (m_command > 0) {
            log::debug("forwarding {} to COMMAND", signal_name(sig));
            send_signal(command_target(), sig, "COMMAND");
        } else if (sig == SIGHUP && m_sshd > 0) {
            log::info("received SIGHUP: sshd (pid {}) re-reads its configuration", m_sshd);
            send_signal(m_sshd, SIGHUP, "sshd");
        } else {
            log::debug("received {} with no COMMAND running; ignored", signal_name(sig));
        }
    }

    void request_stop(int sig) {
        if (m_command > 0) {
            send_signal(command_target(), sig, "COMMAND");
            if (!m_stopping) {
                m_stopping = true;
                m_command_kill_at = Clock::now() + stop_timeout();
                log::info("received {}: forwarded to COMMAND (pid {}), SIGKILL in {} s",
                          signal_name(sig), m_command, stop_timeout().count());
            }
            return;
        }
        if (!m_stopping) {
            log::info("received {}: stopping", signal_name(sig));
        }
        m_stopping = true;
        stop_sshd();
    }

    void on_command_exit(int status) {
        const pid_t pid = m_command;
        m_command = -1;
        m_command_kill_at.reset();
        m_exit_code = exit_code_for(status);
        const std::string how = util::describe_wait_status(status);
        if (m_stopping || !m_config.keep_alive) {
            if (*m_exit_code == 0) {
                log::info("COMMAND (pid {}) {}", pid, how);
            } else {
                log::warn("COMMAND (pid {}) {}", pid, how);
            }
            m_stopping = true;
            stop_sshd();
            return;
        }
        log::warn("COMMAND (pid {}) {}; SSHBOOT_KEEP_ALIVE=1: SSH stays up", pid, how);
    }

    void on_sshd_exit(int status) {
        const pid_t pid = m_sshd;
        m_sshd = -1;
        if (m_sshd_stopping) {
            m_sshd_kill_at.reset();
            log::debug("sshd (pid {}) stopped: {}", pid, util::describe_wait_status(status));
            return;
        }
        if (!m_config.start_sshd) {
            log::error("sshd (pid {}) {}; no way to restart it", pid,
                       util::describe_wait_status(status));
            return;
        }
        const auto uptime = Clock::now() - m_sshd_started;
        m_backoff.record_uptime(std::chrono::duration_cast<Backoff::Duration>(uptime));
        const auto delay = m_backoff.next();
        log::warn("sshd (pid {}) {} after {} ms; restarting it in {} ms", pid,
                  util::describe_wait_status(status), millis(uptime), delay.count());
        m_sshd_restart_at = Clock::now() + delay;
    }

    void on_tunnel_exit(int status) {
        const pid_t pid = m_tunnel;
        m_tunnel = -1;
        if (m_sshd_stopping) {
            m_tunnel_kill_at.reset();
            log::debug("tunnel server (pid {}) stopped: {}", pid,
                       util::describe_wait_status(status));
            return;
        }
        const auto uptime = Clock::now() - m_tunnel_started;
        m_tunnel_backoff.record_uptime(std::chrono::duration_cast<Backoff::Duration>(uptime));
        const auto delay = m_tunnel_backoff.next();
        log::warn("tunnel server (pid {}) {} after {} ms; restarting it in {} ms", pid,
                  util::describe_wait_status(status), millis(uptime), delay.count());
        m_tunnel_restart_at = Clock::now() + delay;
    }

    // ---- actions ----

    void start_tunnel() {
        auto pid = m_config.start_tunnel();
        if (!pid) {
            const auto delay = m_tunnel_backoff.next();
            log::error("cannot start the tunnel server: {}; retrying in {} ms", pid.error().message,
                       delay.count());
            m_tunnel_restart_at = Clock::now() + delay;
            return;
        }
        m_tunnel = *pid;
        m_tunnel_started = Clock::now();
        log::debug("tunnel server started (pid {})", m_tunnel);
    }

    void start_command() {
        if (m_config.command.empty()) {
            return;
        }
        util::SpawnOptions options;
        options.env = m_config.command_env;
        options.new_process_group = m_config.signal_process_group;
        auto pid = util::spawn(m_config.command, options);
        if (!pid) {
            log::error("cannot start COMMAND: {}", pid.error().message);
            m_exit_code = 1;
            m_stopping = true;
            return;
        }
        m_command = *pid;
        log::info("started COMMAND {} (pid {})", m_config.command.front(), m_command);
    }

    // Takes over the sshd started by the caller; starts one when there is none.
    void adopt_sshd() {
        m_sshd = m_config.sshd_pid;
        m_sshd_started = Clock::now();
        if (m_stopping) {
            stop_sshd();
        } else if (m_sshd <= 0 && m_config.start_sshd) {
            m_sshd_restart_at = Clock::now();
        }
    }

    void restart_sshd() {
        auto pid = m_config.start_sshd();
        if (!pid) {
            const auto delay = m_backoff.next();
            log::error("cannot start sshd: {}; retrying in {} ms", pid.error().message,
                       delay.count());
            m_sshd_restart_at = Clock::now() + delay;
            return;
        }
        m_sshd = *pid;
        m_sshd_started = Clock::now();
        log::info("sshd started (pid {})", m_sshd);
    }

    void stop_sshd() {
        if (m_sshd_stopping) {
            return;
        }
        m_sshd_stopping = true;
        m_sshd_restart_at.reset();
        m_tunnel_restart_at.reset();
        if (m_tunnel > 0) {
            send_signal(m_tunnel, SIGTERM, "tunnel server");
            m_tunnel_kill_at = Clock::now() + k_sshd_stop_grace;
        }
        if (m_sshd > 0) {
            log::debug("stopping sshd (pid {})", m_sshd);
            send_signal(m_sshd, SIGTERM, "sshd");
            m_sshd_kill_at = Clock::now() + k_sshd_stop_grace;
        }
    }

    // ---- helpers ----

    pid_t command_target() const { return m_config.signal_process_group ? -m_command : m_command; }

    std::chrono::seconds stop_timeout() const {
        return std::chrono::seconds(std::max(0, m_config.stop_timeout_seconds));
    }

    std::optional<Clock::time_point> next_deadline() const {
        std::optional<Clock::time_point> next;
        for (const auto& deadline : {m_command_kill_at, m_sshd_kill_at, m_sshd_restart_at,
                                     m_tunnel_restart_at, m_tunnel_kill_at}) {
            if (deadline && (!next || *deadline < *next)) {
                next = deadline;
            }
        }
        return next;
    }

    const Config& m_config;
    Backoff m_backoff;

    pid_t m_command = -1;            // COMMAND while it runs
    std::optional<int> m_exit_code;  // how COMMAND ended (or 1 when it could not start)
    bool m_stopping = false;         // the container is shutting down
    std::optional<Clock::time_point> m_command_kill_at;

    pid_t m_sshd = -1;             // sshd while it runs
    bool m_sshd_stopping = false;  // sshd was asked to stop and must not come back
    Clock::time_point m_sshd_started{};
    std::optional<Clock::time_point> m_sshd_restart_at;
    std::optional<Clock::time_point> m_sshd_kill_at;

    pid_t m_tunnel = -1;  // the tunnel server while it runs
    Backoff m_tunnel_backoff;
    Clock::time_point m_tunnel_started{};
    std::optional<Clock::time_point> m_tunnel_restart_at;
    std::optional<Clock::time_point> m_tunnel_kill_at;
};

// A stop request seen during start-up.
std::optional<int> g_stop_signal;

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

std::optional<int> stop_requested() {
    if (g_stop_signal) {
        return g_stop_signal;
    }
    const sigset_t set = stop_signals();
    const timespec zero{0, 0};
    siginfo_t info{};
    const int sig = ::sigtimedwait(&set, &info, &zero);
    if (sig > 0) {
        g_stop_signal = sig;
    }
    return g_stop_signal;
}

ChildWait wait_child_or_stop(pid_t pid) {
    sigset_t set = stop_signals();
    sigaddset(&set, SIGCHLD);
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return {status, std::nullopt};
        }
        if (r < 0 && errno != EINTR) {
            log::error("{}", util::sys_error("waitpid " + std::to_string(pid)).message);
            return {std::nullopt, std::nullopt};
        }
        if (auto sig = stop_requested()) {
            send_signal(pid, *sig, "process " + std::to_string(pid));
            return {std::nullopt, sig};
        }
        // SIGCHLD wakes this early; a stop signal is taken on the next turn.
        const timespec tick{0, 100'000'000};
        siginfo_t info{};
        const int sig = ::sigtimedwait(&set, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            g_stop_signal = sig;
        }
    }
}

util::Status prepare() {
    if (auto blocked = block_handled_signals(); !blocked) {
        return blocked;
    }
    if (::getpid() != 1) {
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
            log::warn("{}", util::sys_error("prctl(PR_SET_CHILD_SUBREAPER)").message);
        } else {
            log::debug("not PID 1: registered as a child subreaper so orphans are reaped here");
        }
    }
    return util::ok();
}

int supervise(const Config& config) {
    // prepare() has normally done this already; blocking twice is harmless and
    // sigwaitinfo() needs the signals blocked.
    if (auto blocked = block_handled_signals(); !blocked) {
        log::error("{}", blocked.error().message);
    }
    return Supervisor(config).run();
}

int exit_code_for(int wait_status) {
    if (WIFEXITED(wait_status)) {
        return WEXITSTATUS(wait_status);
    }
    if (WIFSIGNALED(wait_status)) {
        return 128 + WTERMSIG(wait_status);
    }
    return 1;
}

}  // namespace sshboot::supervise
