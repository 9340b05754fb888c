// The PID-1 supervisor, run for real: each test forks a child that calls
// prepare() and supervise() the way `sshboot run` does, with a shell script
// standing in for sshd, and checks how that child exits.
#include "supervise/supervise.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "supervise/backoff.hpp"
#include "supervise/hooks.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace sshboot::supervise {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "sshboot-supervise-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (m_path / name).string(); }

  private:
    fs::path m_path;
};

// Polls `condition` every 10 ms until it holds or `limit` has passed.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

// A field of /proc/<pid>/status, or "" when the process is gone.
std::string proc_status_field(pid_t pid, const std::string& field) {
    for (const auto& line : read_lines("/proc/" + std::to_string(pid) + "/status")) {
        if (line.rfind(field + ":", 0) == 0) {
            std::istringstream in(line.substr(field.size() + 1));
            std::string value;
            in >> value;
            return value;
        }
    }
    return "";
}

// Gone entirely: reaped by its parent (a zombie still has a /proc entry).
bool process_gone(pid_t pid) {
    return !exists("/proc/" + std::to_string(pid));
}

// A shell script that stands in for sshd: appends its pid to `log` (one line
// per start) and then runs `body` (by default: sleeps until killed).
std::function<util::Expected<pid_t>()> stand_in_sshd(const std::string& log,
                                                     const std::string& body = "exec sleep 1000") {
    return [log, body]() {
        return util::spawn({"/bin/sh", "-c", "echo $$ >> " + log + "; " + body});
    };
}

// The supervisor under test, in a forked child that leads its own process
// group; everything left in that group is killed when this goes away.
class Supervised {
  public:
    enum class SshdStart { before_supervise, by_supervise };

    // Starts sshd with config.start_sshd first, as `sshboot run` does, unless
    // `sshd_start` leaves that to supervise().
    explicit Supervised(Config config, SshdStart sshd_start = SshdStart::before_supervise) {
        m_pid = ::fork();
        if (m_pid == 0) {
            ::setpgid(0, 0);
            log::init(true);
            if (!prepare()) {
                ::_exit(90);
            }
            if (sshd_start == SshdStart::before_supervise && config.start_sshd) {
                auto sshd = config.start_sshd();
                if (!sshd) {
                    ::_exit(91);
                }
                config.sshd_pid = *sshd;
            }
            ::_exit(supervise(config));
        }
        if (m_pid > 0) {
            ::setpgid(m_pid, m_pid);
        }
    }
    ~Supervised() {
        if (m_pid > 0) {
            ::kill(-m_pid, SIGKILL);
            if (!m_reaped) {
                ::waitpid(m_pid, nullptr, 0);
            }
        }
    }
    Supervised(const Supervised&) = delete;
    Supervised& operator=(const Supervised&) = delete;

    pid_t pid() const { return m_pid; }

    void signal(int sig) const { ::kill(m_pid, sig); }

    bool running() {
        if (!m_reaped) {
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_reaped = true;
                m_status = status;
            }
        }
        return !m_reaped;
    }

    // The supervisor's exit code once it ends within `limit`; 1000+N when it
    // was killed by signal N, -1 when it is still running.
    int exit_code(std::chrono::milliseconds limit = 15s) {
        if (!eventually([this] { return !running(); }, limit)) {
            return -1;
        }
        if (WIFEXITED(m_status)) {
            return WEXITSTATUS(m_status);
        }
        return 1000 + WTERMSIG(m_status);
    }

  private:
    pid_t m_pid = -1;
    bool m_reaped = false;
    int m_status = 0;
};

Config with_command(const TempDir& dir, std::vector<std::string> command) {
    Config config;
    config.start_sshd = stand_in_sshd(dir.file("sshd.log"));
    config.command = std::move(command);
    config.stop_timeout_seconds = 1;
    return config;
}

