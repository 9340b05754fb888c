// The sshd already serving a live container: finding it, turning on password
// login in its configuration, and reloading it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sshd/config.hpp"
#include "util/expected.hpp"

namespace sshboot::password {

inline constexpr const char* k_dropin_name = sshd::k_password_dropin_name;
inline constexpr const char* k_block_begin = "# >>> sshboot password login >>>";
inline constexpr const char* k_block_end = "# <<< sshboot password login <<<";

// The directives that turn on password login, with the limits against
// guessing (sshd::password_limit_lines; PerSourcePenalties only when that
// sshd has it); PermitRootLogin yes only when the account is root.
std::string password_directives(bool root, bool per_source_penalties = false);

// The drop-in file's text.
std::string password_dropin_text(bool root, bool per_source_penalties = false);

// The directory of the first top-level `Include DIR/*.conf` in an sshd
// config (relative paths are under `config_dir`, as sshd reads them);
// nullopt when there is none before the first Match block.
std::optional<std::string> included_dropin_dir(std::string_view config_text,
                                               std::string_view config_dir = "/etc/ssh");

// `config_text` without sshboot's marked block.
std::string remove_password_block(std::string_view config_text);

// `config_text` with sshboot's marked block (password_directives) at the top,
// where it wins over later values; an older block is replaced.
std::string add_password_block(std::string_view config_text, bool root,
                               bool per_source_penalties = false);

// The config file named by `-f` in an sshd command line (NUL- or
// space-separated, as /proc/PID/cmdline holds it before or after sshd
// renames its listener); `/etc/ssh/sshd_config` when there is none.
std::string config_path_from_cmdline(std::string_view cmdline);

// Values of `keyword` (lowercase) in `sshd -T` output.
std::vector<std::string> sshd_t_values(std::string_view sshd_t_output, std::string_view keyword);

struct RunningSshd {
    pid_t pid = -1;
    std::string exe;          // /proc/PID/exe
    std::string config_path;  // from -f, or the default
    std::vector<std::uint16_t> ports;
};

// sshd processes that hold a listening TCP socket (listeners, not sessions).
std::vector<RunningSshd> find_running_sshd();

// Inodes of the listening sockets `pid` holds.
std::set<unsigned long> listening_inodes(pid_t pid);

// Sends SIGHUP to `pid` and waits until it listens on `port` again with new
// sockets (sshd re-executes itself on SIGHUP).
util::Status reload_sshd(pid_t pid, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace sshboot::password
