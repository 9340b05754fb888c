#include "cluster/registry.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "cluster/launch_files.hpp"
#include "cluster/wait.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"

namespace sshboot::cluster {
namespace {

constexpr int k_max_nodes = 4096;

// How long `cluster register` waits for another registration to finish.
constexpr int k_lock_timeout_seconds = 30;
// How long one registration attempt of a worker (its ssh to the primary and
// the command there) may take before it is killed and tried again.
constexpr int k_attempt_timeout_seconds = 90;

// Variables the registration's ssh keeps from PID 1's environment: none that
// can hold a secret (SSHBOOT_CLUSTER_SECRET, SSH_PASSWORD, tokens ...).
constexpr std::string_view k_registration_variables[] = {"PATH", "HOME",   "USER", "LOGNAME",
                                                         "LANG", "LC_ALL", "TZ"};

// Overwrites every string of this process's environment, then empties it:
// /proc/<pid>/environ shows the block the process started with (PID 1's,
// inherited by fork), so unsetting is not enough.
void wipe_environment() {
    if (environ == nullptr) {
        return;
    }
    for (char** e = environ; *e != nullptr; ++e) {
        const std::size_t len = std::strlen(*e);
        volatile char* p = *e;
        for (std::size_t i = 0; i < len; ++i) {
            p[i] = '\0';
        }
    }
    static char* empty[] = {nullptr};
    environ = empty;
}

// Runs argv with `envp`, its output (capped) into `output`; kills it after
// `limit`. Returns its exit code, 255 when it was killed or could not run.
int run_attempt(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                std::chrono::seconds limit, std::string& output) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        return 255;
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) {
        envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);
    const pid_t child = ::fork();
    if (child == 0) {
        const int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(pipefd[1], 1);
        ::dup2(pipefd[1], 2);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    if (child < 0) {
        ::close(pipefd[0]);
        return 255;
    }
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limit;
    bool killed = false;
    char buf[512];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            ::kill(child, SIGKILL);
            killed = true;
            break;
        }
        pollfd pfd{pipefd[0], POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (ready <= 0) {
            continue;
        }
        const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (output.size() < 4096) {
            output.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (killed) {
        output += "\nno answer in time: the registration took longer than " +
                  std::to_string(limit.count()) + " s and was stopped";
        return 255;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

}  // namespace

std::vector<std::string> registration_environment(const char* const* envp) {
    std::vector<std::string> out;
    for (const char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry = *e;
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        const std::string_view name = entry.substr(0, eq);
        if (std::find(std::begin(k_registration_variables), std::end(k_registration_variables),
                      name) != std::end(k_registration_variables) &&
            std::none_of(out.begin(), out.end(), [&](const std::string& o) {
                return o.starts_with(std::string(name) + "=");
            })) {
            out.emplace_back(entry);
        }
    }
    if (std::none_of(out.begin(), out.end(),
                     [](const std::string& o) { return o.starts_with("PATH="); })) {
        out.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
    }
    return out;
}

util::Expected<util::UniqueFd> lock_registry(const std::string& dir,
                                             std::chrono::milliseconds timeout) {
    // A file only root can open (0600, never through a symlink): a read-only
    // open of the directory was enough for any local user to flock it and
    // hold every registration.
    const std::string path = dir + "/" + std::string(k_registry_lock);
    util::UniqueFd fd(::open(
        path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600));
    if (!fd.valid()) {
        return util::sys_error("cannot open the lock " + path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0) {
        return util::make_error("the lock " + path +
                                " is not a private regular file of this user; remove it");
    }
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
            return fd;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            return util::sys_error("cannot lock " + path);
        }
        if (Clock::now() >= deadline) {
            return util::make_error(
                "another registration has held " + path + " for " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                " s; giving up (the worker tries again)");
        }
        // Registrations take milliseconds: poll the lock until the deadline.
        ::usleep(20 * 1000);
    }
}

std::string register_usage() {
    return "Usage: sshboot cluster register --rank R --addr HOST[:PORT] [--nodes N]\n"
           "\n"
           "Run on the primary node (rank 0) by each worker over SSH, where the\n"
           "platform gives no list of the nodes (RunPod Instant Clusters): records\n"
           "that node R is reachable at HOST:PORT (port 22 when none is given) in\n" +
           std::string(k_registry_dir) +
           "/R. R is 1 to N - 1; N is --nodes or NUM_NODES.\n"
           "Exit 0 when recorded, 2 on a bad rank or address, 1 when it cannot be written.\n";
}

util::Expected<RegisterOptions> parse_register_args(const std::vector<std::string>& args) {
    RegisterOptions o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "-h" || arg == "--help") {
            o.help = true;
            continue;
        }
        std::string value;
        bool have_value = false;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            have_value = true;
        }
        std::string* target = nullptr;
        if (arg == "--rank") {
            target = &o.rank;
        } else if (arg == "--addr") {
            target = &o.addr;
        } else if (arg == "--nodes") {
            target = &o.num_nodes;
        } else if (arg == "--dir") {
            target = &o.dir;
        } else if (arg == "--state") {
            target = &o.state_file;
        } else {
            return util::make_error("cluster register: unknown argument " +
                                    util::quoted_for_log(arg) + " (see --help)");
        }
        if (!have_value) {
            if (i + 1 >= args.size()) {
                return util::make_error("cluster register: " + arg + " needs a value");
            }
            value = args[++i];
        }
        *target = value;
    }
    return o;
}

