#include "report/connect.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string_view>

#include "util/embedded.hpp"
#include "util/template.hpp"

namespace sshboot::report {
namespace {

std::string type_label(const std::string& type) {
    if (type == "ssh-ed25519") {
        return "ED25519";
    }
    if (type.rfind("ecdsa-sha2-", 0) == 0) {
        return "ECDSA";
    }
    if (type == "ssh-rsa") {
        return "RSA";
    }
    return type;
}

// Characters that mean nothing to sh inside double quotes, nor to the user's
// shell inside single quotes (sh, bash, zsh, fish), nor to ssh_config.
bool paste_safe(const std::string& s, std::string_view extra) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](unsigned char c) {
        return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string_view::npos;
    });
}

std::string password_line(const ConnectInput& in) {
    if (!in.password.empty()) {
        return "    password: " + in.password + "   (shown once; not stored anywhere)\n";
    }
    if (in.password_login) {
        return "    (password login is on: use the password set for " + in.user + ")\n";
    }
    return "";
}

// One line per key: "<name> <type> <base64>", each indented by `indent`.
std::string key_lines(const std::vector<HostKeyInfo>& keys, const std::string& name,
                      const std::string& indent) {
    std::string out;
    for (const auto& key : keys) {
        out += indent + name + " " + key.type + " " + key.base64 + "\n";
    }
    return out;
}

std::string fingerprint_lines(const std::vector<HostKeyInfo>& keys) {
    std::string out;
    for (const auto& key : keys) {
        out += "    " + fingerprint_line(key) + "\n";
    }
    return out;
}

std::string without_last_newline(std::string s) {
    if (!s.empty() && s.back() == '\n') {
        s.pop_back();
    }
    return s;
}

}  // namespace

std::string known_hosts_name(const std::string& host, std::uint16_t port) {
    if (port == 22) {
        return host;
    }
    return "[" + host + "]:" + std::to_string(port);
}

std::string fingerprint_line(const HostKeyInfo& key) {
    return std::to_string(key.bits) + " " + key.fingerprint + " (" + type_label(key.type) + ")";
}

std::string sanitize_alias(const std::string& name) {
    std::string out;
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
            out.push_back(static_cast<char>(c));
        }
    }
    return out.empty() ? "sshboot" : out;
}

std::vector<std::string> config_block_lines(const ConnectInput& in) {
    const std::string alias = sanitize_alias(in.alias);
    return {
        "Host " + alias,
        "    HostName " + in.endpoint.host,
        "    Port " + std::to_string(in.endpoint.port),
        "    User " + in.user,
        "    HostKeyAlias " + alias,
        "    ServerAliveInterval 30",
        "    ServerAliveCountMax 4",
    };
}

std::string tunnel_host_name(const ConnectInput& in) {
    const std::string alias = sanitize_alias(in.alias);
    return in.endpoint.host.empty() ? alias : alias + "-tunnel";
}

std::vector<std::string> tunnel_config_lines(const ConnectInput& in) {
    if (in.tunnel_port == 0 || in.tunnel_url.empty()) {
        return {};
    }
    return {
        "Host " + tunnel_host_name(in),
        "    User " + in.user,
        "    HostKeyAlias " + sanitize_alias(in.alias),
        "    ProxyCommand sshboot tunnel " + in.tunnel_url,
        "    ServerAliveInterval 30",
        "    ServerAliveCountMax 4",
    };
}

std::string render_tunnel_section(const ConnectInput& in) {
    if (in.tunnel_port == 0) {
        return "";
    }
    const std::string port = std::to_string(in.tunnel_port);
    if (in.tunnel_url.empty()) {
        return "\n Through the HTTPS tunnel: it listens on port " + port +
               " inside the container. Set SSHBOOT_TUNNEL_URL\n"
               " to the public address your platform gives that port (wss://HOST/ssh) to get\n"
               " a ready-made ~/.ssh/config block here.\n";
    }
    const std::string alias = sanitize_alias(in.alias);
    const std::string host = tunnel_host_name(in);
    std::string out =
        "\n Through the HTTPS tunnel (no public IP needed; scp, sftp, rsync, VS Code and -L\n"
        " all work): add to ~/.ssh/config, then run: ssh " +
        host + "\n";
    for (const auto& line : tunnel_config_lines(in)) {
        out += "    " + line + "\n";
    }
    out += " with this line in ~/.ssh/known_hosts:\n";
    out += key_lines(in.host_keys, alias, "    ");
    out +=
        " The laptop needs sshboot (Linux, WSL). On macOS or Windows, websocat does the same:\n"
        "    ProxyCommand websocat --binary " +
        in.tunnel_url + "\n";
    if (in.tunnel_token) {
        out +=
            " The tunnel asks for a token (SSHBOOT_TUNNEL_TOKEN): on the laptop, export\n"
            " SSHBOOT_TUNNEL_TOKEN=<the token> before ssh (websocat: add\n"
            " -H \"Authorization: Bearer $SSHBOOT_TUNNEL_TOKEN\" to its ProxyCommand).\n";
    }
    return out;
}

