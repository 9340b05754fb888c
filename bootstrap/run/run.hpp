// `sshboot run`: settings -> plan -> apply -> wait until sshd accepts
// connections -> report -> supervise.
#pragma once

#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "hostkeys/store.hpp"

namespace sshboot::run {

// Returns the process exit code (COMMAND's, or 1 when sshboot itself fails).
int run(const cli::Settings& settings);

// The host keys of `s.host_key_types` in the state directory, made or reused
// (hostkeys::ensure_host_keys); ssh-keygen is looked up beside sshd and on
// `path_env` only when a type other than ed25519 is asked for. Also used by
// `sshboot password`.
util::Expected<std::vector<hostkeys::HostKey>> ensure_host_keys(const cli::Settings& s,
                                                                const std::string& sshd_path,
                                                                const std::string& path_env);

// Prints the connect block (or the missing-endpoint message) on stdout, as
// `run` does once sshd accepts connections. `generated_password` is printed
// once when not empty; `password_login` says password login is on without
// printing a password. Also used by `sshboot password`.
void print_connect_report(const cli::Settings& s, const std::string& user,
                          const std::vector<hostkeys::HostKey>& host_keys,
                          const std::string& generated_password, bool password_login);

}  // namespace sshboot::run
