#include "sshd/version.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fd.hpp"
#include "util/log.hpp"

namespace sshboot::sshd {

std::optional<Version> read_openssh_version(const std::string& sshd_path) {
    if (sshd_path.empty()) {
        return std::nullopt;
    }
    util::UniqueFd fd(::open(sshd_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        log::debug("cannot open {} for its version: {}", sshd_path, std::strerror(errno));
        return std::nullopt;
    }
    constexpr std::size_t k_piece = 64 << 10;
    constexpr std::size_t k_carry = 32;  // longer than any "OpenSSH_NNNN.NNNN"
    std::string window;
    window.reserve(k_piece + k_carry);
    std::vector<char> piece(k_piece);
    for (;;) {
        const ssize_t n = ::read(fd.get(), piece.data(), piece.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            log::debug("cannot read {} for its version: {}", sshd_path, std::strerror(errno));
            return std::nullopt;
        }
        window.append(piece.data(), static_cast<std::size_t>(n));
        std::size_t end = 0;
        const auto version = session_env::find_openssh_version(window, &end);
        // A version whose digits run to the end of what was read may go on.
        if (version && (n == 0 || end < window.size())) {
            return version;
        }
        if (n == 0) {
            return std::nullopt;
        }
        window.erase(0, window.size() > k_carry ? window.size() - k_carry : 0);
    }
}

bool has_per_source_penalties(std::optional<Version> version) {
    return version && (version->major > 9 || (version->major == 9 && version->minor >= 8));
}

}  // namespace sshboot::sshd