Config shell_command(const TempDir& dir, const std::string& script) {
    return with_command(dir, {"/bin/sh", "-c", script});
}

// The pid of the stand-in sshd's n-th start (0-based), once it has started.
pid_t sshd_pid(const TempDir& dir, std::size_t n = 0) {
    const std::string log = dir.file("sshd.log");
    if (!eventually([&] { return read_lines(log).size() > n; })) {
        return -1;
    }
    return static_cast<pid_t>(std::stoi(read_lines(log)[n]));
}

// ---------------------------------------------------------------- pure parts

TEST(exit_code_for, IsTheExitCodeOrOneHundredTwentyEightPlusTheSignal) {
    EXPECT_EQ(exit_code_for(W_EXITCODE(0, 0)), 0);
    EXPECT_EQ(exit_code_for(W_EXITCODE(42, 0)), 42);
    EXPECT_EQ(exit_code_for(W_EXITCODE(255, 0)), 255);
    EXPECT_EQ(exit_code_for(W_EXITCODE(0, SIGKILL)), 137);
    EXPECT_EQ(exit_code_for(W_EXITCODE(0, SIGTERM)), 143);
}

TEST(Backoff, StartsAtOneHundredMillisecondsAndDoublesUpToFiveSeconds) {
    Backoff backoff;
    std::vector<long long> delays;
    for (int i = 0; i < 8; ++i) {
        delays.push_back(backoff.next().count());
    }
    EXPECT_EQ(delays, (std::vector<long long>{100, 200, 400, 800, 1600, 3200, 5000, 5000}));
}

TEST(Backoff, StartsOverOnlyAfterThirtySecondsOfUptime) {
    Backoff backoff;
    (void)backoff.next();
    (void)backoff.next();
    backoff.record_uptime(29s);
    EXPECT_EQ(backoff.next().count(), 400);
    backoff.record_uptime(30s);
    EXPECT_EQ(backoff.next().count(), 100);
}

// ---------------------------------------------------------------- exit codes

TEST(supervise, ReturnsTheExitCodeOfCommand) {
    for (const int code : {0, 1, 3, 42, 125, 255}) {
        TempDir dir;
        Supervised supervisor(shell_command(dir, "exit " + std::to_string(code)));
        EXPECT_EQ(supervisor.exit_code(), code) << "exit " << code;
    }
}

TEST(supervise, ReturnsOneHundredTwentyEightPlusTheSignalThatKilledCommand) {
    for (const int sig : {SIGKILL, SIGUSR1, SIGTERM}) {
        TempDir dir;
        Supervised supervisor(shell_command(dir, "kill -" + std::to_string(sig) + " $$"));
        EXPECT_EQ(supervisor.exit_code(), 128 + sig) << "signal " << sig;
    }
}

TEST(supervise, ReturnsOneHundredTwentySevenWhenCommandIsNotFound) {
    for (const std::string missing : {"/nonexistent/command", "sshboot-no-such-command"}) {
        TempDir dir;
        Supervised supervisor(with_command(dir, {missing}));
        EXPECT_EQ(supervisor.exit_code(), 127) << missing;
    }
}

TEST(supervise, ReturnsOneHundredTwentySixWhenCommandIsNotExecutable) {
    TempDir dir;
    const std::string script = dir.file("not-executable.sh");
    std::ofstream(script) << "#!/bin/sh\nexit 0\n";
    ::chmod(script.c_str(), 0644);
    Supervised supervisor(with_command(dir, {script}));
    EXPECT_EQ(supervisor.exit_code(), 126);
}

TEST(supervise, GivesCommandTheConfiguredEnvironment) {
    TempDir dir;
    Config config = shell_command(dir, "test \"$SSHBOOT_TEST_VALUE\" = expected && exit 5");
    config.command_env = std::vector<std::string>{"SSHBOOT_TEST_VALUE=expected"};
    Supervised supervisor(std::move(config));
    EXPECT_EQ(supervisor.exit_code(), 5);
}

