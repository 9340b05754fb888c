#include "cli/settings.hpp"

#include "cluster/secret.hpp"
#include "hostkeys/store.hpp"
#include "report/endpoint.hpp"
#include "tunnel/http_policy.hpp"
#include "util/parse.hpp"

#include <boost/make_shared.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>
#include <tuple>

namespace po = boost::program_options;

namespace sshboot::cli {
namespace {

// The environment table: every variable sshboot reads and the flag that
// overrides it. Help text is shown by --help.
struct EnvOption {
    const char* variable;
    const char* option;
    const char* help;
};

constexpr std::array k_env_options = {
    EnvOption{"SSH_PUBLIC_KEY", "ssh-public-key",
              "public keys for this container, one per line; replaces PUBLIC_KEY"},
    EnvOption{"SSH_PUBLIC_KEY_FILE", "ssh-public-key-file",
              "file holding public keys (a Docker or Kubernetes secret)"},
    EnvOption{"PUBLIC_KEY", "public-key", "account public keys (RunPod injects this)"},
    EnvOption{"PUBLIC_KEY_FILE", "public-key-file", "file holding account public keys"},
    EnvOption{"SSH_USER", "user", "login user (default root)"},
    EnvOption{"SSH_PASSWORD", "password",
              "password for SSH_USER; turns password login on (prefer the variable: a flag "
              "shows in ps)"},
    EnvOption{"SSH_PASSWORD_FILE", "password-file",
              "file whose first line is the password (a Docker or Kubernetes secret)"},
    EnvOption{"SSH_SUDO", "sudo", "1: give SSH_USER sudo (without a password when it has none)"},
    EnvOption{"SSH_PORT", "port", "port sshd listens on inside the container (default 22)"},
    EnvOption{"SSHBOOT_STATE_DIR", "state-dir",
              "where host keys persist (default /workspace/.sshboot or /var/lib/sshboot)"},
    EnvOption{"SSH_HOST_KEY_TYPES", "host-key-types",
              "host key types to serve, comma-separated: ed25519,ecdsa,rsa (default ed25519)"},
    EnvOption{"SSH_PUBLIC_HOST", "public-host", "external host name or IP to print"},
    EnvOption{"SSH_PUBLIC_PORT", "public-port", "external port to print"},
    EnvOption{"RUNPOD_PUBLIC_IP", "runpod-public-ip", "RunPod's public IP of the pod"},
    EnvOption{"RUNPOD_TCP_PORT_22", "runpod-tcp-port-22",
              "RunPod's external port for 22; used when RUNPOD_TCP_PORT_<SSH_PORT> is unset"},
    EnvOption{"PUBLIC_IPADDR", "vast-public-ip", "vast.ai's public IP of the instance"},
    EnvOption{"VAST_TCP_PORT_22", "vast-tcp-port-22",
              "vast.ai's external port for 22; used when VAST_TCP_PORT_<SSH_PORT> is unset"},
    EnvOption{"RUNPOD_POD_ID", "pod-id", "names the ~/.ssh/config Host in the connect block"},
    EnvOption{"VAST_CONTAINERLABEL", "vast-container-label",
              "vast.ai's instance label; names the ~/.ssh/config Host when RUNPOD_POD_ID is unset"},
    EnvOption{"SSHBOOT_ENV_EXCLUDE", "env-exclude",
              "comma-separated globs: environment variables not passed to SSH sessions"},
    EnvOption{"SSHBOOT_ENV_INCLUDE", "env-include",
              "comma-separated globs: variables passed to SSH sessions even when excluded"},
    EnvOption{"SSHBOOT_CLUSTER_SECRET", "cluster-secret",
              "cluster mode: the secret every node of a multi-node job shares (make one with "
              "`sshboot cluster secret`; prefer the variable or the file: a flag shows in ps)"},
    EnvOption{"SSHBOOT_CLUSTER_SECRET_FILE", "cluster-secret-file",
              "file holding the cluster secret (a Kubernetes Secret volume)"},
    EnvOption{"SSHBOOT_CLUSTER_RANK", "cluster-rank",
              "this node's rank (default: NODE_RANK, SKYPILOT_NODE_RANK, JOB_COMPLETION_INDEX "
              "or the hostname's StatefulSet ordinal)"},
    EnvOption{"SSHBOOT_CLUSTER_HOSTS", "cluster-hosts",
              "the nodes in rank order, comma-separated host[:port] (default: from the "
              "platform)"},
    EnvOption{"SSHBOOT_CLUSTER_PATTERN", "cluster-pattern",
              "the nodes' names with {rank} where the ordinal goes, e.g. trainer-{rank}.trainer "
              "(Kubernetes StatefulSet or Indexed Job)"},
    EnvOption{"SSHBOOT_CLUSTER_SIZE", "cluster-size",
              "the number of nodes SSHBOOT_CLUSTER_PATTERN names"},
    EnvOption{"SSHBOOT_CLUSTER_SLOTS", "cluster-slots",
              "processes per node in the hostfiles (default: GPUs per node, else 1)"},
    EnvOption{"SSHBOOT_TUNNEL_PORT", "tunnel-port",
              "serve SSH over HTTP WebSocket on this port, for platforms that only proxy "
              "HTTP(S) into the container (off when unset)"},
    EnvOption{"SSHBOOT_TUNNEL_TOKEN", "tunnel-token",
              "a token the tunnel asks for (Authorization: Bearer; prefer the variable or the "
              "file: a flag shows in ps)"},
    EnvOption{"SSHBOOT_TUNNEL_TOKEN_FILE", "tunnel-token-file", "file holding the tunnel token"},
    EnvOption{"SSHBOOT_TUNNEL_URL", "tunnel-url",
              "the tunnel's public wss:// URL to print (on RunPod derived from RUNPOD_POD_ID)"},
    EnvOption{"SSHBOOT_TUNNEL_PING", "tunnel-ping",
              "seconds between the tunnel's WebSocket pings (default 25)"},
    EnvOption{"SSHBOOT_TUNNEL_MAX", "tunnel-max", "most tunnels open at once (default 64)"},
    EnvOption{"SSHBOOT_KEEP_ALIVE", "keep-alive", "1: keep serving SSH after COMMAND exits"},
    EnvOption{"SSHBOOT_STOP_TIMEOUT", "stop-timeout",
              "seconds COMMAND gets between SIGTERM and SIGKILL on stop (default 8)"},
};

po::options_description make_options() {
    po::options_description desc("Options (each also read from the variable in brackets)");
    desc.add_options()("help,h", "show this help and exit")(
        "version,V", "print the version and exit")("verbose,v", "log debug detail")(
        "process-group,g", "forward signals to COMMAND's whole process group (like tini -g)")(
        "runpod-tcp-port", po::value<std::string>()->value_name("VALUE"),
        "RunPod's external port for SSH_PORT [RUNPOD_TCP_PORT_<SSH_PORT>]")(
        "vast-tcp-port", po::value<std::string>()->value_name("VALUE"),
        "vast.ai's external port for SSH_PORT [VAST_TCP_PORT_<SSH_PORT>]");
    for (const auto& e : k_env_options) {
        std::string help = std::string(e.help) + " [" + e.variable + "]";
        desc.add(boost::make_shared<po::option_description>(
            e.option, po::value<std::string>()->value_name("VALUE"), help.c_str()));
    }
    return desc;
}

std::optional<bool> parse_bool(const std::string& text) {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "1" || t == "true" || t == "yes" || t == "on") {
        return true;
    }
    if (t.empty() || t == "0" || t == "false" || t == "no" || t == "off") {
        return false;
    }
    return std::nullopt;
}

// Splits args into sshboot's own part and COMMAND: COMMAND starts after "--"
// or at the first word that is neither an option nor an option's value, so
// `sshboot python train.py -x` (Docker's ENTRYPOINT + CMD) works.
struct SplitArgs {
    std::vector<std::string> own;
    std::vector<std::string> command;
};

SplitArgs split_args(const std::vector<std::string>& args, const po::options_description& desc) {
    SplitArgs out;
    std::size_t i = 0;
    if (!args.empty() && args[0] == "run") {
        i = 1;
    }
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
            return out;
        }
        if (a.size() < 2 || a[0] != '-') {
            out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
            return out;
        }
        out.own.push_back(a);
        // A long option given as "--name VALUE" (no '=') or a short one as
        // "-x VALUE" takes the next word as its value.
        std::string name;
        if (a.rfind("--", 0) == 0 && a.find('=') == std::string::npos) {
            name = a.substr(2);
        } else if (a.size() == 2) {
            name = a.substr(1);
        }
        if (!name.empty()) {
            const auto* d = desc.find_nothrow(name, false);
            if (d != nullptr && d->semantic()->max_tokens() > 0 && i + 1 < args.size()) {
                out.own.push_back(args[++i]);
            }
        }
    }
    return out;
}

