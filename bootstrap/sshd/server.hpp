// Finding, preparing and starting OpenSSH's sshd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::sshd {

// sshd by absolute path (sshd re-executes itself and refuses a relative
// argv[0]): the usual sbin directories first, then PATH.
std::optional<std::string> find_sshd(const std::string& path_env);

// ssh-keygen beside sshd or on PATH (only needed for ecdsa/rsa host keys).
std::optional<std::string> find_ssh_keygen(const std::string& sshd_path,
                                           const std::string& path_env);

// True when the image has a PAM service for sshd.
bool image_has_pam_for_sshd();

// The privilege-separation directory (/run/sshd, root-owned 0755: sshd
// refuses to start without it) and /run/sshboot for the pid file.
util::Status prepare_runtime_dirs();

// The argv that starts sshd in the foreground with its log on stderr.
std::vector<std::string> sshd_argv(const std::string& sshd_path, const std::string& config_path);

enum class Readiness { Ready, Exited, TimedOut };
struct ReadyResult {
    Readiness state = Readiness::TimedOut;
    int wait_status = 0;  // when Exited
};

// Waits until `pid` listens on `port`, or exits, or `timeout` passes.
// Polls /proc at a short, growing interval.
ReadyResult wait_until_listening(pid_t pid, std::uint16_t port, std::chrono::milliseconds timeout);

// `sshd -t` output for a config that made sshd exit: its own error message.
std::string config_test_output(const std::string& sshd_path, const std::string& config_path);

}  // namespace sshboot::sshd
