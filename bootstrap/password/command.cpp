#include "password/command.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "accounts/hash_method.hpp"
#include "accounts/password.hpp"
#include "accounts/shadow.hpp"
#include "accounts/ssh_dir.hpp"
#include "accounts/users.hpp"
#include "hostkeys/store.hpp"
#include "password/live_sshd.hpp"
#include "password/options.hpp"
#include "run/run.hpp"
#include "session_env/format.hpp"
#include "sshd/config.hpp"
#include "sshd/listen.hpp"
#include "sshd/locale.hpp"
#include "sshd/server.hpp"
#include "sshd/version.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace sshboot::password {
namespace {

// Sessions get a locale this image has, as under `run` (sshd/locale.hpp): the
// client's LANG/LC_* only when the image has more locales than C.UTF-8, else
// the image's own LANG or C.UTF-8 through SetEnv (which sshd has since 7.8).
void apply_locale(sshd::ConfigParams& params, std::optional<sshd::Version> version) {
    const auto plan = sshd::plan_locale(sshd::list_locales(), {});
    params.accept_client_locale = plan.accept_client_locale;
    const auto syntax = session_env::syntax_for(version);
    if (!syntax || plan.session_env.empty()) {
        return;
    }
    std::vector<session_env::Variable> vars;
    for (const auto& entry : plan.session_env) {
        const auto eq = entry.find('=');
        vars.push_back({entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1)});
    }
    params.set_env = session_env::render_setenv_line(vars, *syntax).line;
}

constexpr auto k_reload_timeout = std::chrono::seconds(10);
constexpr auto k_start_timeout = std::chrono::seconds(10);
constexpr std::size_t k_max_line = 4096;

// Reads one line from `fd` (without its line break) into a wiped buffer.
util::Expected<accounts::Secret> read_secret_line(int fd, const char* what) {
    std::string line;
    char c = 0;
    for (;;) {
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            accounts::Secret wipe(std::move(line));
            return util::sys_error(std::string("read ") + what);
        }
        if (n == 0 || c == '\n') {
            break;
        }
        line.push_back(c);
        if (line.size() > k_max_line) {
            accounts::Secret wipe(std::move(line));
            return util::make_error(std::string(what) + ": the password line is too long");
        }
    }
    c = 0;
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return accounts::Secret(std::move(line));
}

// Asks twice on the terminal without echo. nullopt when there is no
// terminal to ask on.
util::Expected<std::optional<accounts::Secret>> prompt_on_tty(const std::string& user) {
    util::UniqueFd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!tty.valid()) {
        return std::optional<accounts::Secret>();
    }
    termios saved{};
    if (::tcgetattr(tty.get(), &saved) != 0) {
        return std::optional<accounts::Secret>();
    }
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    auto say = [&](const std::string& text) {
        [[maybe_unused]] auto n = ::write(tty.get(), text.data(), text.size());
    };
    for (int attempt = 0; attempt < 3; ++attempt) {
        ::tcsetattr(tty.get(), TCSAFLUSH, &quiet);
        say("New password for " + user + ": ");
        auto first = read_secret_line(tty.get(), "/dev/tty");
        say("Retype the password: ");
        auto second = first ? read_secret_line(tty.get(), "/dev/tty") : first.error();
        ::tcsetattr(tty.get(), TCSAFLUSH, &saved);
        if (!first) {
            return first.error();
        }
        if (!second) {
            return second.error();
        }
        if (first->empty()) {
            if (second->empty()) {
                say("No password typed: generating one.\n");
                return std::optional<accounts::Secret>(accounts::generate_password());
            }
            say("The first entry was empty; try again (Enter twice generates one).\n");
            continue;
        }
        if (first->size() != second->size() ||
            sodium_memcmp(first->str().data(), second->str().data(), first->size()) != 0) {
            say("The passwords differ; try again.\n");
            continue;
        }
        return std::optional<accounts::Secret>(std::move(*first));
    }
    return util::make_error("password: the passwords typed did not match three times");
}

struct Chosen {
    accounts::Secret secret;
    bool generated = false;
};

