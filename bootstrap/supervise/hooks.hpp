// RunPod's start hooks: /pre_start.sh (before SSH setup) and /post_start.sh
// (after sshd accepts connections).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::supervise {

inline constexpr const char* k_pre_start_hook = "/pre_start.sh";
inline constexpr const char* k_post_start_hook = "/post_start.sh";

// Runs the hook at `path` when it is a regular file, the way RunPod's start
// script does: `bash PATH` (`sh PATH` when bash is not installed), so neither
// the exec bit nor a shebang line is needed. Its stdin, stdout and stderr are
// the container's; `env` is its environment (nullopt: sshboot's own).
//
// Waits for the hook and only for it: other children (sshd, orphans) are left
// for supervise() to reap. Call after prepare(): a SIGTERM or SIGINT that
// arrives while the hook runs stays pending and supervise() acts on it.
//
// Returns ok() when there is no hook or it exited with 0. A hook that fails,
// or cannot be started, is logged as a warning (with its exit code or signal)
// and returned as an error, but it is NOT fatal: callers log nothing more and
// carry on, because a user's optional hook must not make the container
// unreachable over SSH.
util::Status run_hook(const std::string& path,
                      const std::optional<std::vector<std::string>>& env = std::nullopt);

}  // namespace sshboot::supervise
