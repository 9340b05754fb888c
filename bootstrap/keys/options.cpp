#include "keys/options.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "util/parse.hpp"

namespace sshboot::keys {
namespace {

bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// What each option sshd knows does (sshd(8), AUTHORIZED_KEYS FILE FORMAT).
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> k_effects{{
    {"agent-forwarding", "allows agent forwarding again after restrict"},
    {"cert-authority",
     "a certificate authority: user certificates it signed may log in, the key itself "
     "cannot"},
    {"command",
     "every login with this key runs this command, never a shell or the command the client "
     "asks for"},
    {"environment",
     "sets this variable in sessions (only where sshd has PermitUserEnvironment yes; "
     "sshboot's sshd does not)"},
    {"expiry-time", "the key stops working after this time"},
    {"from", "the key works only from these client addresses or host names"},
    {"no-agent-forwarding", "no agent forwarding"},
    {"no-port-forwarding", "no port forwarding (ssh -L/-R and VS Code Remote need it)"},
    {"no-pty", "no terminal: interactive shells will not work properly"},
    {"no-touch-required", "a security key may sign without being touched"},
    {"no-user-rc", "~/.ssh/rc is not run"},
    {"no-x11-forwarding", "no X11 forwarding"},
    {"permitlisten", "remote forwarding (ssh -R) only on these listen addresses"},
    {"permitopen", "local forwarding (ssh -L) only to these destinations"},
    {"port-forwarding", "allows port forwarding again after restrict"},
    {"principals", "with cert-authority: only certificates for these names"},
    {"pty", "allows a terminal again after restrict"},
    {"restrict",
     "no port, agent or X11 forwarding, no terminal, no ~/.ssh/rc, unless a later option "
     "allows it again"},
    {"tunnel", "forces this tun device for tunnel forwarding"},
    {"user-rc", "allows ~/.ssh/rc again after restrict"},
    {"verify-required", "the security key must verify the user (PIN or biometrics)"},
    {"x11-forwarding", "allows X11 forwarding again after restrict"},
}};

}  // namespace

std::vector<KeyOption> split_key_options(std::string_view options) {
    std::vector<KeyOption> out;
    std::size_t i = 0;
    while (i < options.size()) {
        KeyOption option;
        while (i < options.size() && is_name_char(options[i])) {
            option.name += lower(options[i]);
            ++i;
        }
        if (option.name.empty()) {
            return out;
        }
        if (i < options.size() && options[i] == '=') {
            ++i;
            if (i >= options.size() || options[i] != '"') {
                return out;
            }
            ++i;
            std::string value;
            bool closed = false;
            while (i < options.size()) {
                if (options[i] == '\\' && i + 1 < options.size() && options[i + 1] == '"') {
                    value += '"';
                    i += 2;
                    continue;
                }
                if (options[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                value += options[i];
                ++i;
            }
            if (!closed) {
                return out;
            }
            option.value = std::move(value);
        }
        out.push_back(std::move(option));
        if (i < options.size()) {
            if (options[i] != ',') {
                return out;
            }
            ++i;
        }
    }
    return out;
}

std::optional<std::string> forced_command(const std::vector<KeyOption>& options) {
    std::optional<std::string> out;
    for (const auto& option : options) {
        if (option.name == "command" && option.value) {
            out = option.value;
        }
    }
    return out;
}

std::string option_label(const KeyOption& option) {
    if (!option.value) {
        return option.name;
    }
    const std::string name = option.name == "command" ? "forced command" : option.name;
    return name + " " + util::quoted_for_log(*option.value);
}

std::string option_effect(const KeyOption& option) {
    const auto it = std::find_if(k_effects.begin(), k_effects.end(),
                                 [&](const auto& e) { return e.first == option.name; });
    if (it == k_effects.end()) {
        return "an option this version of sshboot does not describe";
    }
    return std::string(it->second);
}

std::string options_summary(const std::vector<KeyOption>& options) {
    std::string out;
    for (const auto& option : options) {
        out += (out.empty() ? "" : ", ") + option_label(option);
    }
    return out;
}

bool options_change_login(const std::vector<KeyOption>& options) {
    return std::any_of(options.begin(), options.end(), [](const KeyOption& o) {
        return o.name == "command" || o.name == "cert-authority" || o.name == "restrict" ||
               o.name == "from" || o.name == "expiry-time";
    });
}

}  // namespace sshboot::keys
