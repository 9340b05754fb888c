#include "cluster/registry.hpp"

#include <dirent.h>
#include <fcntl.h>
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

}  // namespace

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
    struct DirLock {
        int fd;
        ~DirLock() {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    } lock{::open(o->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX) != 0) {
        log::error("cluster register: cannot lock {}: {}", o->dir, std::strerror(errno));
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
        int pipefd[2];
        if (::pipe2(pipefd, O_CLOEXEC) != 0) {
            ::_exit(1);
        }
        const pid_t child = ::fork();
        if (child == 0) {
            const int null = ::open("/dev/null", O_RDONLY);
            ::dup2(null, 0);
            ::dup2(pipefd[1], 1);
            ::dup2(pipefd[1], 2);
            std::vector<char*> args;
            for (const auto& a : argv) {
                args.push_back(const_cast<char*>(a.c_str()));
            }
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(pipefd[1]);
        std::string output;
        char buf[512];
        ssize_t n = 0;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0 && output.size() < 4096) {
                output.append(buf, static_cast<std::size_t>(n));
            }
        }
        ::close(pipefd[0]);
        int status = 0;
        while (child > 0 && ::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        const int code = child > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 255;
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
