#include "cluster/wait.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>

#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"

extern char** environ;

namespace sshboot::cluster {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(std::string_view text, std::string_view what) {
    return text.find(what) != std::string_view::npos;
}

// The last non-empty line of ssh's output, for reasons not recognised.
std::string last_line(std::string_view output) {
    std::string_view text = output;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    const auto nl = text.find_last_of('\n');
    std::string_view line = nl == std::string_view::npos ? text : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return util::quoted_for_log(line);
}

std::string option_path(const std::string& path) {
    return path.find_first_of(" \t") == std::string::npos ? path : "\"" + path + "\"";
}

struct Running {
    pid_t pid = -1;
    util::UniqueFd out;
};

}  // namespace

namespace {

// Starts argv with stdin from /dev/null and stdout and stderr into a pipe;
// the pipe's read end is returned in `out`. Empty on failure, with why.
std::string spawn_captured(const std::vector<std::string>& argv, Running& out) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return "cannot create a pipe";
    }
    util::UniqueFd rd(fds[0]);
    util::UniqueFd wr(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
        }
        ::dup2(wr.get(), STDOUT_FILENO);
        ::dup2(wr.get(), STDERR_FILENO);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    if (pid < 0) {
        return "cannot fork";
    }
    out.pid = pid;
    out.out = std::move(rd);
    return {};
}

// Reads what is there from a child's pipe into `output` (kept to about
// 64 KiB); false once the pipe is at its end.
bool drain(Running& p, std::string& output) {
    char buf[4096];
    const ssize_t got = ::read(p.out.get(), buf, sizeof buf);
    if (got > 0) {
        if (output.size() < 65536) {
            output.append(buf, static_cast<std::size_t>(got));
        }
        return true;
    }
    if (got < 0 && errno == EINTR) {
        return true;
    }
    p.out.reset();
    return false;
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

}  // namespace

std::vector<CommandResult> run_commands(const std::vector<std::vector<std::string>>& argvs,
                                        std::chrono::steady_clock::time_point hard_deadline) {
    std::vector<CommandResult> results(argvs.size());
    std::vector<Running> probes(argvs.size());
    for (std::size_t i = 0; i < probes.size(); ++i) {
        results[i].output = spawn_captured(argvs[i], probes[i]);
    }
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < probes.size(); ++i) {
            if (probes[i].out.get() >= 0) {
                fds.push_back(pollfd{probes[i].out.get(), POLLIN, 0});
                which.push_back(i);
            }
        }
        if (fds.empty()) {
            break;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(hard_deadline - Clock::now())
                .count();
        if (left <= 0) {
            for (std::size_t i : which) {
                ::kill(probes[i].pid, SIGKILL);
                probes[i].out.reset();
                results[i].output += "\nsshboot: no answer in time\n";
            }
            break;
        }
        const int n =
            ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 1000)));
        if (n < 0 && errno != EINTR) {
            break;
        }
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents == 0) {
                continue;
            }
            drain(probes[which[k]], results[which[k]].output);
        }
    }
    for (std::size_t i = 0; i < probes.size(); ++i) {
        if (probes[i].pid <= 0) {
            continue;
        }
        results[i].exit_code = reap(probes[i].pid);
    }
    return results;
}

namespace {

// A node that refused or did not resolve is tried again after this, then
// twice as long each time up to the last: a node seen listening is found
// within about a second however long the wait has run.
constexpr std::chrono::milliseconds k_first_retry{100};
constexpr std::chrono::milliseconds k_last_retry{1000};
// A node that did not answer in time or closed the connection before the
// login may be busy (many logins at once, sshd's MaxStartups): tried again
// after this, doubling up to the last, each pause shortened at random by up
// to half so that many waits do not come back at the same moment.
constexpr std::chrono::milliseconds k_first_busy_retry{1000};
constexpr std::chrono::milliseconds k_last_busy_retry{8000};
// At most this many probes at once (as pdsh's default fanout). A busy answer
// halves the number allowed (at most once a second, down to one), each
// login that works allows one more: waits on many nodes sharing few CPUs
// slow down together instead of timing each other out.
constexpr std::size_t k_max_parallel = 32;
constexpr std::chrono::milliseconds k_shrink_every{1000};
// How often a primary without a node list reads the registered workers.
constexpr std::chrono::milliseconds k_reread_every{200};

std::string endpoint(const Node& n) {
    const bool v6 = n.host.find(':') != std::string::npos;
    return (v6 ? "[" + n.host + "]" : n.host) + ":" + std::to_string(n.port);
}

}  // namespace