util::Expected<Chosen> choose_password(const Options& o, const std::string& user) {
    if (o.source == Source::Generate) {
        return Chosen{accounts::generate_password(), true};
    }
    if (o.source == Source::Stdin) {
        auto line = read_secret_line(STDIN_FILENO, "standard input");
        if (!line) {
            return line.error();
        }
        return Chosen{std::move(*line), false};
    }
    auto typed = prompt_on_tty(user);
    if (!typed) {
        return typed.error();
    }
    if (!typed->has_value()) {
        return Chosen{accounts::generate_password(), true};
    }
    return Chosen{std::move(**typed), false};
}

std::string sshd_path_or_default(const std::string& exe) {
    if (!exe.empty() && util::path_exists(exe)) {
        return exe;
    }
    return sshd::find_sshd("/usr/sbin:/usr/bin:/sbin:/bin").value_or("/usr/sbin/sshd");
}

// `sshd -T` for `config` as `user` would see it from loopback.
util::Expected<std::string> effective_config(const std::string& sshd_path,
                                             const std::string& config, const std::string& user) {
    auto r = util::run_capture(
        {sshd_path, "-T", "-f", config, "-C", "user=" + user + ",host=localhost,addr=127.0.0.1"});
    if (!r) {
        return r.error();
    }
    if (r->exit_code != 0) {
        return util::make_error("sshd -T -f " + config + " failed: " + r->output);
    }
    return r->output;
}

bool password_login_effective(const std::string& sshd_t, bool root) {
    const auto pa = sshd_t_values(sshd_t, "passwordauthentication");
    if (pa.empty() || pa.front() != "yes") {
        return false;
    }
    if (root) {
        const auto prl = sshd_t_values(sshd_t, "permitrootlogin");
        return !prl.empty() && prl.front() == "yes";
    }
    return true;
}

// Host keys as the connect report wants them, from `sshd -T`'s hostkey lines.
std::vector<hostkeys::HostKey> served_host_keys(const std::string& sshd_t) {
    std::vector<hostkeys::HostKey> out;
    for (const auto& path : sshd_t_values(sshd_t, "hostkey")) {
        auto pub = util::read_file(path + ".pub");
        if (!pub) {
            continue;
        }
        std::string line = *pub;
        const auto sp1 = line.find(' ');
        const auto sp2 = sp1 == std::string::npos ? sp1 : line.find_first_of(" \n", sp1 + 1);
        if (sp1 == std::string::npos) {
            continue;
        }
        hostkeys::HostKey key;
        key.type = line.substr(0, sp1);
        key.private_path = path;
        key.public_line = line.substr(0, sp2);
        out.push_back(std::move(key));
    }
    return out;
}

util::Status remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return util::sys_error("unlink " + path);
    }
    return util::ok();
}

// Makes `config` (of an sshd started by the image) turn on password login:
// a drop-in when it includes one, else a marked block at its top with a
// backup. Checks the result with sshd -t / -T; undoes a change sshd rejects.
util::Status enable_in_image_config(const std::string& sshd_path, const std::string& config,
                                    const std::string& user) {
    const bool root = user == "root";
    const bool penalties = sshd::has_per_source_penalties(sshd::read_openssh_version(sshd_path));
    auto text = util::read_file(config);
    if (!text) {
        return text.error();
    }
    const auto config_dir = util::split_path(config).first;
    if (auto dir = included_dropin_dir(*text, config_dir)) {
        const std::string dropin = util::path_join(*dir, k_dropin_name);
        if (auto s = util::make_dirs(*dir, 0755); !s) {
            return s;
        }
        if (auto s = util::write_file_atomic(dropin, password_dropin_text(root, penalties), 0644);
            !s) {
            return s;
        }
        auto eff = effective_config(sshd_path, config, user);
        if (eff && password_login_effective(*eff, root)) {
            log::info("password login enabled in {}", dropin);
            return util::ok();
        }
        // An earlier setting (before the Include) wins over the drop-in.
        if (auto s = remove_file(dropin); !s) {
            return s;
        }
        log::info("{} sets password login before its Include; editing it instead", config);
    }
    struct stat st {};
    if (::stat(config.c_str(), &st) != 0) {
        return util::sys_error("stat " + config);
    }
    const std::string backup = config + ".sshboot.bak";
    if (!util::path_exists(backup)) {
        if (auto s = util::write_file_atomic(backup, *text, st.st_mode & 07777,
                                             util::FileOwner{st.st_uid, st.st_gid});
            !s) {
            return s;
        }
    }
    if (auto s = util::write_file_atomic(config, add_password_block(*text, root, penalties),
                                         st.st_mode & 07777, util::FileOwner{st.st_uid, st.st_gid});
        !s) {
        return s;
    }
    auto eff = effective_config(sshd_path, config, user);
    if (!eff || !password_login_effective(*eff, root)) {
        auto restored = util::write_file_atomic(config, *text, st.st_mode & 07777,
                                                util::FileOwner{st.st_uid, st.st_gid});
        (void)restored;
        return util::make_error(
            "could not turn on password login in " + config +
            (eff ? std::string(" (a Match block overrides it?)") : ": " + eff.error().message) +
            "; the file was restored");
    }
    log::info("password login enabled at the top of {} (backup: {})", config, backup);
    return util::ok();
}

