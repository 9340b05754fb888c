// libFuzzer target for the export quoting of session_env: whatever the value,
// a SetEnv word either is refused or splits back (as OpenSSH 8.7+ splits a
// config line) into exactly "NAME=value", and a shell-quoted value reads back
// exactly.
//
// Built and run by `bash scripts/test.sh fuzz` (see tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "session_env/filter.hpp"
#include "session_env/format.hpp"

namespace {

using sshboot::session_env::SshdSyntax;
using sshboot::session_env::Variable;

// Word splitting of sshd_config lines in OpenSSH 8.7 and later; nullopt
// stands for an unterminated quote (a config error).
bool split_config_line(const std::string& s, std::vector<std::string>& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == ' ' || s[i] == '\t') {
            ++i;
            continue;
        }
        if (s[i] == '#') {
            break;
        }
        std::string word;
        char quote = 0;
        for (; i < s.size(); ++i) {
            const char c = s[i];
            if (c == '\\' && i + 1 < s.size() &&
                (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '\'' ||
                 (quote == 0 && s[i + 1] == ' '))) {
                word.push_back(s[++i]);
            } else if (quote == 0 && (c == ' ' || c == '\t')) {
                break;
            } else if (quote == 0 && (c == '"' || c == '\'')) {
                quote = c;
            } else if (quote != 0 && c == quote) {
                quote = 0;
            } else {
                word.push_back(c);
            }
        }
        if (quote != 0) {
            return false;
        }
        out.push_back(word);
    }
    return true;
}

// Reads back one POSIX shell word made of '...' and \' pieces.
bool unquote_shell(const std::string& s, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '\'') {
            const auto end = s.find('\'', i + 1);
            if (end == std::string::npos) {
                return false;
            }
            out.append(s, i + 1, end - i - 1);
            i = end + 1;
        } else if (s[i] == '\\' && i + 1 < s.size()) {
            out.push_back(s[i + 1]);
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const auto eq = input.find('=');
    Variable var{"V", input};
    if (eq != std::string::npos && sshboot::session_env::is_shell_name(input.substr(0, eq))) {
        var = {input.substr(0, eq), input.substr(eq + 1)};
    }

    std::string back;
    if (!unquote_shell(sshboot::session_env::shell_quote(var.value), back) || back != var.value) {
        std::abort();
    }

    for (auto syntax : {SshdSyntax::Modern, SshdSyntax::Legacy}) {
        const auto word = sshboot::session_env::setenv_word(var, syntax);
        const bool carriable =
            var.value.find_first_of(std::string("\n\r\0", 3)) == std::string::npos;
        if (syntax == SshdSyntax::Modern && carriable != word.has_value()) {
            std::abort();
        }
        if (!word) {
            continue;
        }
        if (word->find_first_of("\n\r") != std::string::npos) {
            std::abort();
        }
        std::vector<std::string> words;
        if (!split_config_line("SetEnv " + *word + " # trailing comment", words) ||
            words.size() != 2 || words[1] != var.name + "=" + var.value) {
            std::abort();
        }
    }

    // The whole environment path: entries from the input, one per line.
    std::vector<std::string> entries;
    std::size_t pos = 0;
    while (pos <= input.size()) {
        const auto nl = input.find('\n', pos);
        entries.push_back(
            input.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) {
            break;
        }
        pos = nl + 1;
    }
    const auto selection = sshboot::session_env::select_variables(entries, {});
    const auto line =
        sshboot::session_env::render_setenv_line(selection.variables, SshdSyntax::Modern);
    if (line.line.find('\n') != std::string::npos || !line.skipped.empty()) {
        std::abort();
    }
    // The profile's manifest names every exported variable and nothing else,
    // whatever the values hold; classifying a value never fails.
    sshboot::session_env::Manifest manifest;
    for (const auto& exported : selection.variables) {
        if (!sshboot::session_env::is_public(exported)) {
            manifest.restricted.push_back(exported.name);
        } else if (sshboot::session_env::is_secret(exported) ||
                   sshboot::session_env::value_has_token(exported.value)) {
            std::abort();  // a credential would be world-readable
        }
    }
    manifest.withheld = selection.withheld;
    const auto parsed = sshboot::session_env::parse_manifest(
        sshboot::session_env::render_profile(selection.variables, &manifest));
    if (parsed.plain.size() != selection.variables.size() ||
        parsed.restricted != manifest.restricted) {
        std::abort();
    }
    std::vector<std::string> words;
    if (!line.line.empty() &&
        (!split_config_line(line.line, words) || words.size() != selection.variables.size() + 1)) {
        std::abort();
    }
    return 0;
}