std::optional<std::string> laptop_setup_command(const ConnectInput& in) {
    const std::string alias = sanitize_alias(in.alias);
    const bool tcp = !in.endpoint.host.empty();
    const auto tunnel_lines = tunnel_config_lines(in);
    if ((tcp && !paste_safe(in.endpoint.host, ".:-_")) || (!tcp && tunnel_lines.empty()) ||
        !paste_safe(in.user, "_-") || !paste_safe(alias, "._-") || in.host_keys.empty() ||
        (!in.tunnel_url.empty() && !paste_safe(in.tunnel_url, ".:-_~%/"))) {
        return std::nullopt;
    }
    for (const auto& key : in.host_keys) {
        if (!paste_safe(key.type, "@.-") || !paste_safe(key.base64, "+/=")) {
            return std::nullopt;
        }
    }
    // The script has no single quote (it is inside sh -c '...'), no two
    // backslashes in a row (fish reads those inside '...'), no "!" (history
    // expansion), and uses only POSIX sh, awk, mktemp, mv and cat, as found on
    // macOS, Linux and WSL. An unterminated old block (a marker deleted by
    // hand) is kept, not dropped.
    std::string block_args = "\"# >>> sshboot $a >>>\"";
    std::vector<std::string> lines;
    if (tcp) {
        lines = config_block_lines(in);
    }
    lines.insert(lines.end(), tunnel_lines.begin(), tunnel_lines.end());
    for (const auto& line : lines) {
        block_args += " \"" + line + "\"";
    }
    block_args += " \"# <<< sshboot $a <<<\"";
    std::string key_args;
    for (const auto& key : in.host_keys) {
        key_args += " \"" + alias + " " + key.type + " " + key.base64 + "\"";
    }
    // @ALIAS@, @CONFIG@ and @KEYS@ are filled in below.
    static constexpr std::string_view k_script =
        R"sh(sh -c 'set -e; umask 077; a=@ALIAS@; d="$HOME/.ssh"; c="$d/config"; k="$d/known_hosts"
[ -d "$d" ] || mkdir -m 700 "$d"; touch "$c" "$k"
b=$(mktemp "$d/.sshboot.XXXXXX"); t=$(mktemp "$d/.sshboot.XXXXXX")
trap "rm -f -- \"\$b\" \"\$t\"" EXIT
put() { if [ -L "$2" ]; then cat "$1" >"$2"; else mv -f "$1" "$2"; fi; }
printf "%s\n" @CONFIG@ >"$b"
awk -v s="# >>> sshboot $a >>>" -v e="# <<< sshboot $a <<<" "FNR == NR { x = x \$0 ORS; next }
  \$0 == s { o = 1; next } o && \$0 == e { o = 0; y = \"\"; next } o { y = y \$0 ORS; next }
  i == 0 && tolower(\$0) ~ /^[ \t]*(host|match)[ \t=]/ { printf \"%s\", x; i = 1 }
  { print } END { if (i == 0) printf \"%s\", x; printf \"%s\", y }" "$b" "$c" >"$t"; put "$t" "$c"
awk -v a="$a" "\$1 == a { next } { print }" "$k" >"$t"
printf "%s\n" @KEYS@ >>"$t"; put "$t" "$k"
echo "Set up ~/.ssh/config and ~/.ssh/known_hosts for $a: now run ssh @HOST@"'
)sh";
    std::string script(k_script);
    auto replace = [&](const std::string& name, const std::string& value) {
        const auto at = script.find(name);
        script.replace(at, name.size(), value);
    };
    replace("@ALIAS@", alias);
    replace("@HOST@", tcp ? alias : tunnel_host_name(in));
    replace("@CONFIG@", block_args);
    replace("@KEYS@", key_args.substr(1));
    std::istringstream text(script);
    std::string out;
    for (std::string line; std::getline(text, line);) {
        out += "    " + line + "\n";
    }
    return out;
}

util::Expected<std::string> render_connect_block(const ConnectInput& in) {
    const std::string host_name = known_hosts_name(in.endpoint.host, in.endpoint.port);
    const std::string alias = sanitize_alias(in.alias);
    std::string config_block;
    for (const auto& line : config_block_lines(in)) {
        config_block += "    " + line + "\n";
    }
    std::string laptop_setup;
    if (auto command = laptop_setup_command(in)) {
        laptop_setup =
            "\n"
            " Or set up both on your laptop in one paste (macOS, Linux, WSL; pasting it again\n"
            " replaces the entry for " +
            alias + " instead of adding another), then run: ssh " + alias + "\n" + *command;
    }
    return util::render_template(
        embedded::connect_template,
        {
            {"USER", in.user},
            {"HOST", in.endpoint.host},
            {"PORT", std::to_string(in.endpoint.port)},
            {"PASSWORD_LINE", password_line(in)},
            {"REMOTE_DIR", in.remote_dir},
            {"FINGERPRINTS", without_last_newline(fingerprint_lines(in.host_keys))},
            {"KNOWN_HOSTS", without_last_newline(key_lines(in.host_keys, host_name, ""))},
            {"KNOWN_HOSTS_ALIAS", without_last_newline(key_lines(in.host_keys, alias, ""))},
            {"CONFIG_BLOCK", without_last_newline(config_block)},
            {"ALIAS", alias},
            {"LAPTOP_SETUP", laptop_setup},
            {"TUNNEL", render_tunnel_section(in)},
        });
}

namespace {

std::string render_identity(const ConnectInput& in, const std::string& address) {
    const std::string port = std::to_string(in.endpoint.port);
    const std::string alias = sanitize_alias(in.alias);
    std::string out =
        " This container's host key, to check it when you reach SSH another way (a proxy,\n"
        " kubectl port-forward, a VPN). Inside the container, sshd listens on " +
        address + " port " + port + ".\n";
    out += password_line(in);
    out += "\n Host key fingerprints (what ssh shows on first connect):\n";
    out += fingerprint_lines(in.host_keys);
    out += "\n known_hosts line for that address:\n";
    out += key_lines(in.host_keys, known_hosts_name(address, in.endpoint.port), "    ");
    out +=
        "\n Through another address (e.g. a port-forward to localhost), add this line to\n"
        " ~/.ssh/known_hosts instead; it names the key by an alias:\n";
    out += key_lines(in.host_keys, alias, "    ");
    out += " and connect with: ssh -o HostKeyAlias=" + alias + " -p <port> " + in.user +
           "@<address>\n\n";
    return out;
}

}  // namespace

util::Expected<std::string> render_report(const ReportInput& input) {
    ConnectInput in = input.connect;
    if (auto endpoint = detect_endpoint(input.sources)) {
        in.endpoint = *endpoint;
        return render_connect_block(in);
    }
    const std::string address = input.local_address.empty() ? "127.0.0.1" : input.local_address;
    std::string tunnel;
    if (in.tunnel_port != 0) {
        // No TCP endpoint: the tunnel is the way in.
        tunnel = " The HTTPS tunnel needs no public IP: connect through it, as below.\n" +
                 render_tunnel_section(in);
        if (auto command = laptop_setup_command(in)) {
            tunnel +=
                " Or set it up on your laptop in one paste (macOS, Linux, WSL), then run: ssh " +
                tunnel_host_name(in) + "\n" + *command;
        }
        tunnel += "\n";
    }
    in.endpoint = Endpoint{input.local_address, input.sources.internal_port, "container"};
    return missing_endpoint_message(input.sources) + tunnel + render_identity(in, address);
}

util::Expected<std::string> render_tunnel_page(const ReportInput& input) {
    ReportInput page = input;
    page.connect.password.clear();
    auto text = render_report(page);
    if (!text) {
        return text;
    }
    return " SSH to " + sanitize_alias(input.connect.alias) +
           ": this address carries SSH over a WebSocket at /ssh.\n" + *text;
}

}  // namespace sshboot::report