util::Expected<Node> validate_registration(std::string_view rank, const std::string& addr,
                                           std::string_view num_nodes) {
    auto n = util::parse_count(num_nodes, k_max_nodes);
    if (!n || *n < 1) {
        return util::make_error("cluster register: NUM_NODES=" + util::quoted_for_log(num_nodes) +
                                " is not a node count (1 to " + std::to_string(k_max_nodes) +
                                "): pass --nodes N");
    }
    auto r = util::parse_count(rank, k_max_nodes);
    if (!r) {
        return util::make_error("cluster register: --rank " + util::quoted_for_log(rank) +
                                " is not a rank (1, 2, ...)");
    }
    if (*r == 0 || *r >= *n) {
        return util::make_error("cluster register: --rank " + std::to_string(*r) +
                                " is out of range: workers are ranks 1 to " +
                                std::to_string(*n - 1) + " of NUM_NODES=" + std::to_string(*n) +
                                " (rank 0 is this node)");
    }
    if (addr.empty()) {
        return util::make_error("cluster register: --addr is missing: give HOST[:PORT]");
    }
    auto node = parse_node_address("--addr", addr, 22);
    if (!node) {
        return util::make_error("cluster register: " + node.error().message);
    }
    node->rank = *r;
    return node;
}

std::string render_registration(const Node& node) {
    return std::to_string(node.rank) + " " + std::to_string(node.port) + " " + node.host + "\n";
}

util::Expected<Node> parse_registration(std::string_view text) {
    std::string line(text.substr(0, text.find('\n')));
    const auto a = line.find(' ');
    const auto b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b == std::string::npos) {
        return util::make_error("registration " + util::quoted_for_log(line) +
                                ": expected '<rank> <port> <host>'");
    }
    auto rank = util::parse_count(std::string_view(line).substr(0, a), k_max_nodes);
    auto port = util::parse_port(line.substr(a + 1, b - a - 1));
    if (!rank || !port) {
        return util::make_error("registration " + util::quoted_for_log(line) +
                                ": bad rank or port");
    }
    auto node = parse_node_address("registration", line.substr(b + 1), *port);
    if (!node || node->port != *port) {
        return util::make_error("registration " + util::quoted_for_log(line) + ": bad host");
    }
    node->rank = *rank;
    return node;
}

std::vector<Node> merge_registrations(const Node& primary, const std::vector<Node>& registered,
                                      int num_nodes) {
    std::map<int, Node> by_rank;
    Node p = primary;
    p.rank = 0;
    by_rank[0] = p;
    for (const Node& n : registered) {
        if (n.rank >= 1 && n.rank < num_nodes) {
            by_rank[n.rank] = n;  // a later registration of a rank replaces it
        }
    }
    std::vector<Node> out;
    for (auto& [rank, node] : by_rank) {
        out.push_back(node);
    }
    return out;
}

std::vector<Node> read_registry(const std::string& dir) {
    std::vector<Node> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        return out;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (util::parse_count(name, k_max_nodes)) {
            names.push_back(name);
        }
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        auto text = util::read_file(dir + "/" + name, 4096);
        if (!text) {
            continue;
        }
        auto node = parse_registration(*text);
        if (node && std::to_string(node->rank) == name) {
            out.push_back(*node);
        }
    }
    return out;
}

