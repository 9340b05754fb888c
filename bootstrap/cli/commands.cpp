#include "cli/commands.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <sstream>

#include "cluster/registry.hpp"
#include "cluster/secret.hpp"
#include "cluster/wait.hpp"
#include "doctor/doctor.hpp"
#include "doctor/session_env_view.hpp"
#include "keys/check_report.hpp"
#include "keys/parse.hpp"
#include "password/command.hpp"
#include "session_env/export.hpp"
#include "tunnel/client.hpp"
#include "util/expected.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

namespace sshboot::cli {
namespace {

namespace po = boost::program_options;

// Pasted key text is small; this bounds what a wrong file could make us read.
constexpr std::size_t k_max_input = 1 << 20;

constexpr const char* k_check_key_usage =
    "Usage: sshboot check-key [FILE|-] [--json]\n"
    "\n"
    "Checks public-key text before you paste it into a platform's settings: for\n"
    "each key its type, bits, SHA256 fingerprint (as ssh-keygen -l prints it),\n"
    "comment and any repair made; for each refusal the reason and the fix; then\n"
    "the normalized lines to paste. Reads FILE, or standard input for - or when\n"
    "no FILE is given and input is piped (e.g. pbpaste | sshboot check-key -).\n"
    "Exit status: 0 when at least one usable key was found, 1 otherwise.\n"
    "\n";

constexpr const char* k_doctor_usage =
    "Usage: sshboot doctor [--json]\n"
    "       sshboot doctor --session-env\n"
    "\n"
    "Diagnoses SSH inside this container: sshd installed, running and listening\n"
    "on SSH_PORT (default 22), its config, host keys, /run/sshd, the login user\n"
    "(SSH_USER, default root), its shell and lock state, the permissions sshd's\n"
    "StrictModes demands, keys and password login, the external endpoint and the\n"
    "session environment export. Prints OK or FAIL with a fix for each.\n"
    "Exit status: 0 when every check passed, 1 otherwise.\n"
    "\n"
    "With --session-env it prints instead which variables SSH sessions see, names\n"
    "only: plain, restricted (secrets), withheld and left out, as sshboot's last\n"
    "start exported them. Exit status: 0, or 1 when nothing was exported yet.\n"
    "\n";

constexpr const char* k_tunnel_usage =
    "Usage: sshboot tunnel [--cacert FILE] [--token T] URL\n"
    "\n"
    "The laptop side of sshboot's HTTPS tunnel, for ssh's ProxyCommand: relays\n"
    "standard input and output over a WebSocket to the container's tunnel port\n"
    "(SSHBOOT_TUNNEL_PORT). URL is wss://HOST[:PORT][/PATH] (https:// means the\n"
    "same; ws:// and http:// without TLS); the path defaults to /ssh.\n"
    "\n"
    "  Host my-pod\n"
    "      HostKeyAlias my-pod\n"
    "      ProxyCommand sshboot tunnel wss://HOST/ssh\n"
    "\n"
    "TLS is always verified, against the system's CA bundle (SSL_CERT_FILE, else\n"
    "the usual paths of Debian, Fedora, Alpine and SUSE) or --cacert FILE.\n"
    "The token goes in SSHBOOT_TUNNEL_TOKEN (better than --token, which other\n"
    "users can see in ps). HTTPS_PROXY (ALL_PROXY; HTTP_PROXY for ws://) is\n"
    "used through HTTP CONNECT unless NO_PROXY names the host.\n"
    "Exit status: 0 when the server or standard input closed the tunnel;\n"
    "1 after one line saying what failed; 2 for a usage error.\n"
    "\n";

util::Expected<std::string> read_fd(int fd, const std::string& name) {
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return util::sys_error("read " + name);
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > k_max_input) {
            return util::make_error(name + " is larger than 1 MiB: not a public key file");
        }
    }
    return out;
}

util::Expected<std::string> read_input(const std::string& file) {
    if (file == "-") {
        return read_fd(STDIN_FILENO, "standard input");
    }
    util::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        return util::sys_error("open " + file);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return util::make_error(file + " is a directory; give the .pub file, e.g. " + file +
                                "/id_ed25519.pub");
    }
    return read_fd(fd.get(), file);
}