// Case (c): render sshboot's config, start sshd in the background.
util::Expected<std::string> start_own_sshd(const cli::Settings& s, const std::string& user) {
    const std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    auto sshd_path = sshd::find_sshd(path_env);
    if (!sshd_path) {
        return util::make_error(
            "sshd not found: install OpenSSH's server (apt-get install -y openssh-server, "
            "dnf install -y openssh-server, apk add openssh-server) and run this again");
    }
    if (sshd::port_in_use(s.port)) {
        return util::make_error("port " + std::to_string(s.port) +
                                " is in use by something that is not sshd; set SSH_PORT to a "
                                "free port");
    }
    auto keys = run::ensure_host_keys(s, *sshd_path, path_env);
    if (!keys) {
        return keys.error();
    }
    if (auto st = sshd::prepare_runtime_dirs(); !st) {
        return st.error();
    }
    sshd::ConfigParams params;
    params.port = s.port;
    for (const auto& k : *keys) {
        params.host_key_paths.push_back(k.private_path);
    }
    params.use_pam = sshd::image_has_pam_for_sshd();
    params.password_authentication = accounts::has_usable_password(user);
    params.root_password_login = params.password_authentication && user == "root";
    const auto version = sshd::read_openssh_version(*sshd_path);
    params.per_source_penalties = sshd::has_per_source_penalties(version);
    apply_locale(params, version);
    auto config = sshd::render_config(params);
    if (!config) {
        return config.error();
    }
    if (auto st = util::make_dirs(sshd::k_dropin_dir, 0755); !st) {
        return st.error();
    }
    if (auto st = remove_file(util::path_join(sshd::k_dropin_dir, k_dropin_name)); !st) {
        return st.error();
    }
    if (auto st = util::write_file_atomic(sshd::k_config_path, *config, 0644); !st) {
        return st.error();
    }
    // Without -D sshd detaches and its first process exits once it is set up.
    auto r = util::run_capture({*sshd_path, "-f", sshd::k_config_path});
    if (!r) {
        return r.error();
    }
    if (r->exit_code != 0) {
        return util::make_error("sshd did not start: " + r->output);
    }
    const auto deadline = std::chrono::steady_clock::now() + k_start_timeout;
    while (!sshd::port_in_use(s.port)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return util::make_error(
                "sshd started but does not listen on port " + std::to_string(s.port) +
                "; sshd -t says: " + sshd::config_test_output(*sshd_path, sshd::k_config_path));
        }
        timespec ts{0, 10'000'000};
        ::nanosleep(&ts, nullptr);
    }
    log::info("sshd started in the background on port {}", s.port);
    return *sshd_path;
}

}  // namespace

