// Process spawning: fork/exec with an explicit argv and environment, and a
// run-and-capture helper for short tools (ssh-keygen, sshd -t).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::util {

struct SpawnOptions {
    // Environment for the child; nullopt inherits ours.
    std::optional<std::vector<std::string>> env;
    // Put the child in its own process group.
    bool new_process_group = false;
    // Restore the default signal mask and dispositions in the child (always on).
};

// Starts argv[0] (an absolute path or a name looked up on PATH). The child's
// signal mask is cleared. Returns the pid; a failed exec makes the child exit
// 127 (not found) or 126 (not executable), as a shell does, after one line
// on stderr; a file without #! runs with /bin/sh, as execvp runs it.
Expected<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

struct RunResult {
    int exit_code = -1;   // when exited normally
    int term_signal = 0;  // when killed by a signal
    std::string output;   // stdout and stderr together
};

// Runs argv to completion, capturing stdout+stderr (stdin is /dev/null).
Expected<RunResult> run_capture(const std::vector<std::string>& argv,
                                const SpawnOptions& options = {});

// Finds an executable by name in `path_list` (colon-separated); nullopt when absent.
std::optional<std::string> find_executable(const std::string& name, const std::string& path_list);

// A wait status as words: "exited with code 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace sshboot::util
