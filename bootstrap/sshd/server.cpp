#include "sshd/server.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "sshd/listen.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace sshboot::sshd {
namespace {

constexpr const char* k_sbin_dirs = "/usr/sbin:/usr/local/sbin:/sbin:/usr/bin:/usr/local/bin:/bin";

}  // namespace

std::optional<std::string> find_sshd(const std::string& path_env) {
    if (auto p = util::find_executable("sshd", k_sbin_dirs)) {
        return p;
    }
    return util::find_executable("sshd", path_env);
}

std::optional<std::string> find_ssh_keygen(const std::string& sshd_path,
                                           const std::string& path_env) {
    std::string dirs = "/usr/bin:/usr/local/bin:/bin:" + path_env;
    if (!sshd_path.empty()) {
        dirs = util::split_path(sshd_path).first + ":" + dirs;
    }
    return util::find_executable("ssh-keygen", dirs);
}

bool image_has_pam_for_sshd() {
    return util::path_exists("/etc/pam.d/sshd");
}

util::Status prepare_runtime_dirs() {
    for (const char* dir : {"/run/sshd", "/run/sshboot"}) {
        if (auto st = util::make_dirs(dir, 0755); !st) {
            return st;
        }
        // sshd checks that its privilege-separation directory is owned by
        // root and not group or world writable.
        if (::chown(dir, 0, 0) != 0 && errno != EPERM) {
            return util::sys_error(std::string("chown ") + dir);
        }
        if (::chmod(dir, 0755) != 0) {
            return util::sys_error(std::string("chmod ") + dir);
        }
    }
    return util::ok();
}

std::vector<std::string> sshd_argv(const std::string& sshd_path, const std::string& config_path) {
    return {sshd_path, "-D", "-e", "-f", config_path};
}

ReadyResult wait_until_listening(pid_t pid, std::uint16_t port, std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    // sshd usually binds 5 to 40 ms after spawn: poll every millisecond for
    // the first 50 ms (a doubling interval found it up to half its age late),
    // then back off to 20 ms.
    const auto fast_until = clock::now() + std::chrono::milliseconds(50);
    long interval_us = 1000;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return {Readiness::Exited, status};
        }
        if (process_listens_on(pid, port)) {
            return {Readiness::Ready, 0};
        }
        if (clock::now() >= deadline) {
            return {Readiness::TimedOut, 0};
        }
        timespec ts{0, interval_us * 1000};
        ::nanosleep(&ts, nullptr);
        if (clock::now() >= fast_until) {
            interval_us = std::min(interval_us * 2, 20000L);
        }
    }
}

std::string config_test_output(const std::string& sshd_path, const std::string& config_path) {
    auto result = util::run_capture({sshd_path, "-t", "-f", config_path});
    if (!result) {
        return result.error().message;
    }
    return result->output;
}

}  // namespace sshboot::sshd