int password_command(const std::vector<std::string>& args, const cli::Environment& env) {
    auto options = parse_options(args);
    if (!options) {
        log::error("{}", options.error().message);
        return 2;
    }
    if (options->help) {
        std::fputs(help_text().c_str(), stdout);
        return 0;
    }
    // The environment's settings (SSH_USER, SSH_PORT, the endpoint), minus
    // anything secret: this command takes its password from its own sources.
    cli::Environment clean = env;
    clean.erase("SSH_PASSWORD");
    clean.erase("SSH_PASSWORD_FILE");
    auto settings = cli::parse_settings({}, clean, util::path_exists("/workspace"));
    if (!settings) {
        log::error("{}", settings.error().message);
        return 2;
    }
    if (::geteuid() != 0) {
        log::error("sshboot password must run as root (it edits /etc/shadow and sshd's config)");
        return 1;
    }
    if (sodium_init() < 0) {
        log::error("libsodium failed to initialise (no entropy source?)");
        return 1;
    }
    const std::string user = options->user.value_or(settings->user);

    auto account = accounts::ensure_user(user);
    if (!account) {
        log::error("{}", account.error().message);
        return 1;
    }
    auto chosen = choose_password(*options, user);
    if (!chosen) {
        log::error("{}", chosen.error().message);
        return 1;
    }
    if (auto problem = accounts::password_problem(chosen->secret.view()); !problem.empty()) {
        log::error("password: {}", problem);
        return 1;
    }
    accounts::HashChoice method;
    if (options->hash) {
        method = {*options->hash, "chosen with --hash"};
    } else {
        method = accounts::choose_hash_method(accounts::detect_hash_support(
            sshd::find_sshd("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
                .value_or("")));
    }
    log::info("password hash: {}: {}", accounts::hash_method_label(method.method), method.reason);
    auto hash = accounts::hash_password(chosen->secret.view(), method.method);
    if (!hash) {
        log::error("{}", hash.error().message);
        return 1;
    }
    if (auto st = accounts::set_password_hash(user, *hash); !st) {
        log::error("{}", st.error().message);
        return 1;
    }
    log::info("password set for {} in /etc/shadow", user);

    // Which sshd serves this container?
    auto running = find_running_sshd();
    const RunningSshd* target = nullptr;
    for (const auto& r : running) {
        if (r.config_path == sshd::k_config_path) {
            target = &r;
            break;
        }
    }
    if (target == nullptr && !running.empty()) {
        target = &running.front();
    }

    std::string sshd_path;
    std::string config_path = sshd::k_config_path;
    std::uint16_t port = settings->port;
    if (target == nullptr) {
        auto started = start_own_sshd(*settings, user);
        if (!started) {
            log::error("{}", started.error().message);
            return 1;
        }
        sshd_path = *started;
    } else {
        sshd_path = sshd_path_or_default(target->exe);
        config_path = target->config_path;
        port = target->ports.empty() ? port : target->ports.front();
        for (auto p : target->ports) {
            if (p == settings->port) {
                port = p;
            }
        }
        const bool root = user == "root";
        if (config_path == sshd::k_config_path) {
            // Case (a): sshboot's own sshd; its drop-ins are read first.
            const std::string dropin = util::path_join(sshd::k_dropin_dir, k_dropin_name);
            if (auto st = util::make_dirs(sshd::k_dropin_dir, 0755); !st) {
                log::error("{}", st.error().message);
                return 1;
            }
            const bool penalties =
                sshd::has_per_source_penalties(sshd::read_openssh_version(sshd_path));
            if (auto st =
                    util::write_file_atomic(dropin, password_dropin_text(root, penalties), 0644);
                !st) {
                log::error("{}", st.error().message);
                return 1;
            }
        } else if (auto st = enable_in_image_config(sshd_path, config_path, user); !st) {
            log::error("{}", st.error().message);
            return 1;
        }
        const auto test = sshd::config_test_output(sshd_path, config_path);
        auto check = util::run_capture({sshd_path, "-t", "-f", config_path});
        if (!check || check->exit_code != 0) {
            log::error("sshd -t rejects {}: {}; sshd was not reloaded", config_path, test);
            return 1;
        }
        if (auto st = reload_sshd(target->pid, port, k_reload_timeout); !st) {
            log::error("{}", st.error().message);
            return 1;
        }
        log::info("sshd (pid {}) reloaded its configuration and accepts connections on port {}",
                  target->pid, port);
    }

    auto eff = effective_config(sshd_path, config_path, user);
    if (!eff) {
        log::error("{}", eff.error().message);
        return 1;
    }
    if (!password_login_effective(*eff, user == "root")) {
        log::warn("sshd's effective configuration still refuses password login for {}", user);
    }
    cli::Settings report_settings = *settings;
    report_settings.port = port;
    run::print_connect_report(report_settings, user, served_host_keys(*eff),
                              chosen->generated ? chosen->secret.str() : std::string(), true);
    return 0;
}

}  // namespace sshboot::password
