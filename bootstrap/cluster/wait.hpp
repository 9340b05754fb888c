// `sshboot cluster wait [--timeout S]`: a readiness barrier for launchers.
// It reads the state the entrypoint wrote (so it works from any shell, without
// the cluster variables) and logs in to every node with the real ssh client,
// the cluster key and strict host checking, until all accept or time runs out.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/launch_files.hpp"
#include "util/expected.hpp"

namespace sshboot::cluster {

// `args` are the arguments after "cluster wait". Returns the exit code:
// 0 when every peer accepts an authenticated SSH login, 1 when some do not
// before the timeout, 2 on a usage error.
int wait_command(const std::vector<std::string>& args);

struct WaitOptions {
    int timeout_seconds = 300;
    std::string state_file = LaunchPaths{}.state_file;
    bool help = false;
};

// --timeout S (0 to 86400 seconds; 0 = try once), --state FILE, -h/--help.
util::Expected<WaitOptions> parse_wait_args(const std::vector<std::string>& args);

std::string wait_usage();

struct ProbeVerdict {
    bool ready = false;
    std::string why;  // when not ready: what failed, in words, with the fix
    // Not ready because nothing listens there yet (the name does not resolve,
    // or the connection was refused): cheap to try again soon. Other failures
    // (no answer, closed before login) may mean the node is busy.
    bool not_listening = false;
};

// What one `ssh ... true` said: ready on exit 0, else the reason read from
// ssh's messages (DNS, refused, timeout, host certificate, authentication).
ProbeVerdict classify_probe(int exit_code, std::string_view output);

// The ssh command line that logs in to `node` as the state's user with the
// cluster key, strict host checking against the user's known_hosts, and no
// configuration file (it works the same whoever runs it).
std::vector<std::string> probe_command(const std::string& ssh, const ClusterState& state,
                                       const Node& node, int connect_timeout_seconds);

struct CommandResult {
    std::string output;   // stdout and stderr together, at most about 64 KiB
    int exit_code = 255;  // 255 also when it could not be started or was killed
};

// Runs every command at once (absolute paths, standard input /dev/null) and
// collects their output; one still running at `deadline` is killed. Used for
// the ssh probes of `cluster wait` and of doctor.
std::vector<CommandResult> run_commands(const std::vector<std::vector<std::string>>& argvs,
                                        std::chrono::steady_clock::time_point deadline);

}  // namespace sshboot::cluster