bool has_control_chars(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

template <class Get, class Has>
util::Status parse_tunnel_settings(Settings& s, const Get& get, const Has& has) {
    if (has("tunnel-port")) {
        auto port = util::parse_port(get("tunnel-port"));
        if (!port) {
            return util::make_error(
                "SSHBOOT_TUNNEL_PORT: " + util::quoted_for_log(get("tunnel-port")) +
                " is not a port number (1 to 65535)");
        }
        if (*port == s.port) {
            return util::make_error("SSHBOOT_TUNNEL_PORT: " + std::to_string(*port) +
                                    " is SSH_PORT too: give the tunnel a port of its own (the "
                                    "one the platform proxies HTTP to, e.g. 8022)");
        }
        s.tunnel_port = *port;
    }
    if (has("tunnel-token") && has("tunnel-token-file")) {
        return util::make_error(
            "SSHBOOT_TUNNEL_TOKEN and SSHBOOT_TUNNEL_TOKEN_FILE are both set: give the tunnel "
            "token one way");
    }
    s.tunnel_token = get("tunnel-token");
    s.tunnel_token_file = get("tunnel-token-file");
    if (has("tunnel-token") && (s.tunnel_token.empty() || has_control_chars(s.tunnel_token) ||
                                s.tunnel_token.find(' ') != std::string::npos)) {
        return util::make_error(
            "SSHBOOT_TUNNEL_TOKEN: must be one word without spaces or control characters");
    }
    if (has("tunnel-token-file") && (s.tunnel_token_file.empty() || s.tunnel_token_file[0] != '/' ||
                                     has_control_chars(s.tunnel_token_file))) {
        return util::make_error("SSHBOOT_TUNNEL_TOKEN_FILE: must be an absolute path");
    }
    if (has("tunnel-url")) {
        auto url = tunnel::normalize_public_url(get("tunnel-url"));
        if (!url) {
            return url.error();
        }
        s.tunnel_url = *url;
    }
    for (const auto& [option, variable, target, max] :
         {std::tuple{"tunnel-ping", "SSHBOOT_TUNNEL_PING", &s.tunnel_ping_seconds, 3600},
          std::tuple{"tunnel-max", "SSHBOOT_TUNNEL_MAX", &s.tunnel_max, 10000}}) {
        if (has(option)) {
            auto v = util::parse_count(get(option), max);
            if (!v || *v < 1) {
                return util::make_error(std::string(variable) + ": " +
                                        util::quoted_for_log(get(option)) +
                                        " is not a number from 1 to " + std::to_string(max));
            }
            *target = *v;
        }
    }
    return util::ok();
}

}  // namespace

