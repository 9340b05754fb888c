// /etc/shadow: pure line editing, the lckpwdf-compatible lock, and the atomic
// rewrite that keeps the file's mode, owner and every other line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"
#include "util/fd.hpp"

namespace sshboot::accounts {

// The password field (second field) of `user`'s line in shadow-format text;
// nullopt when there is no such line.
std::optional<std::string> shadow_password_field(std::string_view shadow_text,
                                                 std::string_view user);

// Returns `shadow_text` with `user`'s password field set to `hash` and its
// last-change field to `today_days` (days since 1970-01-01); a locked field
// ("!..." or "!") is replaced too, which unlocks it. Every other line stays
// byte for byte. A missing entry is appended as
// "user:hash:today:0:99999:7:::". An error when `user` or `hash` contains a
// colon, a line break or a NUL (they would add fields or lines).
util::Expected<std::string> set_shadow_password(std::string_view shadow_text, std::string_view user,
                                                std::string_view hash, long today_days);

// Days since the epoch, as shadow's last-change field counts them.
long days_since_epoch();

// The lock glibc's lckpwdf() and shadow's tools take: a write lock (fcntl)
// on <etc_dir>/.pwd.lock. Waits up to `timeout`; released on destruction.
class AccountsLock {
  public:
    static util::Expected<AccountsLock> acquire(
        const std::string& etc_dir = "/etc",
        std::chrono::milliseconds timeout = std::chrono::seconds(15));

  private:
    explicit AccountsLock(util::UniqueFd fd) : m_fd(std::move(fd)) {}
    util::UniqueFd m_fd;
};

// Replaces `path` atomically with `content`, keeping the mode and owner of
// the file it replaces (`new_mode`, root-owned, when it does not exist yet).
// Call it while holding an AccountsLock.
util::Status rewrite_keeping_mode(const std::string& path, std::string_view content,
                                  unsigned new_mode);

// Reads `user`'s shadow password field from <etc_dir>/shadow (nullopt: no
// entry or no shadow file).
util::Expected<std::optional<std::string>> read_shadow_password(
    std::string_view user, const std::string& etc_dir = "/etc");

// True when `user` has a password usable for logging in (see is_usable_hash).
bool has_usable_password(std::string_view user, const std::string& etc_dir = "/etc");

// Sets `user`'s password hash in <etc_dir>/shadow under the lock, atomically.
util::Status set_password_hash(std::string_view user, std::string_view hash,
                               const std::string& etc_dir = "/etc");

}  // namespace sshboot::accounts
