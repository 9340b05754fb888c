#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cluster/certificate.hpp"
#include "cluster/derive.hpp"
#include "cluster/secret.hpp"
#include "doctor/checks.hpp"
#include "doctor/cluster_checks.hpp"
#include "doctor/cluster_facts.hpp"
#include "doctor/facts.hpp"
#include "doctor/sshd_options.hpp"
#include "hostkeys/openssh_key.hpp"
#include "keys/fingerprint.hpp"

namespace sshboot::doctor {
namespace {

// A temporary directory removed with everything in it.
class DoctorTempDir {
  public:
    DoctorTempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "doctor-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = std::filesystem::canonical(pattern).string();
    }
    ~DoctorTempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    DoctorTempDir(const DoctorTempDir&) = delete;
    DoctorTempDir& operator=(const DoctorTempDir&) = delete;
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

FileInfo file_info(std::string path, unsigned mode, uid_t uid = 0, bool dir = false) {
    FileInfo f;
    f.path = std::move(path);
    f.exists = true;
    f.is_dir = dir;
    f.is_regular = !dir;
    f.mode = mode;
    f.uid = uid;
    f.gid = uid;
    f.owner_name = uid == 0 ? "root" : uid == 1000 ? "alice" : "";
    return f;
}

// What a working sshboot container looks like.
Facts healthy() {
    Facts f;
    f.sshd_path = "/usr/sbin/sshd";
    f.sshd_version = "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024";
    ProcessInfo sshd;
    sshd.pid = 7;
    sshd.comm = "sshd";
    sshd.config_path = "/etc/sshboot/sshd_config";
    sshd.listen_ports = {22};
    f.sshd_processes = {sshd};
    f.port_owners = {sshd};
    f.port_listening = true;
    f.config_path = "/etc/sshboot/sshd_config";
    f.config_exists = true;
    f.config_test = {true, 0, ""};
    f.options.password_authentication = false;
    f.options.use_pam = false;
    f.options.permit_root_login = "prohibit-password";
    f.options.host_keys = {"/var/lib/sshboot/ssh_host_ed25519_key"};
    f.options_source = "sshd -T";
    f.host_keys = {file_info("/var/lib/sshboot/ssh_host_ed25519_key", 0600)};
    f.host_keys_configured = true;
    f.privsep_dir = file_info("/run/sshd", 0755, 0, true);
    f.state_dir = "/var/lib/sshboot";
    accounts::PasswdEntry root{"root", "x", 0, 0, "root", "/root", "/bin/bash"};
    f.user = root;
    f.shell = file_info("/bin/bash", 0755);
    f.shell_executable = true;
    f.shadow_password = "*";
    AuthorizedKeysFacts a;
    a.path = "/root/.ssh/authorized_keys";
    a.file = file_info(a.path, 0600);
    a.dirs = {file_info("/root/.ssh", 0700, 0, true), file_info("/root", 0700, 0, true)};
    a.usable_keys = 1;
    AuthorizedKeysFacts a2;
    a2.path = "/root/.ssh/authorized_keys2";
    a2.dirs = a.dirs;
    f.authorized_keys = {a, a2};
    f.endpoint.runpod_public_ip = "203.0.113.7";
    f.endpoint.runpod_tcp_port_22 = "40022";
    f.session_env.profile = file_info("/etc/profile.d/sshboot-env.sh", 0644);
    f.session_env.config_has_setenv = true;
    f.password_hash = {accounts::HashMethod::Yescrypt,
                       "/lib/x86_64-linux-gnu/libcrypt.so.1 implements yescrypt and "
                       "/usr/sbin/sshd use libcrypt.so.1"};
    return f;
}

// The one failing result with this id (test fails if there is not exactly one).
CheckResult the_failure(const std::vector<CheckResult>& results, const std::string& id) {
    std::vector<CheckResult> hits;
    for (const auto& r : results) {
        if (r.status == Status::Fail && r.id == id) {
            hits.push_back(r);
        }
    }
    EXPECT_EQ(hits.size(), 1u) << render_text(results);
    return hits.empty() ? CheckResult{} : hits.front();
}

std::size_t failures(const std::vector<CheckResult>& results) {
    std::size_t n = 0;
    for (const auto& r : results) {
        n += r.status == Status::Fail ? 1 : 0;
    }
    return n;
}

bool contains(const std::string& s, std::string_view what) {
    return s.find(what) != std::string::npos;
}

// --- pure parsers --------------------------------------------------------------

TEST(parse_sshd_options, FirstValueWinsAndDefaultsFill) {
    const auto o = parse_sshd_options(
        "# comment\n"
        "passwordauthentication no\n"
        "PasswordAuthentication yes\n"
        "UsePAM=yes\n"
        "Port 2222\n"
        "Port 2223\n"
        "HostKey /k/one\n"
        "HostKey \"/k/two\"\n");
    EXPECT_FALSE(o.password_authentication);
    EXPECT_TRUE(o.use_pam);
    EXPECT_TRUE(o.strict_modes);
    EXPECT_TRUE(o.pubkey_authentication);
    EXPECT_EQ(o.permit_root_login, "prohibit-password");
    EXPECT_EQ(o.ports, (std::vector<std::uint16_t>{2222, 2223}));
    EXPECT_EQ(o.host_keys, (std::vector<std::string>{"/k/one", "/k/two"}));
    EXPECT_EQ(o.authorized_keys_files,
              (std::vector<std::string>{".ssh/authorized_keys", ".ssh/authorized_keys2"}));
}

TEST(parse_sshd_options, ReadsIncludesInPlaceAndStopsAtMatch) {
    const auto o = parse_sshd_options(
        "Include /etc/x/*.conf\n"
        "PasswordAuthentication no\n"
        "Match User bob\n"
        "  StrictModes no\n",
        [](std::string_view pattern) {
            EXPECT_EQ(pattern, "/etc/x/*.conf");
            return std::vector<std::string>{"PasswordAuthentication yes\nPermitRootLogin yes\n"};
        });
    EXPECT_TRUE(o.password_authentication);
    EXPECT_EQ(o.permit_root_login, "yes");
    EXPECT_TRUE(o.strict_modes);
}

TEST(parse_sshd_options, ReadsSshdTOutput) {
    const auto o = parse_sshd_options(
        "port 22\nusepam no\npasswordauthentication no\nstrictmodes yes\n"
        "authorizedkeysfile .ssh/authorized_keys %h/.ssh/other\n"
        "hostkey /var/lib/sshboot/ssh_host_ed25519_key\n");
    EXPECT_FALSE(o.password_authentication);
    EXPECT_EQ(o.authorized_keys_files,
              (std::vector<std::string>{".ssh/authorized_keys", "%h/.ssh/other"}));
}

TEST(parse_sshd_version, FindsTheVersionInUsageOutput) {
    EXPECT_EQ(parse_sshd_version("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\n"),
              "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024");
    // Older sshd: unknown option, then usage with the version line.
    EXPECT_EQ(parse_sshd_version("sshd: illegal option -- V\nOpenSSH_7.4p1, OpenSSL 1.0.2k\n"
                                 "usage: sshd [-46DdeiqTt] ...\n"),
              "OpenSSH_7.4p1, OpenSSL 1.0.2k");
    EXPECT_EQ(parse_sshd_version("nothing here"), "");
}

TEST(config_from_cmdline, FindsTheFArgument) {
    using namespace std::string_literals;
    EXPECT_EQ(config_from_cmdline("/usr/sbin/sshd\0-D\0-e\0-f\0/etc/sshboot/sshd_config\0"s),
              "/etc/sshboot/sshd_config");
    EXPECT_EQ(config_from_cmdline("sshd\0-f/etc/x\0"s), "/etc/x");
    EXPECT_EQ(config_from_cmdline("sshd: /usr/sbin/sshd -D [listener]\0"s), "");
}

TEST(expand_authorized_keys_path, ExpandsTokensAndRelativePaths) {
    EXPECT_EQ(expand_authorized_keys_path(".ssh/authorized_keys", "/home/a", "a"),
              "/home/a/.ssh/authorized_keys");
    EXPECT_EQ(expand_authorized_keys_path("/etc/ssh/keys/%u", "/home/a", "a"), "/etc/ssh/keys/a");
    EXPECT_EQ(expand_authorized_keys_path("%h/k%%", "/home/a", "a"), "/home/a/k%");
}

TEST(strict_modes_dirs, WalksUpToHome) {
    DoctorTempDir tmp;
    const std::string home = tmp.path() + "/home";
    std::filesystem::create_directories(home + "/.ssh");
    const auto dirs = strict_modes_dirs(home + "/.ssh/authorized_keys", home);
    EXPECT_EQ(dirs, (std::vector<std::string>{home + "/.ssh", home}));
}

TEST(strict_modes_dirs, OutsideHomeGoesToRoot) {
    const auto dirs = strict_modes_dirs("/etc/ssh/keys/a", "/home/a");
    ASSERT_FALSE(dirs.empty());
    EXPECT_EQ(dirs.back(), "/");
}

TEST(inspect_file, ReportsModeOwnerAndAbsence) {
    DoctorTempDir tmp;
    const std::string path = tmp.path() + "/f";
    std::ofstream(path) << "x";
    ::chmod(path.c_str(), 0640);
    const std::string passwd = "someone:x:" + std::to_string(::getuid()) + ":0::/:/bin/sh\n";
    const auto f = inspect_file(path, passwd);
    EXPECT_TRUE(f.exists);
    EXPECT_TRUE(f.is_regular);
    EXPECT_EQ(f.mode, 0640u);
    EXPECT_EQ(f.owner_name, "someone");
    EXPECT_FALSE(inspect_file(tmp.path() + "/missing").exists);
    EXPECT_TRUE(inspect_file(tmp.path()).is_dir);
}

TEST(mode_string, FourOctalDigits) {
    EXPECT_EQ(mode_string(0755), "0755");
    EXPECT_EQ(mode_string(01777), "1777");
    EXPECT_EQ(mode_string(0), "0000");
}

// --- evaluate: each broken state named -------------------------------------

TEST(evaluate, HealthyContainerPassesEverything) {
    const auto results = evaluate(healthy());
    EXPECT_EQ(failures(results), 0u) << render_text(results);
    EXPECT_EQ(doctor_exit_code(results), 0);
    const auto text = render_text(results);
    EXPECT_TRUE(contains(text, "OK    sshd installed: /usr/sbin/sshd (OpenSSH_9.2p1")) << text;
    EXPECT_TRUE(contains(text, "All checks passed.")) << text;
}

TEST(evaluate, PasswordHashMethodIsNamed) {
    auto f = healthy();
    auto text = render_text(evaluate(f));
    EXPECT_TRUE(contains(text,
                         "OK    passwords are hashed with yescrypt ($y$): "
                         "/lib/x86_64-linux-gnu/libcrypt.so.1 implements yescrypt"))
        << text;
    // With a password: how it is stored, and a nudge when it is weak.
    f.shadow_password = "$6$salt$hash";
    f.options.password_authentication = true;
    f.options.permit_root_login = "yes";
    text = render_text(evaluate(f));
    EXPECT_TRUE(contains(text,
                         "root's password is stored as sha512 (5000 rounds) (weaker; "
                         "sshboot password sets it again with yescrypt ($y$))"))
        << text;
}

TEST(evaluate, YescryptHashTheImageCannotVerify) {
    auto f = healthy();
    f.password_hash = {accounts::HashMethod::Sha512,
                       "/usr/sbin/sshd is not linked against libcrypt.so.1"};
    f.shadow_password = "$y$j9T$salt$hash";
    const auto r = the_failure(evaluate(f), "password-hash");
    EXPECT_TRUE(contains(r.message, "cannot verify")) << r.message;
    EXPECT_TRUE(contains(r.fix, "sshboot password")) << r.fix;
}

TEST(evaluate, SshdMissing) {
    auto f = healthy();
    f.sshd_path.clear();
    f.sshd_processes.clear();
    const auto results = evaluate(f);
    const auto r = the_failure(results, "sshd-installed");
    EXPECT_TRUE(contains(r.fix, "apt-get install -y openssh-server"));
    EXPECT_EQ(doctor_exit_code(results), 1);
}

TEST(evaluate, SshdStopped) {
    auto f = healthy();
    f.sshd_processes.clear();
    f.port_owners.clear();
    const auto results = evaluate(f);
    const auto r = the_failure(results, "sshd-running");
    EXPECT_TRUE(contains(r.message, "sshd is not running")) << r.message;
    EXPECT_TRUE(contains(r.fix, "sshboot")) << r.fix;
    EXPECT_TRUE(contains(render_text(results), "SKIP  sshd listening on port 22"));
}

TEST(evaluate, SshdOnAnotherPort) {
    auto f = healthy();
    f.port = 2222;
    f.port_from_variable = true;
    f.port_owners.clear();
    const auto r = the_failure(evaluate(f), "sshd-listening");
    EXPECT_TRUE(contains(r.message, "sshd listens on port 22, not on port 2222 (SSH_PORT)"))
        << r.message;
}

TEST(evaluate, PortTakenBySomethingElse) {
    auto f = healthy();
    f.sshd_processes[0].listen_ports.clear();
    ProcessInfo other{99, "python3", "", {22}};
    f.port_owners = {other};
    const auto r = the_failure(evaluate(f), "sshd-listening");
    EXPECT_TRUE(contains(r.message, "taken by python3 (pid 99)")) << r.message;
}

TEST(evaluate, ConfigTestFails) {
    auto f = healthy();
    f.config_test = {true, 255, "/etc/sshboot/sshd_config line 3: Bad configuration option: Foo\n"};
    const auto r = the_failure(evaluate(f), "sshd-config");
    EXPECT_TRUE(contains(r.message, "line 3: Bad configuration option: Foo")) << r.message;
}

TEST(evaluate, NoHostKeys) {
    auto f = healthy();
    f.host_keys[0].exists = false;
    const auto results = evaluate(f);
    std::size_t n = 0;
    for (const auto& r : results) {
        if (r.id == "host-keys" && r.status == Status::Fail) {
            ++n;
            EXPECT_TRUE(contains(r.fix,
                                 "ssh-keygen -q -t ed25519 -N '' -f "
                                 "/var/lib/sshboot/ssh_host_ed25519_key"))
                << r.fix;
        }
    }
    EXPECT_GE(n, 1u) << render_text(results);
}

TEST(evaluate, NoHostKeysAtDefaultPaths) {
    auto f = healthy();
    f.host_keys_configured = false;
    f.host_keys.clear();
    for (const auto& p : default_host_key_paths()) {
        FileInfo missing;
        missing.path = p;
        f.host_keys.push_back(missing);
    }
    const auto r = the_failure(evaluate(f), "host-keys");
    EXPECT_TRUE(contains(r.message, "no host key")) << r.message;
    EXPECT_EQ(r.fix, "ssh-keygen -A");
}

TEST(evaluate, HostKeyReadableByOthers) {
    auto f = healthy();
    f.host_keys[0].mode = 0644;
    const auto r = the_failure(evaluate(f), "host-keys");
    EXPECT_EQ(r.message,
              "host key /var/lib/sshboot/ssh_host_ed25519_key is mode 0644: sshd refuses a "
              "private key that others can read, and whoever read it can impersonate this "
              "server");
    EXPECT_TRUE(r.fix.starts_with("restart the container")) << r.fix;
    EXPECT_TRUE(r.fix.ends_with("chmod 600 /var/lib/sshboot/ssh_host_ed25519_key")) << r.fix;
}

TEST(evaluate, StateDirOthersControlIsNamedWithItsFix) {
    auto f = healthy();
    f.state_dir = "/workspace/.sshboot";
    f.state_dir_problem = util::PathProblem{
        "/workspace", "/workspace is mode 0777 (writable by every user)", "chmod go-w /workspace"};
    const auto r = the_failure(evaluate(f), "state-dir");
    EXPECT_TRUE(contains(r.message, "host key directory /workspace/.sshboot is not safe"))
        << r.message;
    EXPECT_TRUE(contains(r.message, "/workspace is mode 0777")) << r.message;
    EXPECT_TRUE(contains(r.message, "keeps host keys in /var/lib/sshboot")) << r.message;
    EXPECT_TRUE(r.fix.starts_with("chmod go-w /workspace")) << r.fix;
}

TEST(evaluate, StateDirSafeIsOk) {
    const auto results = evaluate(healthy());
    bool seen = false;
    for (const auto& r : results) {
        if (r.id == "state-dir") {
            seen = true;
            EXPECT_EQ(r.status, Status::Ok) << r.message;
        }
    }
    EXPECT_TRUE(seen);
}

TEST(evaluate, PrivsepDirMissing) {
    auto f = healthy();
    f.privsep_dir = FileInfo{};
    f.privsep_dir.path = "/run/sshd";
    const auto r = the_failure(evaluate(f), "privsep-dir");
    EXPECT_TRUE(contains(r.message, "/run/sshd is missing")) << r.message;
    EXPECT_TRUE(contains(r.fix, "mkdir -p /run/sshd")) << r.fix;
}

TEST(evaluate, PrivsepDirWritableByOthers) {
    auto f = healthy();
    f.privsep_dir.mode = 0777;
    const auto r = the_failure(evaluate(f), "privsep-dir");
    EXPECT_TRUE(contains(r.message, "mode 0777")) << r.message;
}

TEST(evaluate, UserMissing) {
    auto f = healthy();
    f.user_name = "alice";
    f.user.reset();
    const auto results = evaluate(f);
    const auto r = the_failure(results, "user");
    EXPECT_TRUE(contains(r.message, "user alice (SSH_USER) does not exist")) << r.message;
    EXPECT_TRUE(contains(r.fix, "useradd -m -s /bin/bash alice")) << r.fix;
}

TEST(evaluate, ShellDoesNotExist) {
    auto f = healthy();
    f.user->shell = "/bin/zsh";
    f.shell = FileInfo{};
    f.shell.path = "/bin/zsh";
    f.shell_executable = false;
    const auto r = the_failure(evaluate(f), "shell");
    EXPECT_EQ(r.message,
              "root's login shell /bin/zsh does not exist: sshd refuses every login of root");
    EXPECT_TRUE(contains(r.fix, "usermod -s /bin/bash root")) << r.fix;
}

TEST(evaluate, ShellNotExecutable) {
    auto f = healthy();
    f.shell.mode = 0644;
    f.shell_executable = false;
    const auto r = the_failure(evaluate(f), "shell");
    EXPECT_TRUE(contains(r.message, "is not an executable file (mode 0644)")) << r.message;
}

TEST(evaluate, LockedAccountWithoutPam) {
    auto f = healthy();
    f.shadow_password = "!";
    const auto r = the_failure(evaluate(f), "account-lock");
    EXPECT_TRUE(contains(r.message, "locked")) << r.message;
    EXPECT_TRUE(contains(r.message, "UsePAM is no")) << r.message;
    EXPECT_EQ(r.fix, "usermod -p '*' root ('*': no password, but not locked)");

    f.shadow_password = "!$6$salt$hash";
    EXPECT_EQ(the_failure(evaluate(f), "account-lock").fix, "usermod -U root");
}

TEST(evaluate, LockedAccountWithPamIsFine) {
    auto f = healthy();
    f.shadow_password = "!";
    f.options.use_pam = true;
    EXPECT_EQ(failures(evaluate(f)), 0u);
}

TEST(evaluate, StarIsNotALock) {
    auto f = healthy();
    f.shadow_password = "*";
    for (const auto& r : evaluate(f)) {
        EXPECT_FALSE(r.id == "account-lock" && r.status == Status::Fail);
    }
}

TEST(evaluate, HomeWorldWritable) {
    auto f = healthy();
    for (auto& a : f.authorized_keys) {
        a.dirs[1].mode = 0777;
    }
    const auto r = the_failure(evaluate(f), "strict-modes");
    EXPECT_EQ(render_text({r}).substr(0, render_text({r}).find('\n')),
              "FAIL  home directory /root is mode 0777 (group/world-writable): sshd ignores root's "
              "keys. Fix: chmod 755 /root");
}

TEST(evaluate, SshDirGroupWritable) {
    auto f = healthy();
    for (auto& a : f.authorized_keys) {
        a.dirs[0].mode = 0770;
    }
    const auto r = the_failure(evaluate(f), "strict-modes");
    EXPECT_TRUE(contains(r.message, ".ssh directory /root/.ssh is mode 0770")) << r.message;
    EXPECT_EQ(r.fix, "chmod 700 /root/.ssh");
}

TEST(evaluate, AuthorizedKeysWorldWritable) {
    auto f = healthy();
    f.authorized_keys[0].file.mode = 0666;
    const auto r = the_failure(evaluate(f), "strict-modes");
    EXPECT_TRUE(contains(r.message, "authorized_keys /root/.ssh/authorized_keys is mode 0666"))
        << r.message;
    EXPECT_EQ(r.fix, "chmod 600 /root/.ssh/authorized_keys");
}

TEST(evaluate, AuthorizedKeysOwnedByAnotherUser) {
    auto f = healthy();
    f.authorized_keys[0].file = file_info("/root/.ssh/authorized_keys", 0600, 1000);
    const auto r = the_failure(evaluate(f), "strict-modes");
    EXPECT_TRUE(contains(r.message, "is owned by alice (uid 1000), not root or root")) << r.message;
    EXPECT_EQ(r.fix, "chown root /root/.ssh/authorized_keys");
}

TEST(evaluate, AuthorizedKeysUnreadableByItsUser) {
    auto f = healthy();
    f.user = accounts::PasswdEntry{"alice", "x", 1000, 1000, "", "/home/alice", "/bin/bash"};
    AuthorizedKeysFacts a;
    a.path = "/home/alice/.ssh/authorized_keys";
    a.file = file_info(a.path, 0600, 0);
    a.dirs = {file_info("/home/alice/.ssh", 0700, 1000, true),
              file_info("/home/alice", 0755, 1000, true)};
    a.usable_keys = 1;
    f.authorized_keys = {a};
    const auto r = the_failure(evaluate(f), "strict-modes");
    EXPECT_TRUE(contains(r.message, "is not readable by alice")) << r.message;
}

TEST(evaluate, StrictModesOffSkipsPermissions) {
    auto f = healthy();
    f.options.strict_modes = false;
    f.authorized_keys[0].file.mode = 0666;
    EXPECT_EQ(failures(evaluate(f)), 0u);
}

TEST(evaluate, NoKeyAndNoPassword) {
    auto f = healthy();
    f.authorized_keys[0].usable_keys = 0;
    f.authorized_keys[0].refused = 2;
    const auto r = the_failure(evaluate(f), "login-method");
    EXPECT_TRUE(contains(r.message, "nobody can log in")) << r.message;
    EXPECT_TRUE(contains(r.message, "2 line(s) there are not usable keys")) << r.message;
    EXPECT_TRUE(contains(r.fix, "SSH_PUBLIC_KEY")) << r.fix;
    EXPECT_TRUE(contains(r.fix, "sshboot password")) << r.fix;
}

TEST(evaluate, PasswordWithoutKeysIsEnough) {
    auto f = healthy();
    f.authorized_keys[0].usable_keys = 0;
    f.shadow_password = "$y$j9T$salt$hash";
    f.options.password_authentication = true;
    f.options.permit_root_login = "yes";
    EXPECT_EQ(failures(evaluate(f)), 0u) << render_text(evaluate(f));
}

TEST(evaluate, PasswordSetButLoginOff) {
    auto f = healthy();
    f.shadow_password = "$y$j9T$salt$hash";
    const auto r = the_failure(evaluate(f), "password-login");
    EXPECT_TRUE(contains(r.message, "root has a password but PasswordAuthentication no"))
        << r.message;
}

TEST(evaluate, PasswordLoginOnWithoutPassword) {
    auto f = healthy();
    f.options.password_authentication = true;
    const auto r = the_failure(evaluate(f), "password-login");
    EXPECT_TRUE(contains(r.message,
                         "PasswordAuthentication yes (from sshd -T) but root has no "
                         "password"))
        << r.message;
}

TEST(evaluate, RootPasswordRefusedByPermitRootLogin) {
    auto f = healthy();
    f.shadow_password = "$y$j9T$salt$hash";
    f.options.password_authentication = true;
    const auto r = the_failure(evaluate(f), "password-login");
    EXPECT_TRUE(contains(r.message, "PermitRootLogin is prohibit-password")) << r.message;
}

TEST(evaluate, EndpointMissing) {
    auto f = healthy();
    f.endpoint = {};
    const auto r = the_failure(evaluate(f), "endpoint");
    EXPECT_TRUE(contains(r.message, "RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"));
    EXPECT_TRUE(contains(r.fix, "SSH_PUBLIC_HOST"));
}

TEST(evaluate, RunpodPortNotExposed) {
    auto f = healthy();
    f.endpoint.runpod_tcp_port_22.clear();
    const auto r = the_failure(evaluate(f), "endpoint");
    EXPECT_TRUE(contains(r.fix, "Expose TCP Ports")) << r.fix;
}

TEST(evaluate, RunpodForwardsToTwentyTwoButSshdElsewhere) {
    auto f = healthy();
    f.port = 2222;
    f.port_from_variable = true;
    f.sshd_processes[0].listen_ports = {2222};
    f.port_owners = f.sshd_processes;
    const auto r = the_failure(evaluate(f), "endpoint");
    EXPECT_TRUE(contains(r.message, "RUNPOD_TCP_PORT_22 forwards to port 22")) << r.message;

    // Host networking: the same port outside and inside, nothing forwarded.
    f.endpoint.runpod_tcp_port_22 = "2222";
    EXPECT_EQ(failures(evaluate(f)), 0u) << render_text(evaluate(f));
}

TEST(evaluate, RunpodPortVariableForSshPortIsNotAForwardingToTwentyTwo) {
    auto f = healthy();
    f.port = 2222;
    f.port_from_variable = true;
    f.sshd_processes[0].listen_ports = {2222};
    f.port_owners = f.sshd_processes;
    f.endpoint.internal_port = 2222;
    f.endpoint.runpod_tcp_port = "40222";
    EXPECT_EQ(failures(evaluate(f)), 0u) << render_text(evaluate(f));
    EXPECT_TRUE(contains(render_text(evaluate(f)), "ssh root@203.0.113.7 -p 40222 (from RunPod)"));

    // A public IP without the port variable names the variable for SSH_PORT.
    f.endpoint.runpod_tcp_port.clear();
    f.endpoint.runpod_tcp_port_22.clear();
    const auto r = the_failure(evaluate(f), "endpoint");
    EXPECT_TRUE(contains(r.message, "RUNPOD_TCP_PORT_2222 is not")) << r.message;
}

TEST(evaluate, EndpointNamesTheCommand) {
    const auto results = evaluate(healthy());
    EXPECT_TRUE(contains(render_text(results), "ssh root@203.0.113.7 -p 40022 (from RunPod)"));
}

TEST(evaluate, SessionEnvMissing) {
    auto f = healthy();
    f.session_env.profile = FileInfo{};
    f.session_env.profile.path = "/etc/profile.d/sshboot-env.sh";
    const auto r = the_failure(evaluate(f), "session-env");
    EXPECT_TRUE(contains(r.message, "/etc/profile.d/sshboot-env.sh is missing")) << r.message;
}

TEST(render_text, FailLineCarriesItsFix) {
    const std::vector<CheckResult> results = {{"a", Status::Ok, "fine", ""},
                                              {"b", Status::Fail, "broken", "mend it"}};
    EXPECT_EQ(render_text(results),
              "OK    fine\nFAIL  broken. Fix: mend it\n\n1 problem found. Fix them from the top "
              "(later checks often fail because of earlier ones), then run sshboot doctor "
              "again.\n");
}

TEST(render_json, ListsChecksWithStatus) {
    const std::vector<CheckResult> results = {{"a", Status::Ok, "fine \"x\"", ""},
                                              {"b", Status::Skip, "later", ""}};
    EXPECT_EQ(render_json(results),
              "{\n  \"ok\": true,\n  \"checks\": [\n"
              "    {\"id\": \"a\", \"status\": \"ok\", \"message\": \"fine \\\"x\\\"\", \"fix\": "
              "\"\"},\n"
              "    {\"id\": \"b\", \"status\": \"skip\", \"message\": \"later\", \"fix\": \"\"}\n"
              "  ]\n}\n");
}

// --- cluster ------------------------------------------------------------------

constexpr const char* k_cluster_secret =
    "sshboot-cluster-v1:doctor-unit-test-secret-0123456789abcdefghijklmnop";

struct SignedCert {
    std::string line;
    std::string ca_fingerprint;
    std::string known_hosts;
};

SignedCert signed_cert(std::vector<std::string> principals, std::uint64_t after = 0,
                       std::uint64_t before = UINT64_MAX) {
    const auto ca = cluster::derive_host_ca(k_cluster_secret);
    const auto host = hostkeys::generate_ed25519();
    cluster::HostCertificateRequest req;
    req.host_public_key = host.public_key;
    req.key_id = "sshboot-cluster node-0";
    req.principals = std::move(principals);
    req.valid_after = after;
    req.valid_before = before;
    const auto blob = cluster::sign_host_certificate(req, ca);
    return {cluster::certificate_line(blob, "node-0"),
            keys::fingerprint_sha256(hostkeys::ed25519_public_blob(ca)),
            "# mine\nexample.org ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n" +
                cluster::cert_authority_line(ca, "*", "sshboot-cluster-ca") + "\n"};
}

// A healthy node-0 of two nodes on 127.0.0.1.
ClusterFacts healthy_cluster() {
    ClusterFacts f;
    f.enabled = true;
    f.state_path = "/run/sshboot/cluster";
    cluster::ClusterState s;
    s.rank = 0;
    s.user = "root";
    s.identity_file = "/root/.ssh/id_ed25519";
    s.known_hosts = "/root/.ssh/known_hosts";
    s.nodes = {cluster::Node{0, "127.0.0.1", 2200}, cluster::Node{1, "127.0.0.1", 2201}};
    f.state = s;
    f.secret_source = "SSHBOOT_CLUSTER_SECRET";
    const auto cert = signed_cert({"node-0", "127.0.0.1", "cnode0"});
    f.certificate_path = "/var/lib/sshboot/ssh_host_ed25519_key-cert.pub";
    f.certificate = *parse_certificate_line(cert.line);
    f.known_ca_fingerprints = cert_authority_fingerprints(cert.known_hosts);
    f.now = 1800000000;
    f.peers_probed = true;
    f.peers = {PeerResult{s.nodes[0], true, ""}, PeerResult{s.nodes[1], true, ""}};
    f.pdsh_path = "/usr/bin/pdsh";
    f.mpirun_path = "/usr/bin/mpirun";
    f.client_keys = {{"/root/.ssh/id_ed25519", 0600}};
    return f;
}

const CheckResult* find_check(const std::vector<CheckResult>& results, const std::string& id,
                              Status status) {
    for (const auto& r : results) {
        if (r.id == id && r.status == status) {
            return &r;
        }
    }
    return nullptr;
}

bool any_not_ok(const std::vector<CheckResult>& results) {
    for (const auto& r : results) {
        if (r.status != Status::Ok) {
            return true;
        }
    }
    return false;
}

TEST(parse_certificate_line, ReadsPrincipalsWindowAndCa) {
    const auto cert = signed_cert({"node-0", "10.0.0.1"}, 100, 200);
    auto c = parse_certificate_line(cert.line);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->type, "ssh-ed25519-cert-v01@openssh.com");
    EXPECT_EQ(c->cert_type, 2u);
    EXPECT_EQ(c->key_id, "sshboot-cluster node-0");
    EXPECT_EQ(c->principals, (std::vector<std::string>{"node-0", "10.0.0.1"}));
    EXPECT_EQ(c->valid_after, 100u);
    EXPECT_EQ(c->valid_before, 200u);
    EXPECT_EQ(c->ca_fingerprint, cert.ca_fingerprint);
}

TEST(parse_certificate_line, RefusesTruncatedAndOtherTypes) {
    const auto cert = signed_cert({"node-0"});
    EXPECT_FALSE(parse_certificate_line(cert.line.substr(0, cert.line.size() / 2)));
    EXPECT_FALSE(parse_certificate_line(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"));
    EXPECT_FALSE(parse_certificate_line("garbage"));
}

TEST(cert_authority_fingerprints, OnlyCertAuthorityLines) {
    const auto cert = signed_cert({"node-0"});
    EXPECT_EQ(cert_authority_fingerprints(cert.known_hosts),
              std::vector<std::string>{cert.ca_fingerprint});
    EXPECT_TRUE(cert_authority_fingerprints("host ssh-ed25519 AAAA\n").empty());
}

TEST(check_cluster, NothingWhenClusterModeIsOff) {
    ClusterFacts f;
    EXPECT_TRUE(check_cluster(f).empty());
}

TEST(check_cluster, HealthyNodePassesEveryCheck) {
    const auto results = check_cluster(healthy_cluster());
    EXPECT_FALSE(any_not_ok(results));
    for (const char* id : {"cluster-state", "cluster-secret", "cluster-file-modes",
                           "cluster-certificate", "cluster-peers", "cluster-launchers"}) {
        EXPECT_NE(find_check(results, id, Status::Ok), nullptr) << id;
    }
    EXPECT_EQ(doctor_exit_code(results), 0);
}

TEST(evaluate, EndpointMissingOnAClusterNodeIsAWarning) {
    auto f = healthy();
    f.endpoint = {};
    f.cluster = healthy_cluster();
    f.cluster.state->nodes.push_back(cluster::Node{2, "127.0.0.1", 2202});
    f.cluster.peers.push_back(PeerResult{f.cluster.state->nodes[2], true, ""});
    const auto results = evaluate(f);
    EXPECT_EQ(doctor_exit_code(results), 0) << render_text(results);
    const auto it = std::find_if(results.begin(), results.end(),
                                 [](const CheckResult& r) { return r.id == "endpoint"; });
    ASSERT_NE(it, results.end());
    EXPECT_EQ(it->status, Status::Warn);
    EXPECT_TRUE(contains(it->message, "RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"));
    EXPECT_TRUE(contains(it->message, "the other 2 node(s) of the cluster")) << it->message;
    EXPECT_TRUE(contains(it->fix, "SSH_PUBLIC_HOST"));

    // RunPod's port not exposed: the same.
    f.endpoint.runpod_public_ip = "203.0.113.7";
    EXPECT_EQ(doctor_exit_code(evaluate(f)), 0) << render_text(evaluate(f));
}

TEST(evaluate, EndpointMissingOnAOneNodeClusterFails) {
    auto f = healthy();
    f.endpoint = {};
    f.cluster = healthy_cluster();
    f.cluster.state->nodes.resize(1);
    f.cluster.peers.resize(1);
    const auto r = the_failure(evaluate(f), "endpoint");
    EXPECT_TRUE(contains(r.message, "RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"));

    // A primary that expects workers still to register has peers.
    f.cluster.state->expect = 2;
    EXPECT_EQ(doctor_exit_code(evaluate(f)), 0) << render_text(evaluate(f));
}

TEST(check_cluster, StateMissingFails) {
    auto f = healthy_cluster();
    f.state.reset();
    f.state_error = "No such file or directory";
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-state", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "/run/sshboot/cluster")) << r->message;
    EXPECT_NE(find_check(results, "cluster-certificate", Status::Skip), nullptr);
    EXPECT_NE(find_check(results, "cluster-peers", Status::Skip), nullptr);
}

TEST(check_cluster, WeakSecretFailsAndSaysHowToMakeOne) {
    auto f = healthy_cluster();
    f.secret_problem = "SSHBOOT_CLUSTER_SECRET is too weak";
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-secret", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->fix, "sshboot cluster secret")) << r->fix;
}

TEST(check_cluster, SecretNotVisibleIsSkipped) {
    auto f = healthy_cluster();
    f.secret_source.clear();
    EXPECT_NE(find_check(check_cluster(f), "cluster-secret", Status::Skip), nullptr);
}

TEST(check_cluster, ReadableSecretFileFailsTheSecretCheckWithDefaultMode) {
    auto f = healthy_cluster();
    f.secret_source = "SSHBOOT_CLUSTER_SECRET_FILE /etc/cluster/secret";
    f.secret_file = "/etc/cluster/secret";
    f.secret_file_mode = 0644;
    f.secret_problem = "SSHBOOT_CLUSTER_SECRET_FILE /etc/cluster/secret " +
                       cluster::secret_file_problem(S_IFREG | 0644, 0, 0);
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-secret", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "0644")) << r->message;
    EXPECT_TRUE(contains(r->message, "defaultMode: 0400")) << r->message;
    EXPECT_EQ(doctor_exit_code(results), 1);
    f.secret_file_mode = 0400;
    f.secret_problem.clear();
    EXPECT_NE(find_check(check_cluster(f), "cluster-file-modes", Status::Ok), nullptr);
}

TEST(check_cluster, OpenPrivateKeyFailsWithChmod) {
    auto f = healthy_cluster();
    f.client_keys.emplace_back("/root/.ssh/id_rsa", 0644);
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-file-modes", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "too open")) << r->message;
    EXPECT_TRUE(contains(r->fix, "chmod 600 /root/.ssh/id_rsa")) << r->fix;
}

TEST(check_cluster, CertificateMissingPrincipalFails) {
    auto f = healthy_cluster();
    f.certificate = *parse_certificate_line(signed_cert({"node-0", "cnode0"}).line);
    f.known_ca_fingerprints = {f.certificate->ca_fingerprint};
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-certificate", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "not valid for 127.0.0.1")) << r->message;
}

TEST(check_cluster, CertificateOutsideItsWindowFails) {
    auto f = healthy_cluster();
    f.certificate = *parse_certificate_line(signed_cert({"node-0", "127.0.0.1"}, 10, 1000).line);
    f.known_ca_fingerprints = {f.certificate->ca_fingerprint};
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-certificate", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "not valid now")) << r->message;
    f.now = 500;
    EXPECT_NE(find_check(check_cluster(f), "cluster-certificate", Status::Ok), nullptr);
}

TEST(check_cluster, CertificateFromAnotherCaFails) {
    auto f = healthy_cluster();
    f.known_ca_fingerprints = {"SHA256:somebodyelse"};
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-certificate", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(contains(r->message, "different cluster secrets")) << r->message;
}

TEST(check_cluster, CertificateAbsentFails) {
    auto f = healthy_cluster();
    f.certificate_path.clear();
    f.certificate.reset();
    EXPECT_NE(find_check(check_cluster(f), "cluster-certificate", Status::Fail), nullptr);
}

TEST(check_cluster, UnreachablePeerIsNamed) {
    auto f = healthy_cluster();
    f.peers[1].ready = false;
    f.peers[1].why = "connection refused: no sshd listening on that port (yet)";
    const auto results = check_cluster(f);
    const auto* r = find_check(results, "cluster-peers", Status::Fail);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(
        contains(r->message, "node-1 (127.0.0.1:2201) is not reachable: connection refused"))
        << r->message;
    EXPECT_EQ(find_check(results, "cluster-peers", Status::Ok), nullptr);
}

TEST(check_cluster, MissingLaunchersOnlyWarn) {
    auto f = healthy_cluster();
    f.pdsh_path.clear();
    f.mpirun_path.clear();
    const auto results = check_cluster(f);
    int warnings = 0;
    for (const auto& r : results) {
        warnings += r.id == "cluster-launchers" && r.status == Status::Warn ? 1 : 0;
    }
    EXPECT_EQ(warnings, 2);
    EXPECT_EQ(doctor_exit_code(results), 0);
}

void write_text(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
}

TEST(gather_cluster, OffWithoutSecretOrState) {
    DoctorTempDir dir;
    ClusterGatherOptions o;
    o.state_path = dir.path() + "/cluster";
    o.probe = false;
    EXPECT_FALSE(gather_cluster(o).enabled);
}

TEST(gather_cluster, ReadsStateCertificateKnownHostsAndSecretFileMode) {
    DoctorTempDir dir;
    const auto cert = signed_cert({"node-0", "127.0.0.1"});
    write_text(dir.path() + "/known_hosts", cert.known_hosts, 0644);
    write_text(dir.path() + "/host_key-cert.pub", cert.line, 0644);
    cluster::ClusterState s;
    s.rank = 0;
    s.user = "root";
    s.identity_file = dir.path() + "/id_ed25519";
    s.known_hosts = dir.path() + "/known_hosts";
    s.nodes = {cluster::Node{0, "127.0.0.1", 2200}, cluster::Node{1, "127.0.0.1", 2201}};
    write_text(dir.path() + "/cluster", cluster::render_state(s), 0644);
    const std::string secret = cluster::generate_secret();
    write_text(dir.path() + "/secret", secret + "\n", 0644);

    ClusterGatherOptions o;
    o.env = {{"SSHBOOT_CLUSTER_SECRET_FILE", dir.path() + "/secret"}};
    o.state_path = dir.path() + "/cluster";
    o.host_keys = {dir.path() + "/other_key", dir.path() + "/host_key"};
    o.path_env = dir.path();
    o.probe = false;
    const auto f = gather_cluster(o);
    EXPECT_TRUE(f.enabled);
    ASSERT_TRUE(f.state.has_value()) << f.state_error;
    EXPECT_EQ(f.state->nodes.size(), 2u);
    EXPECT_EQ(f.secret_source, "SSHBOOT_CLUSTER_SECRET_FILE " + dir.path() + "/secret");
    // Readable by others: refused, with the fix.
    EXPECT_NE(f.secret_problem.find("is mode 0644, readable by other users"), std::string::npos)
        << f.secret_problem;
    EXPECT_EQ(f.secret_file_mode, 0644u);
    EXPECT_EQ(f.certificate_path, dir.path() + "/host_key-cert.pub");
    ASSERT_TRUE(f.certificate.has_value()) << f.certificate_error;
    EXPECT_EQ(f.known_ca_fingerprints, std::vector<std::string>{cert.ca_fingerprint});
    EXPECT_TRUE(f.pdsh_path.empty());
    EXPECT_FALSE(f.peers_probed);
    const auto results = check_cluster(f);
    EXPECT_NE(find_check(results, "cluster-certificate", Status::Ok), nullptr);
    EXPECT_NE(find_check(results, "cluster-secret", Status::Fail), nullptr);
    for (const auto& r : results) {
        EXPECT_FALSE(contains(r.message, secret) || contains(r.fix, secret)) << r.id;
    }
}

TEST(render_text, WarnLineCarriesItsFixAndDoesNotCount) {
    const std::vector<CheckResult> results = {{"a", Status::Warn, "odd", "tidy it"}};
    EXPECT_EQ(render_text(results), "WARN  odd. Fix: tidy it\n\nAll checks passed.\n");
    EXPECT_TRUE(contains(render_json(results), "\"status\": \"warn\""));
}

}  // namespace
}  // namespace sshboot::doctor