bool is_valid_user_name(const std::string& name) {
    // The portable subset useradd accepts: [a-z_][a-z0-9_-]*, at most 32.
    if (name.empty() || name.size() > 32) {
        return false;
    }
    if (!(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '_' || c == '-';
    });
}

std::string help_text() {
    std::ostringstream out;
    out << "Usage: sshboot [run] [OPTIONS] [-- COMMAND [ARG...]]\n"
           "       sshboot password [--generate | --stdin] [--user USER]\n"
           "                                             set a password, turn password login on,\n"
           "                                             print how to connect\n"
           "       sshboot check-key [FILE|-] [--json]   check public-key text before pasting it\n"
           "       sshboot doctor [--json]               diagnose SSH inside this container\n"
           "       sshboot cluster secret | wait [--timeout S]\n"
           "                                             multi-node jobs: make a cluster secret;\n"
           "                                             wait until every peer accepts SSH\n"
           "       sshboot cluster register --rank R --addr HOST[:PORT]\n"
           "                                             on the primary: record a worker\n"
           "                                             (RunPod; run by the workers)\n"
           "       sshboot tunnel [--cacert FILE] [--token T] URL\n"
           "                                             on the laptop: ssh's ProxyCommand for "
           "the\n"
           "                                             HTTPS tunnel (wss://HOST/ssh)\n"
           "       sshboot --version | --help\n"
           "Each subcommand has its own --help.\n\n"
           "Makes this container reachable over SSH: installs the public keys given,\n"
           "creates host keys, starts OpenSSH's sshd, supervises it as PID 1, prints\n"
           "the command that connects, then runs COMMAND if one is given.\n\n"
        << make_options();
    return out.str();
}