std::string wait_usage() {
    return "Usage: sshboot cluster wait [--timeout S]\n"
           "\n"
           "Waits until every node of this cluster accepts an SSH login with the cluster\n"
           "key and a valid host certificate (what pdsh, mpirun and deepspeed need), then\n"
           "exits 0. After S seconds (default 300; 0 tries once) it names each node not\n"
           "ready and why (DNS, connection refused or timed out, host certificate,\n"
           "authentication) and exits 1. Reads what sshboot wrote at start in cluster\n"
           "mode (--state FILE, default /run/sshboot/cluster), so it works from any\n"
           "shell in the container.\n";
}

util::Expected<WaitOptions> parse_wait_args(const std::vector<std::string>& args) {
    WaitOptions o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        std::string value;
        bool has_value = false;
        if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto take = [&]() -> util::Expected<std::string> {
            if (has_value) {
                return value;
            }
            if (i + 1 >= args.size()) {
                return util::make_error("cluster wait: " + arg + " needs a value");
            }
            return args[++i];
        };
        if (arg == "-h" || arg == "--help") {
            o.help = true;
        } else if (arg == "--timeout") {
            auto v = take();
            if (!v) {
                return v.error();
            }
            int seconds = -1;
            const char* end = v->data() + v->size();
            auto [ptr, ec] = std::from_chars(v->data(), end, seconds);
            if (v->empty() || ec != std::errc{} || ptr != end || seconds < 0 || seconds > 86400) {
                return util::make_error("cluster wait: --timeout " + util::quoted_for_log(*v) +
                                        ": give whole seconds, 0 to 86400");
            }
            o.timeout_seconds = seconds;
        } else if (arg == "--state") {
            auto v = take();
            if (!v) {
                return v.error();
            }
            if (v->empty()) {
                return util::make_error("cluster wait: --state needs a file");
            }
            o.state_file = *v;
        } else {
            return util::make_error("cluster wait: unknown argument " + util::quoted_for_log(arg) +
                                    "; see sshboot cluster wait --help");
        }
    }
    return o;
}