TEST(supervise, StopsSshdWhenCommandExits) {
    TempDir dir;
    const std::string ready = dir.file("ready");
    Supervised supervisor(shell_command(dir, "while [ ! -e " + ready + " ]; do sleep 0.01; done"));
    const pid_t sshd = sshd_pid(dir);
    ASSERT_GT(sshd, 0);
    std::ofstream(ready).put('\n');
    EXPECT_EQ(supervisor.exit_code(), 0);
    EXPECT_TRUE(process_gone(sshd));
}

// ---------------------------------------------------------------- signals

TEST(supervise, ForwardsSigtermToCommandAndReturnsItsCode) {
    TempDir dir;
    const std::string ready = dir.file("ready");
    Supervised supervisor(
        shell_command(dir, "trap 'exit 7' TERM; touch " + ready + "; sleep 1000 & wait"));
    ASSERT_TRUE(eventually([&] { return exists(ready); }));
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 7);
}

TEST(supervise, ForwardsSigintToCommand) {
    TempDir dir;
    const std::string ready = dir.file("ready");
    Supervised supervisor(
        shell_command(dir, "trap 'exit 8' INT; touch " + ready + "; sleep 1000 & wait"));
    ASSERT_TRUE(eventually([&] { return exists(ready); }));
    supervisor.signal(SIGINT);
    EXPECT_EQ(supervisor.exit_code(), 8);
}

TEST(supervise, ForwardsOtherSignalsToCommand) {
    for (const int sig : {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
        TempDir dir;
        const std::string ready = dir.file("ready");
        const std::string name = ::sigabbrev_np(sig);
        Supervised supervisor(shell_command(
            dir, "trap 'exit 60' " + name + "; touch " + ready + "; sleep 1000 & wait"));
        ASSERT_TRUE(eventually([&] { return exists(ready); })) << name;
        supervisor.signal(sig);
        EXPECT_EQ(supervisor.exit_code(), 60) << name;
    }
}

TEST(supervise, KillsCommandThatIgnoresSigtermAfterTheStopTimeout) {
    TempDir dir;
    const std::string ready = dir.file("ready");
    Supervised supervisor(shell_command(dir, "trap '' TERM; touch " + ready + "; exec sleep 1000"));
    ASSERT_TRUE(eventually([&] { return exists(ready); }));
    const auto start = std::chrono::steady_clock::now();
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 137);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 1s);
    EXPECT_LT(took, 5s);
}

TEST(supervise, SignalsTheWholeProcessGroupWhenAsked) {
    TempDir dir;
    const std::string grandchild = dir.file("grandchild");
    Config config = shell_command(dir, "sleep 1000 & echo $! > " + grandchild + "; wait");
    config.signal_process_group = true;
    Supervised supervisor(std::move(config));
    ASSERT_TRUE(eventually([&] { return read_lines(grandchild).size() == 1; }));
    const pid_t sleeper = std::stoi(read_lines(grandchild)[0]);
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 128 + SIGTERM);
    // The sleeper got SIGTERM too: gone, or a zombie nobody is left to reap.
    EXPECT_TRUE(eventually([&] {
        const auto state = proc_status_field(sleeper, "State");
        return state.empty() || state == "Z";
    }));
}

TEST(supervise, StopsSshdAndReturnsZeroOnSigtermWithoutCommand) {
    for (const int sig : {SIGTERM, SIGINT}) {
        TempDir dir;
        Config config;
        config.start_sshd = stand_in_sshd(dir.file("sshd.log"));
        Supervised supervisor(std::move(config));
        const pid_t sshd = sshd_pid(dir);
        ASSERT_GT(sshd, 0);
        supervisor.signal(sig);
        EXPECT_EQ(supervisor.exit_code(), 0) << sig;
        EXPECT_TRUE(process_gone(sshd));
    }
}