util::Expected<Settings> parse_settings(const std::vector<std::string>& args,
                                        const Environment& env, bool workspace_exists) {
    const auto desc = make_options();
    const auto split = split_args(args, desc);
    po::variables_map vm;
    try {
        // Flags first: po::store keeps the first value it sees, so a flag wins
        // over its variable.
        po::store(po::command_line_parser(split.own).options(desc).run(), vm);
        po::parsed_options from_env(&desc);
        for (const auto& e : k_env_options) {
            auto it = env.find(e.variable);
            if (it != env.end()) {
                po::option opt(e.option, {it->second});
                opt.original_tokens = {e.variable};
                from_env.options.push_back(opt);
            }
        }
        po::store(from_env, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return util::make_error(std::string(e.what()) + " (see sshboot --help)");
    }

    Settings s;
    if (vm.count("help") != 0) {
        s.command = Command::Help;
        return s;
    }
    if (vm.count("version") != 0) {
        s.command = Command::Version;
        return s;
    }
    auto get = [&](const char* option) -> std::string {
        auto it = vm.find(option);
        return it == vm.end() ? std::string() : it->second.as<std::string>();
    };
    auto has = [&](const char* option) { return vm.count(option) != 0; };

    s.verbose = has("verbose");
    s.signal_process_group = has("process-group");
    s.command_argv = split.command;
    s.ssh_public_key = get("ssh-public-key");
    s.ssh_public_key_file = get("ssh-public-key-file");
    s.public_key = get("public-key");
    s.public_key_file = get("public-key-file");
    s.password = get("password");
    s.password_file = get("password-file");
    if (has("sudo")) {
        auto b = parse_bool(get("sudo"));
        if (!b) {
            return util::make_error("SSH_SUDO: " + util::quoted_for_log(get("sudo")) +
                                    " is not 1 or 0");
        }
        s.sudo = *b;
    }

    if (has("user")) {
        s.user = get("user");
        if (!is_valid_user_name(s.user)) {
            return util::make_error(
                "SSH_USER: not a valid user name (use lowercase letters, digits, '_' and '-', "
                "starting with a letter or '_', at most 32 characters)");
        }
    }
    if (has("port")) {
        auto port = util::parse_port(get("port"));
        if (!port) {
            return util::make_error("SSH_PORT: " + util::quoted_for_log(get("port")) +
                                    " is not a port number (1 to 65535)");
        }
        s.port = *port;
    }
    s.state_dir = has("state-dir")
                      ? get("state-dir")
                      : (workspace_exists ? "/workspace/.sshboot" : "/var/lib/sshboot");
    if (s.state_dir.empty() || s.state_dir[0] != '/' || has_control_chars(s.state_dir) ||
        s.state_dir.find_first_of(" \t\"") != std::string::npos) {
        return util::make_error(
            "SSHBOOT_STATE_DIR: must be an absolute path without spaces, quotes or control "
            "characters");
    }
    if (has("host-key-types")) {
        auto types = hostkeys::parse_host_key_types(get("host-key-types"));
        if (!types) {
            return util::make_error("SSH_HOST_KEY_TYPES: " + types.error().message);
        }
        s.host_key_types = std::move(*types);
    }
    s.public_host = get("public-host");
    s.public_port = get("public-port");
    s.runpod_public_ip = get("runpod-public-ip");
    s.runpod_tcp_port_22 = get("runpod-tcp-port-22");
    s.vast_public_ip = get("vast-public-ip");
    s.vast_tcp_port_22 = get("vast-tcp-port-22");
    // The platforms' variables named after the internal port: read once the
    // port is known; a flag wins.
    auto env_or = [&](const char* option, const std::string& variable) {
        if (has(option)) {
            return get(option);
        }
        auto it = env.find(variable);
        return it == env.end() ? std::string() : it->second;
    };
    const std::string port_text = std::to_string(s.port);
    s.runpod_tcp_port = env_or("runpod-tcp-port", "RUNPOD_TCP_PORT_" + port_text);
    s.vast_tcp_port = env_or("vast-tcp-port", "VAST_TCP_PORT_" + port_text);
    s.pod_id = get("pod-id");
    s.vast_container_label = get("vast-container-label");
    s.env_exclude = get("env-exclude");
    s.env_include = get("env-include");
    const std::pair<const char*, const std::string*> external_hosts[] = {
        {"SSH_PUBLIC_HOST", &s.public_host},
        {"RUNPOD_PUBLIC_IP", &s.runpod_public_ip},
        {"PUBLIC_IPADDR", &s.vast_public_ip},
    };
    for (const auto& [name, v] : external_hosts) {
        // A host name or address is ASCII (an IDN is given as xn--...): a
        // byte above 0x7f could be a C1 control printed in the connect block.
        const bool non_ascii =
            std::any_of(v->begin(), v->end(), [](unsigned char c) { return c >= 0x80; });
        if (has_control_chars(*v) || non_ascii || v->find(' ') != std::string::npos) {
            return util::make_error(std::string(name) + "=" + util::quoted_for_log(*v) +
                                    " is not a host name or an IP address: the external host "
                                    "contains spaces or control characters (give an IP address "
                                    "or an ASCII host name)");
        }
    }
    // Printed into commands a user pastes into a shell: only host names,
    // addresses and port numbers.
    if (auto st = report::validate_endpoint_sources(
            {s.public_host, s.public_port, s.runpod_public_ip, s.runpod_tcp_port_22,
             s.vast_public_ip, s.vast_tcp_port_22, s.port, s.runpod_tcp_port, s.vast_tcp_port},
            "RUNPOD_TCP_PORT_" + port_text, "VAST_TCP_PORT_" + port_text);
        !st) {
        return st.error();
    }
    s.cluster_secret = get("cluster-secret");
    s.cluster_secret_file = get("cluster-secret-file");
    s.cluster_rank = get("cluster-rank");
    s.cluster_hosts = get("cluster-hosts");
    s.cluster_pattern = get("cluster-pattern");
    s.cluster_size = get("cluster-size");
    s.cluster_slots = get("cluster-slots");
    if (has("cluster-secret") && has("cluster-secret-file")) {
        return util::make_error(
            "SSHBOOT_CLUSTER_SECRET and SSHBOOT_CLUSTER_SECRET_FILE are both set: give the "
            "cluster secret one way");
    }
    if (has("cluster-secret")) {
        const std::string secret = cluster::normalize_secret(s.cluster_secret);
        if (auto st = cluster::validate_secret(secret, "SSHBOOT_CLUSTER_SECRET"); !st) {
            return st.error();
        }
        s.cluster_secret = secret;
    }
    if (has("cluster-secret-file") &&
        (s.cluster_secret_file.empty() || s.cluster_secret_file[0] != '/' ||
         has_control_chars(s.cluster_secret_file))) {
        return util::make_error("SSHBOOT_CLUSTER_SECRET_FILE: must be an absolute path");
    }
    if (!s.cluster_mode() && (has("cluster-rank") || has("cluster-hosts"))) {
        return util::make_error(
            std::string(has("cluster-rank") ? "SSHBOOT_CLUSTER_RANK" : "SSHBOOT_CLUSTER_HOSTS") +
            " is set but no cluster secret is: set SSHBOOT_CLUSTER_SECRET (or "
            "SSHBOOT_CLUSTER_SECRET_FILE) on every node to the output of `sshboot cluster "
            "secret`");
    }
    if (auto st = parse_tunnel_settings(s, get, has); !st) {
        return st.error();
    }
    if (has("keep-alive")) {
        auto b = parse_bool(get("keep-alive"));
        if (!b) {
            return util::make_error("SSHBOOT_KEEP_ALIVE: " +
                                    util::quoted_for_log(get("keep-alive")) + " is not 1 or 0");
        }
        s.keep_alive = *b;
    }
    if (has("stop-timeout")) {
        const std::string t = get("stop-timeout");
        int value = -1;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
        if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || value < 0 ||
            value > 3600) {
            return util::make_error("SSHBOOT_STOP_TIMEOUT: " + util::quoted_for_log(t) +
                                    " is not a number of seconds (0 to 3600)");
        }
        s.stop_timeout_seconds = value;
    }
    return s;
}

}  // namespace sshboot::cli
