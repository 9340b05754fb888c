// Which of sshboot's environment variables SSH sessions see, and how.
//
// Every variable falls in one of three classes (README, "What SSH sessions
// see"):
// - withheld: never exported. sshboot's own secrets (SSH_PASSWORD*,
//   SSH_PUBLIC_KEY*, PUBLIC_KEY*, SSHBOOT_CLUSTER_SECRET*) always; sshboot's
//   own settings (SSH_PORT, SSH_USER, SSH_PUBLIC_HOST, SSHBOOT_*, ...),
//   per-login variables (HOME, TERM, ...) and SSHBOOT_ENV_EXCLUDE matches
//   unless SSHBOOT_ENV_INCLUDE names them.
// - plain: a short allowlist of variables known to be harmless (PATH,
//   CUDA_*, LANG, HF_HOME, the platform's public ids, ...; is_public_name)
//   whose value does not look like a credential either: in a world-readable
//   file and in every account's sessions.
// - restricted: everything else. Only root and SSH_USER read them (a
//   root-only sshd config with a `Match User` block, a profile.d file
//   readable by root and SSH_USER's group). Whether a restricted variable
//   also looks like a secret (is_secret) is for logs and doctor.
// Exports are bounded (Limits): over the bounds, variables are left out and
// named in one warning.
#pragma once

#include <cstddef>
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

// SSH_PASSWORD*, PUBLIC_KEY*, SSH_PUBLIC_KEY*, SSHBOOT_CLUSTER_SECRET*: never
// exported, whatever the patterns say.
bool is_sshboot_secret(std::string_view name);

// sshboot's own settings: SSHBOOT_* and the SSH_* variables sshboot reads
// (SSH_PORT, SSH_USER, SSH_SUDO, SSH_HOST_KEY_TYPES, SSH_PUBLIC_HOST,
// SSH_PUBLIC_PORT). Meaningless inside a session.
bool is_sshboot_setting(std::string_view name);

// Variables that describe one login or one process rather than the container
// (HOME, USER, SHELL, TERM, PWD, SSH_CONNECTION, ...) and sshboot's own
// settings: not exported unless an include pattern names them.
bool is_excluded_by_default(std::string_view name);

// Whether a name says its value is a credential (*TOKEN*, *SECRET*,
// *PASS* (PASSWORD, PASSWD, PASSPHRASE, DB_PASS), *PWD* but the shell's own
// PWD and OLDPWD, *KEY* but not *PUBLIC_KEY*, *CREDENTIAL*, *_DSN,
// *CONNECTION_STRING*, *_PAT, ...), compared case-insensitively.
bool looks_secret(std::string_view name);

// Whether a value holds a token of a known shape: a known prefix (ghp_,
// github_pat_, glpat-, xox[abeps]-, sk-, hf_, AKIA) followed by enough token
// characters, a JWT (eyJ...\.eyJ...\....), an HTTP "Bearer <token>", or a
// webhook URL whose path is the credential (Slack, Discord, Teams).
bool value_has_token(std::string_view value);

// The allowlist: names known to be harmless for every local account to read
// (PATH and the other search paths, CUDA_*, NVIDIA_*, NV_*, NCCL_*, CONDA_*,
// PYTHON* settings, LANG, LC_*, TZ, HF_HOME and the cache directories, the
// platforms' public ids such as RUNPOD_POD_ID and RUNPOD_TCP_PORT_*, the
// launchers' MASTER_ADDR, WORLD_SIZE, ...). A name on it that also looks
// secret (CUDA_TOKEN) is not public.
bool is_public_name(std::string_view name);

// Whether a value carries a credential whatever its name: a URL whose
// userinfo has a password (scheme://user:pass@host, scheme://:pass@host), a
// token of a known shape (value_has_token), or a keyword with a value
// (password=..., pwd=..., AccountKey=..., aws_secret_access_key=..., a URL
// signed by X-Amz-Signature=, sig=, signature=, token=; case-insensitive).
bool value_has_credentials(std::string_view value);

// Whether a value holds a URL with any userinfo (scheme://user@host): a
// token used as the user name. Secret for names ending in _URL or _URI.
bool value_has_url_userinfo(std::string_view value);

// The whole rule for a variable that is exported: true when its name or its
// value says it is a credential (looks_secret, value_has_credentials, a
// *_URL / *_URI / *_URLS name whose value has userinfo).
bool is_secret(const Variable& var);

// Whether a variable may be world-readable: its name is on the allowlist and
// it is not a secret by name or value.
bool is_public(const Variable& var);

// A name a POSIX shell can export: [A-Za-z_][A-Za-z0-9_]*.
bool is_shell_name(std::string_view name);

struct Patterns {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
};

// Bounds on what is exported. sshd ends a session whose environment would
// reach 1,000 variables ("child_set_env: too many env vars"), counting the
// ones it, PAM and the client add; it parses its SetEnv line on every
// connection in time that grows with the square of the count; and every
// login shell reads the profile files.
struct Limits {
    std::size_t max_variables = 800;
    std::size_t max_total_bytes = 256 << 10;  // NAME=value bytes, all variables
    std::size_t max_value_bytes = 64 << 10;   // one value, unless included by name
};

struct Selection {
    std::vector<Variable> variables;    // exported, sorted by name
    std::vector<std::string> withheld;  // names not exported by rule, sorted
    std::vector<std::string> left_out;  // names over the limits, sorted
    std::vector<std::string> skipped;   // warnings, each naming variables, never values
};

// Picks the variables to export from "NAME=value" entries (as in environ).
// Order of rules: sshboot's secrets are withheld; a name matching an include
// pattern is kept; else one matching an exclude pattern or excluded by
// default is withheld. Kept variables whose name is not a shell name, or
// whose value holds a newline or carriage return (no target format carries
// one), are skipped with a warning. A later duplicate of a name is ignored.
// Then the limits: a value over max_value_bytes is left out unless an
// include pattern names it; included variables are taken first, then the
// others in the order of `environ_entries` (a container runtime puts the
// image's ENV first), while the count and total bytes stay within bounds.
// Warnings name what was left out (a few names and a count) and how to bring
// it in. Runs in O(n log n) for n entries.
Selection select_variables(const std::vector<std::string>& environ_entries,
                           const Patterns& patterns, const Limits& limits = {});

}  // namespace sshboot::session_env
