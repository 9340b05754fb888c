// The text formats that carry variables into SSH sessions: sshd's SetEnv line
// and a POSIX shell file for /etc/profile.d. Pure text -> text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session_env/filter.hpp"

namespace sshboot::session_env {

// How the sshd that will read the config splits a line into words.
// - Modern (OpenSSH 8.7 and later): shell-like; "..." and '...' quote, a
//   backslash escapes \ " ' inside them, '#' ends the line only outside quotes.
// - Legacy (7.8 to 8.6): a word starting with " runs to the next ", with no
//   escapes, and the loader cuts every line at the first '#'.
enum class SshdSyntax { Modern, Legacy };

// A value in single quotes for a POSIX shell: 'it'\''s'. Carries every byte
// but NUL (which an environment cannot hold anyway).
std::string shell_quote(std::string_view value);

// One SetEnv word, "NAME=value" in double quotes, escaped for `syntax`;
// nullopt when that syntax cannot carry the value (a line break; for Legacy
// also '"', '\' or '#').
std::optional<std::string> setenv_word(const Variable& var, SshdSyntax syntax);

struct SetEnvLine {
    std::string line;                  // "SetEnv ..." without newline; empty when no variable
    std::vector<std::string> skipped;  // names that could not be carried
};

// The one SetEnv line holding every variable (sshd uses only the first SetEnv
// line it reads, so they cannot be split over several).
SetEnvLine render_setenv_line(const std::vector<Variable>& vars, SshdSyntax syntax);

// A /etc/profile.d file exporting `vars`, with a header comment and, when
// given, the manifest's comment lines.
struct Manifest;
std::string render_profile(const std::vector<Variable>& vars, const Manifest* manifest = nullptr);

// What sessions see, by name only: kept as comments in the world-readable
// profile file so that `sshboot doctor --session-env` can show it to any
// user. Long lists are cut (k_manifest_max_names) and the rest counted.
struct Manifest {
    std::vector<std::string> plain;       // in the world-readable file
    std::vector<std::string> restricted;  // secrets: only root and SSH_USER's group read them
    std::vector<std::string> withheld;    // not exported by rule
    std::vector<std::string> left_out;    // over the export limits
    std::size_t withheld_more = 0;        // names beyond the ones listed
    std::size_t left_out_more = 0;
};
inline constexpr std::size_t k_manifest_max_names = 500;

// The manifest's comment lines ("# sshboot-restricted: A B", ...; plain names
// are the file's export lines).
std::string render_manifest(const Manifest& manifest);

// The manifest read back from a profile file render_profile wrote: plain
// from its export lines, the rest from its comment lines. Never holds a
// value.
Manifest parse_manifest(std::string_view profile_text);

// The OpenSSH version named in a binary's bytes ("OpenSSH_9.2p1" -> {9, 2});
// nullopt when there is none.
struct Version {
    int major = 0;
    int minor = 0;
};
// With `match_end`, also where the version's last digit ends: a caller
// reading the binary in pieces reads on when that is the end of its text.
std::optional<Version> find_openssh_version(std::string_view binary,
                                            std::size_t* match_end = nullptr);

// The syntax for a version; nullopt when that sshd has no SetEnv (before 7.8).
// An unknown version is taken as Modern.
std::optional<SshdSyntax> syntax_for(std::optional<Version> version);

}  // namespace sshboot::session_env
