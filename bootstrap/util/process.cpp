#include "util/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.hpp"

extern char** environ;

namespace sshboot::util {
namespace {

std::vector<char*> to_cstrings(const std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (const auto& s : v) {
        out.push_back(const_cast<char*>(s.c_str()));
    }
    out.push_back(nullptr);
    return out;
}

// In the child after fork: reset signals, exec, report the exec failure.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const SpawnOptions& options) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        ::signal(sig, SIG_DFL);
    }
    if (options.new_process_group) {
        ::setpgid(0, 0);
    }
    auto args = to_cstrings(argv);
    if (options.env) {
        auto envp = to_cstrings(*options.env);
        ::execvpe(args[0], args.data(), envp.data());
    } else {
        ::execvp(args[0], args.data());
    }
    const int err = errno;
    const char* prefix = "sshboot: error: cannot run ";
    [[maybe_unused]] auto r1 = ::write(STDERR_FILENO, prefix, std::strlen(prefix));
    [[maybe_unused]] auto r2 = ::write(STDERR_FILENO, args[0], std::strlen(args[0]));
    const char* sep = ": ";
    [[maybe_unused]] auto r3 = ::write(STDERR_FILENO, sep, 2);
    const char* msg = std::strerror(err);
    [[maybe_unused]] auto r4 = ::write(STDERR_FILENO, msg, std::strlen(msg));
    [[maybe_unused]] auto r5 = ::write(STDERR_FILENO, "\n", 1);
    ::_exit(err == ENOENT ? 127 : 126);
}

}  // namespace

// fork, not posix_spawn: glibc's posix_spawn learns of a failed exec through
// memory the child shares until exec, and under qemu-user (an arm64 image on
// an x86_64 host) the child gets a copy instead, so a file that is not
// executable would look started and exit 127 without its line or its 126.
Expected<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
    if (argv.empty()) {
        return make_error("spawn: empty command");
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        return sys_error("fork for " + argv[0]);
    }
    if (pid == 0) {
        exec_child(argv, options);
    }
    if (options.new_process_group) {
        ::setpgid(pid, pid);
    }
    return pid;
}

Expected<RunResult> run_capture(const std::vector<std::string>& argv, const SpawnOptions& options) {
    if (argv.empty()) {
        return make_error("run: empty command");
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return sys_error("pipe for " + argv[0]);
    }
    UniqueFd rd(fds[0]);
    UniqueFd wr(fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        return sys_error("fork for " + argv[0]);
    }
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
        }
        ::dup2(wr.get(), STDOUT_FILENO);
        ::dup2(wr.get(), STDERR_FILENO);
        exec_child(argv, options);
    }
    wr.reset();
    RunResult result;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        result.output.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return sys_error("waitpid " + argv[0]);
        }
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    }
    return result;
}

std::optional<std::string> find_executable(const std::string& name, const std::string& path_list) {
    if (name.find('/') != std::string::npos) {
        return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    }
    std::size_t start = 0;
    while (start <= path_list.size()) {
        auto end = path_list.find(':', start);
        if (end == std::string::npos) {
            end = path_list.size();
        }
        std::string dir = path_list.substr(start, end - start);
        if (!dir.empty()) {
            std::string candidate = dir + "/" + name;
            struct stat st {};
            if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                ::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
        }
        start = end + 1;
    }
    return std::nullopt;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) {
        return "exited with code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::strsignal(sig);
        return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
    }
    return "stopped (status " + std::to_string(status) + ")";
}

}  // namespace sshboot::util