int register_command(const std::vector<std::string>& args) {
    auto o = parse_register_args(args);
    if (!o) {
        log::error("{}", o.error().message);
        return 2;
    }
    if (o->help) {
        std::fputs(register_usage().c_str(), stdout);
        return 0;
    }
    std::string num_nodes = o->num_nodes;
    if (num_nodes.empty()) {
        const char* env = std::getenv("NUM_NODES");
        num_nodes = env == nullptr ? "" : env;
    }
    auto node = validate_registration(o->rank, o->addr, num_nodes);
    if (!node) {
        log::error("{}", node.error().message);
        return 2;
    }
    if (::mkdir(o->dir.c_str(), 0755) != 0 && errno != EEXIST) {
        log::error("cluster register: cannot create {}: {}", o->dir, std::strerror(errno));
        return 1;
    }
    // Workers register at the same time: one at a time, so that each
    // rewrite reads every registration written before it.
    auto lock = lock_registry(o->dir, std::chrono::seconds(k_lock_timeout_seconds));
    if (!lock) {
        log::error("cluster register: {}", lock.error().message);
        return 1;
    }
    const std::string path = o->dir + "/" + std::to_string(node->rank);
    // Registered again by the worker after a restart: no fsync needed.
    if (auto st = util::write_file_atomic(path, render_registration(*node), 0644, std::nullopt,
                                          util::Durability::Regenerated);
        !st) {
        log::error("cluster register: {}", st.error().message);
        return 1;
    }
    // The primary's launch files now name the new node.
    if (auto text = util::read_file(o->state_file, 1 << 20); text) {
        auto state = parse_state(*text);
        if (state && state->rank == 0 && state->expect > 0) {
            state->nodes =
                merge_registrations(state->nodes.front(), read_registry(o->dir), state->expect);
            LaunchPaths paths;
            paths.state_file = o->state_file;
            if (auto st = rewrite_node_files(*state, paths); !st) {
                log::error("cluster register: recorded {}, but cannot update the launch files: {}",
                           path, st.error().message);
                return 1;
            }
        }
    }
    std::printf("registered %s at %s port %u\n", node->alias().c_str(), node->host.c_str(),
                static_cast<unsigned>(node->port));
    return 0;
}

std::vector<std::string> register_ssh_command(const std::string& ssh, const ClusterState& worker,
                                              const Node& primary, const Node& self,
                                              int num_nodes) {
    auto argv = probe_command(ssh, worker, primary, 10);
    const bool v6 = self.host.find(':') != std::string::npos;
    const std::string addr =
        (v6 ? "[" + self.host + "]" : self.host) + ":" + std::to_string(self.port);
    // Host and rank are checked (letters, digits, '.', '-', '_', ':', '%'):
    // nothing the remote shell would expand.
    argv.back() = "sshboot cluster register --rank " + std::to_string(self.rank) + " --addr " +
                  addr + " --nodes " + std::to_string(num_nodes);
    return argv;
}

void start_registration(const ClusterState& worker, const Node& primary, const Node& self,
                        int num_nodes, int limit_seconds) {
    const char* path_env = std::getenv("PATH");
    auto ssh = util::find_executable("ssh", path_env != nullptr && *path_env != '\0'
                                                ? path_env
                                                : "/usr/bin:/bin:/usr/local/bin");
    if (!ssh) {
        log::warn(
            "cluster: no ssh client on PATH: this node cannot register with {} (install "
            "openssh-client); the primary will not list it",
            primary.host);
        return;
    }
    const auto argv = register_ssh_command(*ssh, worker, primary, self, num_nodes);
    // The registration runs for up to half an hour: it keeps nothing of PID
    // 1's environment but a few harmless variables, and neither does its ssh.
    const auto env = registration_environment(environ);
    const pid_t pid = ::fork();
    if (pid < 0) {
        log::warn("cluster: cannot start the registration with {}: {}", primary.host,
                  std::strerror(errno));
        return;
    }
    if (pid > 0) {
        return;
    }
    // The child: default signals, its own loop, never back into the caller.
    wipe_environment();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) {
        ::signal(sig, SIG_DFL);
    }
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(limit_seconds);
    int pause = 1;
    for (int attempt = 1;; ++attempt) {
        std::string output;
        const int code =
            run_attempt(argv, env, std::chrono::seconds(k_attempt_timeout_seconds), output);
        if (code == 0) {
            log::info("cluster: registered {} with the primary {}:{} (attempt {})", self.alias(),
                      primary.host, primary.port, attempt);
            ::_exit(0);
        }
        const ProbeVerdict v = classify_probe(code, output);
        if (Clock::now() + std::chrono::seconds(pause) >= deadline || code == 2) {
            log::warn(
                "cluster: could not register {} with the primary {}:{}: {}; its launchers "
                "will not list this node",
                self.alias(), primary.host, primary.port,
                v.why.empty() ? util::quoted_for_log(output) : v.why);
            ::_exit(1);
        }
        ::sleep(static_cast<unsigned>(pause));
        pause = std::min(pause * 2, 30);
    }
}

}  // namespace sshboot::cluster