TEST(supervise, ForwardsSighupToSshdWithoutCommand) {
    TempDir dir;
    const std::string hups = dir.file("hups");
    const std::string ready = dir.file("ready");
    Config config;
    config.start_sshd =
        stand_in_sshd(dir.file("sshd.log"), "trap 'echo hup >> " + hups + "' HUP; touch " + ready +
                                                "; while :; do sleep 0.05; done");
    Supervised supervisor(std::move(config));
    ASSERT_TRUE(eventually([&] { return exists(ready); }));
    supervisor.signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return read_lines(hups).size() == 1; }));
    EXPECT_TRUE(supervisor.running());
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 0);
}

// ---------------------------------------------------------------- sshd and COMMAND lifetimes

TEST(supervise, RestartsSshdAfterItIsKilled) {
    TempDir dir;
    Config config;
    config.start_sshd = stand_in_sshd(dir.file("sshd.log"));
    Supervised supervisor(std::move(config));
    for (std::size_t n = 0; n < 3; ++n) {
        const pid_t sshd = sshd_pid(dir, n);
        ASSERT_GT(sshd, 0) << "start " << n;
        ::kill(sshd, SIGKILL);
    }
    const pid_t last = sshd_pid(dir, 3);
    ASSERT_GT(last, 0);
    EXPECT_TRUE(supervisor.running());
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 0);
    EXPECT_TRUE(process_gone(last));
}

TEST(supervise, StartsAndRestartsTheTunnelServerAndStopsItWithSshd) {
    TempDir dir;
    Config config;
    config.start_sshd = stand_in_sshd(dir.file("sshd.log"));
    config.start_tunnel = stand_in_sshd(dir.file("tunnel.log"));
    Supervised supervisor(std::move(config));
    const std::string log = dir.file("tunnel.log");
    auto tunnel_pid = [&](std::size_t n) -> pid_t {
        if (!eventually([&] { return read_lines(log).size() > n; })) {
            return -1;
        }
        return static_cast<pid_t>(std::stoi(read_lines(log)[n]));
    };
    const pid_t first = tunnel_pid(0);
    ASSERT_GT(first, 0);
    ::kill(first, SIGKILL);
    const pid_t second = tunnel_pid(1);
    ASSERT_GT(second, 0);
    const pid_t sshd = sshd_pid(dir);
    ASSERT_GT(sshd, 0);
    EXPECT_TRUE(supervisor.running());
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 0);
    EXPECT_TRUE(process_gone(second));
    EXPECT_TRUE(process_gone(sshd));
}

TEST(supervise, KeepsTryingWhenSshdCannotBeStarted) {
    TempDir dir;
    Config config;
    auto real_start = stand_in_sshd(dir.file("sshd.log"));
    int attempts = 0;  // lives in the forked supervisor's copy of this test's memory
    config.start_sshd = [&attempts, real_start]() -> util::Expected<pid_t> {
        if (++attempts < 4) {
            return util::make_error("no sshd yet");
        }
        return real_start();
    };
    // No sshd is running: supervise() starts it, retrying with the backoff.
    Supervised supervisor(std::move(config), Supervised::SshdStart::by_supervise);
    const pid_t sshd = sshd_pid(dir);
    ASSERT_GT(sshd, 0);
    EXPECT_TRUE(supervisor.running());
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 0);
    EXPECT_TRUE(process_gone(sshd));
}

TEST(supervise, KeepAliveKeepsServingAfterCommandFails) {
    TempDir dir;
    const std::string command_pid = dir.file("command.pid");
    Config config = shell_command(dir, "echo $$ > " + command_pid + "; exit 3");
    config.keep_alive = true;
    Supervised supervisor(std::move(config));
    ASSERT_TRUE(eventually([&] { return read_lines(command_pid).size() == 1; }));
    const pid_t command = std::stoi(read_lines(command_pid)[0]);
    ASSERT_TRUE(eventually([&] { return process_gone(command); }));  // reaped
    const pid_t sshd = sshd_pid(dir);
    EXPECT_TRUE(supervisor.running());
    EXPECT_FALSE(process_gone(sshd));
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 3);
    EXPECT_TRUE(process_gone(sshd));
}