// Parses `args` (the subcommand's own, args[0] excluded) against `desc` with
// at most `max_positional` positional arguments.
util::Expected<po::variables_map> parse_args(const std::vector<std::string>& args,
                                             const po::options_description& desc,
                                             int max_positional, const std::string& usage_hint) {
    po::positional_options_description pos;
    if (max_positional > 0) {
        pos.add("file", max_positional);
    }
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args)
                      .options(desc)
                      .positional(pos)
                      .style(po::command_line_style::default_style &
                             ~po::command_line_style::allow_guessing)
                      .run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return util::make_error(std::string(e.what()) + " (see " + usage_hint + ")");
    }
    return vm;
}

int check_key_command(const std::vector<std::string>& args) {
    po::options_description desc("Options");
    desc.add_options()("json", "print the result as JSON")("help,h", "show this help");
    po::options_description all;
    all.add(desc).add_options()("file", po::value<std::string>());
    auto vm = parse_args(args, all, 1, "sshboot check-key --help");
    if (!vm) {
        log::error("{}", vm.error().message);
        return 2;
    }
    if (vm->count("help") != 0) {
        std::fputs(k_check_key_usage, stdout);
        std::ostringstream opts;
        opts << desc;
        std::fputs(opts.str().c_str(), stdout);
        return 0;
    }
    std::string file = vm->count("file") != 0 ? (*vm)["file"].as<std::string>() : "";
    if (file.empty()) {
        if (::isatty(STDIN_FILENO) != 0) {
            log::error(
                "check-key needs the key text: give the public key file (sshboot check-key "
                "~/.ssh/id_ed25519.pub) or pipe it in (pbpaste | sshboot check-key -)");
            return 2;
        }
        file.assign(1, '-');  // not = "-": g++ 12 warns falsely (-Wrestrict)
    }
    auto text = read_input(file);
    if (!text) {
        log::error("{}", text.error().message);
        return 1;
    }
    const auto result = keys::parse_keys(*text, file == "-" ? "" : file);
    const std::string out =
        vm->count("json") != 0 ? keys::check_report_json(result) : keys::check_report_text(result);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return keys::check_exit_code(result);
}

int doctor_command(const std::vector<std::string>& args, const Environment& env) {
    po::options_description desc("Options");
    desc.add_options()("json", "print the result as JSON")(
        "session-env", "list the variables SSH sessions see (names only)")("help,h",
                                                                           "show this help");
    auto vm = parse_args(args, desc, 0, "sshboot doctor --help");
    if (!vm) {
        log::error("{}", vm.error().message);
        return 2;
    }
    if (vm->count("help") != 0) {
        std::fputs(k_doctor_usage, stdout);
        std::ostringstream opts;
        opts << desc;
        std::fputs(opts.str().c_str(), stdout);
        return 0;
    }
    if (vm->count("session-env") != 0) {
        if (vm->count("json") != 0) {
            log::error("--session-env prints text only (see sshboot doctor --help)");
            return 2;
        }
        return doctor::run_session_env(session_env::k_profile_dir);
    }
    doctor::GatherOptions options;
    for (const auto& name : doctor::doctor_variables()) {
        if (auto it = env.find(name); it != env.end()) {
            options.env.emplace(name, it->second);
        }
    }
    // The platforms' port variables named after SSH_PORT.
    for (const auto& [name, value] : env) {
        if (name.starts_with("RUNPOD_TCP_PORT_") || name.starts_with("VAST_TCP_PORT_")) {
            options.env.emplace(name, value);
        }
    }
    if (auto it = env.find("PATH"); it != env.end() && !it->second.empty()) {
        options.path_env = it->second;
    }
    return doctor::run_doctor(options, vm->count("json") != 0);
}

constexpr const char* k_cluster_usage =
    "Usage: sshboot cluster secret\n"
    "       sshboot cluster wait [--timeout S]\n"
    "       sshboot cluster register --rank R --addr HOST[:PORT]\n"
    "\n"
    "Multi-node jobs. `secret` prints a new cluster secret (its last line is the\n"
    "secret alone): give every node of the job the same one in\n"
    "SSHBOOT_CLUSTER_SECRET or SSHBOOT_CLUSTER_SECRET_FILE. `wait` returns 0 once\n"
    "every node accepts an SSH login with the cluster key (see\n"
    "sshboot cluster wait --help).\n";

