// Which of sshboot's environment variables SSH sessions see: sshboot's own
// secrets never, per-session variables not by default, everything else yes;
// SSHBOOT_ENV_EXCLUDE / SSHBOOT_ENV_INCLUDE adjust it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sshboot::session_env {

struct Variable {
    std::string name;
    std::string value;
};

// Patterns from SSHBOOT_ENV_EXCLUDE / SSHBOOT_ENV_INCLUDE: fnmatch globs
// separated by commas (spaces around them ignored, empty items dropped).
std::vector<std::string> parse_patterns(std::string_view csv);

// SSH_PASSWORD*, PUBLIC_KEY*, SSH_PUBLIC_KEY*, SSHBOOT_CLUSTER_SECRET*: never exported, whatever
// the patterns say.
bool is_sshboot_secret(std::string_view name);

// Variables that describe one login or one process rather than the container
// (HOME, USER, SHELL, TERM, PWD, SSH_CONNECTION, ...) and sshboot's own
// SSHBOOT_* settings: not exported unless an include pattern names them.
bool is_excluded_by_default(std::string_view name);

// Whether a name says its value is a credential (*TOKEN*, *SECRET*,
// *PASSWORD*, *KEY* but not *PUBLIC_KEY*, *CREDENTIAL*, HF_*, ...), compared
// case-insensitively. Such values go only into files root and SSH_USER read.
bool looks_secret(std::string_view name);

// A name a POSIX shell can export: [A-Za-z_][A-Za-z0-9_]*.
bool is_shell_name(std::string_view name);

struct Patterns {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
};

struct Selection {
    std::vector<Variable> variables;   // exported, sorted by name
    std::vector<std::string> skipped;  // warnings, each naming a variable, never its value
};

// Picks the variables to export from "NAME=value" entries (as in environ).
// Order of rules: sshboot's secrets are dropped; a name matching an include
// pattern is kept; else one matching an exclude pattern or excluded by
// default is dropped. Kept variables whose name is not a shell name, or whose
// value holds a newline or carriage return (no target format carries one),
// are skipped with a warning. A later duplicate of a name is ignored.
Selection select_variables(const std::vector<std::string>& environ_entries,
                           const Patterns& patterns);

}  // namespace sshboot::session_env