ProbeVerdict classify_probe(int exit_code, std::string_view out) {
    if (exit_code == 0) {
        return {true, {}};
    }
    if (contains(out, "Could not resolve hostname") || contains(out, "Name or service not known") ||
        contains(out, "Temporary failure in name resolution") ||
        contains(out, "No address associated with hostname")) {
        return {false,
                "DNS: the name does not resolve (yet); on Kubernetes the headless Service "
                "lists a pod only once it is running",
                true};
    }
    if (contains(out, "Connection refused")) {
        return {false, "connection refused: no sshd listening on that port (yet)", true};
    }
    if (contains(out, "timed out") || contains(out, "No route to host") ||
        contains(out, "Network is unreachable") || contains(out, "no answer in time")) {
        return {false, "no answer: the connection timed out (node down, or a firewall drops it)"};
    }
    if (contains(out, "Host key verification failed") || contains(out, "Certificate invalid") ||
        contains(out, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
        contains(out, "host key is known") || contains(out, "No matching host key")) {
        return {false,
                "host certificate not accepted: the node's host key is not certified by this "
                "cluster's CA for that name (is it started with the same cluster secret?)"};
    }
    if (contains(out, "Permission denied")) {
        if (contains(out, "Load key") || contains(out, "no such identity")) {
            return {false,
                    "cannot read the cluster key: run cluster wait as root or as the "
                    "SSH_USER"};
        }
        return {false,
                "authentication refused: the node does not accept the cluster key (another "
                "cluster secret, or SSH_USER differs)"};
    }
    if (contains(out, "no such identity") || contains(out, "Load key")) {
        return {false, "cannot read the cluster key: run cluster wait as root or as the SSH_USER"};
    }
    if (contains(out, "Connection closed") || contains(out, "Connection reset") ||
        contains(out, "kex_exchange_identification")) {
        return {false, "sshd closed the connection before login (still starting, or refusing)"};
    }
    if (exit_code == 127 || exit_code == 126) {
        return {false, "cannot run ssh: " + last_line(out)};
    }
    return {false, "ssh exited with code " + std::to_string(exit_code) + ": " + last_line(out)};
}

std::vector<std::string> probe_command(const std::string& ssh, const ClusterState& state,
                                       const Node& node, int connect_timeout_seconds) {
    std::vector<std::string> argv = {ssh,
                                     "-F",
                                     "none",
                                     "-o",
                                     "BatchMode=yes",
                                     "-o",
                                     "StrictHostKeyChecking=yes",
                                     "-o",
                                     "UserKnownHostsFile=" + option_path(state.known_hosts),
                                     "-o",
                                     "HostKeyAlias=" + node.alias(),
                                     "-o",
                                     "IdentitiesOnly=yes",
                                     "-o",
                                     "ConnectionAttempts=1",
                                     "-o",
                                     "ConnectTimeout=" + std::to_string(connect_timeout_seconds),
                                     "-o",
                                     "LogLevel=ERROR",
                                     "-i",
                                     state.identity_file,
                                     "-p",
                                     std::to_string(node.port),
                                     "-l",
                                     state.user,
                                     "--",
                                     node.host,
                                     "true"};
    return argv;
}

int wait_command(const std::vector<std::string>& args) {
    auto options = parse_wait_args(args);
    if (!options) {
        std::fprintf(stderr, "sshboot: error: %s\n", options.error().message.c_str());
        return 2;
    }
    if (options->help) {
        std::fputs(wait_usage().c_str(), stdout);
        return 0;
    }
    auto text = util::read_file(options->state_file, 1 << 20);
    if (!text) {
        std::fprintf(stderr,
                     "sshboot: error: cluster wait: cannot read %s (%s). It is written when "
                     "sshboot starts in cluster mode (SSHBOOT_CLUSTER_SECRET set).\n",
                     options->state_file.c_str(), text.error().message.c_str());
        return 2;
    }
    auto state = parse_state(*text);
    if (!state) {
        std::fprintf(stderr, "sshboot: error: cluster wait: %s: %s\n", options->state_file.c_str(),
                     state.error().message.c_str());
        return 2;
    }
    const char* path_env = std::getenv("PATH");
    auto ssh = util::find_executable("ssh", path_env != nullptr && *path_env != '\0'
                                                ? path_env
                                                : "/usr/bin:/bin:/usr/local/bin");
    if (!ssh) {
        std::fprintf(stderr,
                     "sshboot: error: cluster wait: no ssh client on PATH; install "
                     "openssh-client\n");
        return 1;
    }

    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(options->timeout_seconds);
    // The nodes known so far (a deque: pointers stay valid as it grows). On
    // a primary without a node list (RunPod), workers appear in the state as
    // they register, so it is read again until all have.
    std::deque<Node> known(state->nodes.begin(), state->nodes.end());
    const auto expected = static_cast<std::size_t>(state->node_count());
    // One entry per node not ready yet. Each is probed on its own schedule:
    // tried again soon after its own probe fails, so a node that starts
    // listening is seen within a short backoff, whatever the others do.
    struct Pending {
        const Node* node = nullptr;
        Running run{};
        std::string output{};
        Clock::time_point next_try{};
        Clock::time_point kill_at{};
        std::chrono::milliseconds backoff{k_first_retry};
        std::chrono::milliseconds busy_backoff{k_first_busy_retry};
        std::string why{};  // what its last probe said; empty until one failed
        bool tried = false;
    };
    std::vector<Pending> pending;
    for (const Node& n : known) {
        pending.push_back(Pending{.node = &n, .next_try = start});
    }
    auto missing_ranks = [&] {
        std::vector<int> out;
        for (int r = 0; r < static_cast<int>(expected); ++r) {
            if (std::none_of(known.begin(), known.end(),
                             [r](const Node& n) { return n.rank == r; })) {
                out.push_back(r);
            }
        }
        return out;
    };
    auto next_reread = start;
    auto reread = [&](Clock::time_point now) {
        if (known.size() >= expected || now < next_reread) {
            return;
        }
        next_reread = now + k_reread_every;
        auto again = util::read_file(options->state_file, 1 << 20);
        auto fresh = again ? parse_state(*again) : util::Expected<ClusterState>(again.error());
        if (!fresh) {
            return;
        }
        for (const Node& n : fresh->nodes) {
            if (std::none_of(known.begin(), known.end(),
                             [&](const Node& k) { return k.rank == n.rank; })) {
                known.push_back(n);
                pending.push_back(Pending{.node = &known.back(), .next_try = now});
            }
        }
    };
    std::minstd_rand jitter(static_cast<std::minstd_rand::result_type>(
        ::getpid() ^ Clock::now().time_since_epoch().count()));
    std::size_t window = k_max_parallel;
    auto last_shrink = start - k_shrink_every;
    auto finish = [&](Pending& p, int exit_code) {
        const ProbeVerdict v = classify_probe(exit_code, p.output);
        p.output.clear();
        const auto now = Clock::now();
        if (v.ready) {
            window = std::min(window + 1, k_max_parallel);
            if (!p.why.empty()) {
                std::fprintf(stderr, "cluster wait: %s (%s) is ready\n", p.node->alias().c_str(),
                             endpoint(*p.node).c_str());
            }
            return true;
        }
        // A change of reason is reported once (stderr).
        if (v.why != p.why && now < deadline) {
            std::fprintf(stderr, "cluster wait: %s (%s): %s; trying again\n",
                         p.node->alias().c_str(), endpoint(*p.node).c_str(), v.why.c_str());
        }
        p.why = v.why;
        if (v.not_listening) {
            p.next_try = now + p.backoff;
            p.backoff = std::min(p.backoff * 2, k_last_retry);
        } else {
            if (now - last_shrink >= k_shrink_every) {
                window = std::max<std::size_t>(window / 2, 1);
                last_shrink = now;
            }
            const auto full = p.busy_backoff.count();
            p.next_try = now + std::chrono::milliseconds(
                                   full - static_cast<long long>(jitter() % (full / 2 + 1)));
            p.busy_backoff = std::min(p.busy_backoff * 2, k_last_busy_retry);
        }
        return false;
    };
    for (;;) {
        auto now = Clock::now();
        reread(now);
        // Start the probes that are due: until the deadline, and each node
        // at least once (--timeout 0 tries once).
        std::size_t in_flight = static_cast<std::size_t>(std::count_if(
            pending.begin(), pending.end(), [](const Pending& p) { return p.run.pid > 0; }));
        for (Pending& p : pending) {
            if (p.run.pid > 0 || now < p.next_try || (p.tried && now >= deadline) ||
                in_flight >= window) {
                continue;
            }
            ++in_flight;
            const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - now);
            const int connect_timeout = static_cast<int>(std::clamp<long long>(left.count(), 1, 5));
            p.tried = true;
            p.run = Running{};
            const std::string failed =
                spawn_captured(probe_command(*ssh, *state, *p.node, connect_timeout), p.run);
            if (!failed.empty()) {
                p.output = failed;
                finish(p, 255);
                continue;
            }
            p.kill_at = now + std::chrono::seconds(connect_timeout + 10);
        }
        const bool running = std::any_of(pending.begin(), pending.end(),
                                         [](const Pending& p) { return p.run.pid > 0; });
        if (pending.empty() && known.size() >= expected) {
            const double took = std::chrono::duration<double>(now - start).count();
            std::printf("cluster ready: all %zu nodes accept SSH (%.2f s)\n", known.size(), took);
            return 0;
        }
        if (!running && now >= deadline) {
            break;
        }
        // Sleep until a probe says something, one is due or must be
        // stopped, the state is to be read again, or the deadline.
        auto wake = deadline;
        if (known.size() < expected) {
            wake = std::min(wake, next_reread);
        }
        std::vector<pollfd> fds;
        std::vector<Pending*> which;
        for (Pending& p : pending) {
            if (p.run.pid > 0) {
                wake = std::min(wake, p.kill_at);
                if (p.run.out.get() >= 0) {
                    fds.push_back(pollfd{p.run.out.get(), POLLIN, 0});
                    which.push_back(&p);
                }
            } else if ((!p.tried || now < deadline) && in_flight < window) {
                wake = std::min(wake, p.next_try);
            }
        }
        const auto nap = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
        const int n =
            ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(nap, 0, 1000)));
        if (n < 0 && errno != EINTR) {
            break;
        }
        now = Clock::now();
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents != 0) {
                drain(which[k]->run, which[k]->output);
            }
        }
        for (Pending& p : pending) {
            if (p.run.pid > 0 && p.run.out.get() >= 0 && now >= p.kill_at) {
                ::kill(p.run.pid, SIGKILL);
                p.run.out.reset();
                p.output += "\nsshboot: no answer in time\n";
            }
            if (p.run.pid > 0 && p.run.out.get() < 0) {
                const int code = reap(p.run.pid);
                p.run.pid = -1;
                if (finish(p, code)) {
                    p.node = nullptr;
                }
            }
        }
        std::erase_if(pending, [](const Pending& p) { return p.node == nullptr; });
    }
    const auto missing = missing_ranks();
    std::printf("cluster not ready after %d s: %zu of %zu nodes do not accept SSH yet\n",
                options->timeout_seconds, pending.size() + missing.size(), expected);
    for (int r : missing) {
        std::printf(
            "  node-%d: not registered with this node yet (each worker runs `sshboot cluster "
            "register` here once its sshd is up)\n",
            r);
    }
    for (const Pending& p : pending) {
        std::printf("  %s (%s): %s\n", p.node->alias().c_str(), endpoint(*p.node).c_str(),
                    p.why.c_str());
    }
    return 1;
}

}  // namespace sshboot::cluster