int cluster_secret_command(const std::vector<std::string>& args) {
    if (!args.empty()) {
        if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
            std::fputs(k_cluster_usage, stdout);
            return 0;
        }
        log::error("cluster secret takes no arguments (see sshboot cluster --help)");
        return 2;
    }
    std::string secret = cluster::generate_secret();
    std::string out =
        "# A new cluster secret. Give every node of the job this same value, as\n"
        "# SSHBOOT_CLUSTER_SECRET or in the file SSHBOOT_CLUSTER_SECRET_FILE names, e.g.\n"
        "#   kubectl create secret generic sshboot-cluster --from-literal=secret=<the line below>\n"
        "# Keep it secret: whoever has it can log in to every node.\n" +
        secret + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    sodium_memzero(out.data(), out.size());
    sodium_memzero(secret.data(), secret.size());
    return 0;
}

int cluster_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help") {
        std::fputs(k_cluster_usage, args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "secret") {
        return cluster_secret_command(rest);
    }
    if (args[0] == "wait") {
        return cluster::wait_command(rest);
    }
    if (args[0] == "register") {
        return cluster::register_command(rest);
    }
    log::error(
        "unknown cluster command '{}': use `sshboot cluster secret`, `sshboot cluster "
        "wait` or `sshboot cluster register`",
        args[0].find_first_of("\r\n") == std::string::npos ? args[0] : "?");
    return 2;
}

int tunnel_command(const std::vector<std::string>& args, const Environment& env) {
    po::options_description desc("Options");
    desc.add_options()("cacert", po::value<std::string>(),
                       "trust the CA certificates in FILE (PEM)")(
        "token", po::value<std::string>(),
        "send Authorization: Bearer T (SSHBOOT_TUNNEL_TOKEN keeps it out of ps)")("help,h",
                                                                                  "show this help");
    po::options_description all;
    all.add(desc).add_options()("file", po::value<std::string>());
    auto vm = parse_args(args, all, 1, "sshboot tunnel --help");
    if (!vm) {
        log::error("{}", vm.error().message);
        return 2;
    }
    if (vm->count("help") != 0) {
        std::fputs(k_tunnel_usage, stdout);
        std::ostringstream opts;
        opts << desc;
        std::fputs(opts.str().c_str(), stdout);
        return 0;
    }
    if (vm->count("file") == 0) {
        log::error(
            "tunnel needs the URL: sshboot tunnel wss://HOST/ssh (see sshboot tunnel --help)");
        return 2;
    }
    tunnel::ClientOptions options;
    options.url = (*vm)["file"].as<std::string>();
    if (auto parsed = tunnel::parse_tunnel_url(options.url); !parsed) {
        log::error("{}", parsed.error().message);
        return 2;
    }
    if (vm->count("cacert") != 0) {
        options.cacert = (*vm)["cacert"].as<std::string>();
        if (options.cacert.empty()) {
            log::error("--cacert needs a file name (see sshboot tunnel --help)");
            return 2;
        }
    }
    if (vm->count("token") != 0) {
        options.token = (*vm)["token"].as<std::string>();
    } else if (auto it = env.find("SSHBOOT_TUNNEL_TOKEN"); it != env.end()) {
        options.token = it->second;
    }
    if (options.token.find_first_of("\r\n") != std::string::npos) {
        log::error("the tunnel token contains a line break: give it on one line");
        return 2;
    }
    for (const auto& name : tunnel::client_variables()) {
        if (auto it = env.find(name); it != env.end()) {
            options.env.emplace(name, it->second);
        }
    }
    return tunnel::run_client(options);
}

}  // namespace

std::optional<int> run_subcommand(const std::vector<std::string>& args, const Environment& env) {
    if (args.empty()) {
        return std::nullopt;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args.front() == "check-key") {
        return check_key_command(rest);
    }
    if (args.front() == "doctor") {
        return doctor_command(rest, env);
    }
    if (args.front() == "cluster") {
        return cluster_command(rest);
    }
    if (args.front() == "tunnel") {
        return tunnel_command(rest, env);
    }
    if (args.front() == "password") {
        return password::password_command(rest, env);
    }
    return std::nullopt;
}

}  // namespace sshboot::cli
