// The PID-1 loop of `sshboot run`: start COMMAND, reap every child (orphans
// included), forward signals, restart sshd when it dies, shut down in order.
//
// The loop sleeps in sigtimedwait() with no timeout while idle, so an idle
// container costs no wakeups; a timeout is used only while a deadline is
// pending (a SIGKILL after the stop grace period, an sshd restart backoff).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::supervise {

// Blocks, in the calling thread, SIGCHLD and every signal the supervisor
// handles or forwards (SIGTERM SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGWINCH).
// Call it first thing in `run`, before any child is spawned (util::spawn gives
// children a clean mask): signals that arrive during setup stay pending and
// supervise() acts on them. When sshboot is not PID 1 it also registers as a
// child subreaper, so orphans of COMMAND are re-parented to it and reaped.
util::Status prepare();

// Start-up (between prepare() and supervise()) keeps those signals blocked,
// so every wait in it must look for a stop request itself. Returns SIGTERM or
// SIGINT when one has arrived (taken from the pending set and remembered, so
// later calls return it too); nullopt otherwise. Never waits.
std::optional<int> stop_requested();

// What wait_child_or_stop saw first.
struct ChildWait {
    std::optional<int> wait_status;  // the child ended
    std::optional<int> stop_signal;  // SIGTERM or SIGINT arrived first
};

// Waits for child `pid` during start-up, watching for SIGTERM and SIGINT
// (acted on within about 100 ms). On a stop signal the child is sent the same
// signal and left to end; the signal is remembered for stop_requested().
ChildWait wait_child_or_stop(pid_t pid);

struct Config {
    // Spawns a fresh `sshd -D -e`; used to restart sshd when it dies.
    std::function<util::Expected<pid_t>()> start_sshd;
    // The sshd already running and accepting; -1 makes supervise() start one.
    pid_t sshd_pid = -1;
    // The tunnel server (SSHBOOT_TUNNEL_PORT): started by supervise() after
    // COMMAND, restarted like sshd when it dies, stopped with sshd; empty
    // when the tunnel is off.
    std::function<util::Expected<pid_t>()> start_tunnel;
    // The user's command; empty: serve SSH until stopped.
    std::vector<std::string> command;
    // COMMAND's environment (already free of sshboot's secrets); nullopt inherits sshboot's.
    std::optional<std::vector<std::string>> command_env;
    // SSHBOOT_KEEP_ALIVE=1: keep serving SSH after COMMAND exits.
    bool keep_alive = false;
    // SSHBOOT_STOP_TIMEOUT: seconds between forwarding SIGTERM/SIGINT and SIGKILL.
    int stop_timeout_seconds = 8;
    // Like tini -g: COMMAND runs in its own process group and signals go to the group.
    bool signal_process_group = false;
};

// Starts COMMAND (if any), then supervises until done. Returns the code
// sshboot must exit with:
// - COMMAND's exit code; 128+N when it was killed by signal N; 127 when it was
//   not found and 126 when it is not executable (util::spawn's child exits so);
//   1 when COMMAND could not be started at all (fork failed).
// - With keep_alive, a later stop returns how COMMAND had ended, so the
//   container's status still tells whether the job succeeded.
// - Without COMMAND: 0 after a requested stop (SIGTERM or SIGINT).
//
// Signals: SIGTERM and SIGINT are forwarded to COMMAND and start the stop
// sequence (SIGKILL after stop_timeout_seconds, then sshd gets SIGTERM, then
// SIGKILL after a short grace). SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGWINCH are
// forwarded to COMMAND while it runs; with no COMMAND running, SIGHUP goes to
// sshd (which makes it re-read its configuration) and the others are ignored.
// SIGTERM/SIGINT with no COMMAND running stops sshd and ends.
//
// sshd ending on its own is logged and it is restarted through start_sshd
// after a backoff (100 ms doubling to 5 s, reset after 30 s of uptime); failed
// restarts are logged and retried at the capped rate for as long as needed.
int supervise(const Config& config);

// The exit code for a child's wait status, as a shell reports it: the exit
// code, or 128+N when killed by signal N.
int exit_code_for(int wait_status);

}  // namespace sshboot::supervise
