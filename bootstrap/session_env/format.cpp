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

std::string render_profile(const std::vector<Variable>& vars) {
    std::string out =
        "# Written by sshboot on every start from the container's environment; edits here are\n"
        "# lost. Login shells read it after /etc/profile has reset PATH.\n";
    for (const auto& var : vars) {
        out += "export " + var.name + "=" + shell_quote(var.value) + "\n";
    }
    return out;
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
