#include "supervise/hooks.hpp"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>

#include "supervise/supervise.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace sshboot::supervise {
namespace {

constexpr const char* k_default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// RunPod's start script runs hooks with bash; fall back to sh in images without it.
std::string hook_interpreter() {
    const char* path = std::getenv("PATH");
    if (auto bash = util::find_executable("bash", path ? path : k_default_path)) {
        return *bash;
    }
    return "/bin/sh";
}

util::Status hook_failed(const std::string& message) {
    log::warn("{} (not fatal: SSH setup continues)", message);
    return util::make_error(message);
}

}  // namespace

util::Status run_hook(const std::string& path, const std::optional<std::vector<std::string>>& env) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            return hook_failed(util::sys_error("stat " + path).message);
        }
        log::debug("no hook {}", path);
        return util::ok();
    }
    if (!S_ISREG(st.st_mode)) {
        return hook_failed("hook " + path + " is not a regular file; skipped");
    }

    util::SpawnOptions options;
    options.env = env;
    const std::string interpreter = hook_interpreter();
    log::info("running {} with {}", path, interpreter);
    auto pid = util::spawn({interpreter, path}, options);
    if (!pid) {
        return hook_failed("cannot run hook " + path + ": " + pid.error().message);
    }

    const ChildWait waited = wait_child_or_stop(*pid);
    if (waited.stop_signal) {
        return util::make_error("hook " + path + " was stopped: a stop signal arrived");
    }
    if (!waited.wait_status) {
        return hook_failed("waitpid for hook " + path + " failed");
    }
    const int status = *waited.wait_status;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        log::info("{} finished", path);
        return util::ok();
    }
    return hook_failed("hook " + path + " " + util::describe_wait_status(status));
}

}  // namespace sshboot::supervise
