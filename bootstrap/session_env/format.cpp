#include "session_env/format.hpp"

#include <cctype>

namespace sshboot::session_env {

std::string shell_quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    out.push_back('\'');
    return out;
}

std::optional<std::string> setenv_word(const Variable& var, SshdSyntax syntax) {
    const std::string text = var.name + "=" + var.value;
    if (text.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
        return std::nullopt;
    }
    if (syntax == SshdSyntax::Legacy) {
        if (text.find_first_of("\"\\#") != std::string::npos) {
            return std::nullopt;
        }
        return "\"" + text + "\"";
    }
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

SetEnvLine render_setenv_line(const std::vector<Variable>& vars, SshdSyntax syntax) {
    SetEnvLine out;
    for (const auto& var : vars) {
        auto word = setenv_word(var, syntax);
        if (!word) {
            out.skipped.push_back(var.name);
            continue;
        }
        out.line += (out.line.empty() ? "SetEnv " : " ") + *word;
    }
    return out;
}

std::string render_profile(const std::vector<Variable>& vars, const Manifest* manifest) {
    std::string out =
        "# Written by sshboot on every start from the container's environment; edits here are\n"
        "# lost. Login shells read it after /etc/profile has reset PATH.\n";
    if (manifest != nullptr) {
        out += render_manifest(*manifest);
    }
    for (const auto& var : vars) {
        out += "export " + var.name + "=" + shell_quote(var.value) + "\n";
    }
    return out;
}

namespace {

constexpr std::string_view k_restricted_tag = "# sshboot-restricted:";
constexpr std::string_view k_withheld_tag = "# sshboot-withheld:";
constexpr std::string_view k_left_out_tag = "# sshboot-left-out:";

void append_names(std::string& out, std::string_view tag, const std::vector<std::string>& names,
                  std::size_t more) {
    out += tag;
    std::size_t listed = 0;
    for (const auto& name : names) {
        // Only shell names: any other name (it may hold a line break) is
        // counted, never written into a file every login shell reads.
        if (listed < k_manifest_max_names && is_shell_name(name)) {
            out += " " + name;
            ++listed;
        } else {
            ++more;
        }
    }
    if (more > 0) {
        out += " +" + std::to_string(more);
    }
    out += "\n";
}

void read_names(std::string_view line, std::vector<std::string>& names, std::size_t& more) {
    while (!line.empty()) {
        const auto space = line.find(' ');
        const std::string_view word = line.substr(0, space);
        line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        if (word.starts_with("+")) {
            more = 0;
            for (char c : word.substr(1)) {
                if (!std::isdigit(static_cast<unsigned char>(c))) {
                    break;
                }
                more = more * 10 + static_cast<std::size_t>(c - '0');
            }
        } else if (!word.empty() && is_shell_name(word)) {
            names.emplace_back(word);
        }
    }
}

}  // namespace

std::string render_manifest(const Manifest& manifest) {
    std::string out =
        "# What SSH sessions see, names only (sshboot doctor --session-env shows it):\n";
    append_names(out, k_restricted_tag, manifest.restricted, 0);
    append_names(out, k_withheld_tag, manifest.withheld, manifest.withheld_more);
    append_names(out, k_left_out_tag, manifest.left_out, manifest.left_out_more);
    return out;
}

Manifest parse_manifest(std::string_view text) {
    Manifest m;
    std::size_t ignored = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.starts_with("export ")) {
            line.remove_prefix(7);
            const std::string_view name = line.substr(0, line.find('='));
            if (is_shell_name(name)) {
                m.plain.emplace_back(name);
            }
        } else if (line.starts_with(k_restricted_tag)) {
            read_names(line.substr(k_restricted_tag.size()), m.restricted, ignored);
        } else if (line.starts_with(k_withheld_tag)) {
            read_names(line.substr(k_withheld_tag.size()), m.withheld, m.withheld_more);
        } else if (line.starts_with(k_left_out_tag)) {
            read_names(line.substr(k_left_out_tag.size()), m.left_out, m.left_out_more);
        }
    }
    return m;
}

std::optional<Version> find_openssh_version(std::string_view binary, std::size_t* match_end) {
    constexpr std::string_view k_tag = "OpenSSH_";
    for (auto pos = binary.find(k_tag); pos != std::string_view::npos;
         pos = binary.find(k_tag, pos + 1)) {
        std::size_t i = pos + k_tag.size();
        auto number = [&](int& out) {
            const std::size_t start = i;
            out = 0;
            while (i < binary.size() && std::isdigit(static_cast<unsigned char>(binary[i])) &&
                   i - start < 4) {
                out = out * 10 + (binary[i] - '0');
                ++i;
            }
            return i > start;
        };
        Version v;
        if (number(v.major) && i < binary.size() && binary[i] == '.' && (++i, number(v.minor))) {
            if (match_end != nullptr) {
                *match_end = i;
            }
            return v;
        }
    }
    return std::nullopt;
}

std::optional<SshdSyntax> syntax_for(std::optional<Version> version) {
    if (!version) {
        return SshdSyntax::Modern;
    }
    const auto [major, minor] = *version;
    if (major < 7 || (major == 7 && minor < 8)) {
        return std::nullopt;
    }
    if (major < 8 || (major == 8 && minor < 7)) {
        return SshdSyntax::Legacy;
    }
    return SshdSyntax::Modern;
}

}  // namespace sshboot::session_env