TEST(supervise, ReapsOrphanedProcesses) {
    TempDir dir;
    const std::string orphans = dir.file("orphans");
    const std::string ready = dir.file("ready");
    // Each ( ... & ) leaves a process whose parent is gone; it is re-parented to
    // the supervisor (PID 1, or a subreaper here) and exits at once.
    Config config = shell_command(dir, "for i in 1 2 3 4 5; do (sh -c 'echo $$ >> " + orphans +
                                           "' &); done; " + "touch " + ready + "; exec sleep 1000");
    Supervised supervisor(std::move(config));
    ASSERT_TRUE(eventually([&] { return exists(ready) && read_lines(orphans).size() == 5; }));
    for (const auto& line : read_lines(orphans)) {
        const pid_t orphan = std::stoi(line);
        EXPECT_TRUE(eventually([&] { return process_gone(orphan); })) << "orphan " << orphan;
    }
    // No zombie anywhere has the supervisor as its parent.
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const pid_t pid = std::stoi(name);
        if (proc_status_field(pid, "PPid") == std::to_string(supervisor.pid())) {
            EXPECT_NE(proc_status_field(pid, "State"), "Z") << "zombie " << pid;
        }
    }
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 143);
}

TEST(supervise, SleepsWithoutWakeupsWhileIdle) {
    TempDir dir;
    Config config;
    config.start_sshd = stand_in_sshd(dir.file("sshd.log"));
    Supervised supervisor(std::move(config));
    ASSERT_GT(sshd_pid(dir), 0);
    const pid_t pid = supervisor.pid();
    // Settled: asleep in sigwaitinfo.
    ASSERT_TRUE(eventually([&] { return proc_status_field(pid, "State") == "S"; }));
    const std::string before = proc_status_field(pid, "voluntary_ctxt_switches");
    std::this_thread::sleep_for(1s);  // the measurement window, not a wait for an event
    const std::string after = proc_status_field(pid, "voluntary_ctxt_switches");
    EXPECT_FALSE(before.empty());
    EXPECT_EQ(before, after);
    supervisor.signal(SIGTERM);
    EXPECT_EQ(supervisor.exit_code(), 0);
}

// ---------------------------------------------------------------- hooks

TEST(run_hook, SucceedsWhenThereIsNoHook) {
    TempDir dir;
    EXPECT_TRUE(run_hook(dir.file("pre_start.sh")));
}

TEST(run_hook, RunsAScriptWithoutExecBitWithTheShell) {
    TempDir dir;
    const std::string hook = dir.file("pre_start.sh");
    const std::string out = dir.file("out");
    std::ofstream(hook) << "echo \"ran $HOOK_VALUE\" > " << out << "\n";
    ::chmod(hook.c_str(), 0644);
    EXPECT_TRUE(run_hook(hook, std::vector<std::string>{"HOOK_VALUE=yes"}));
    EXPECT_EQ(read_lines(out), std::vector<std::string>{"ran yes"});
}

TEST(run_hook, ReportsAFailingHookWithItsExitCode) {
    TempDir dir;
    const std::string hook = dir.file("post_start.sh");
    std::ofstream(hook) << "exit 3\n";
    auto result = run_hook(hook);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("exited with code 3"), std::string::npos)
        << result.error().message;
}

TEST(run_hook, RefusesSomethingThatIsNotAFile) {
    TempDir dir;
    const std::string hook = dir.file("pre_start.sh");
    fs::create_directory(hook);
    EXPECT_FALSE(run_hook(hook));
}

}  // namespace
}  // namespace sshboot::supervise
