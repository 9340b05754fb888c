#include "cluster/secret.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <map>

#include "hostkeys/openssh_key.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace sshboot::cluster {
namespace {

constexpr std::size_t k_secret_bytes = 32;
constexpr std::string_view k_how_to_make =
    "make one with `sshboot cluster secret` (or `openssl rand -base64 32`) and give every "
    "node the same value";

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Decodes the part after k_secret_prefix; nullopt unless it is exactly
// k_secret_bytes of unpadded base64url.
bool decodes_to_secret_bytes(std::string_view body) {
    std::array<unsigned char, k_secret_bytes + 1> bin{};
    std::size_t len = 0;
    const int rc = sodium_base642bin(bin.data(), bin.size(), body.data(), body.size(), nullptr,
                                     &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bin.data(), bin.size());
    return rc == 0 && len == k_secret_bytes;
}

}  // namespace

std::string generate_secret() {
    hostkeys::ensure_sodium();
    std::array<unsigned char, k_secret_bytes> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string body(
        sodium_base64_ENCODED_LEN(k_secret_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(body.data(), body.size(), bytes.data(), bytes.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes.data(), bytes.size());
    body.resize(body.find('\0'));
    std::string out(k_secret_prefix);
    out += body;
    sodium_memzero(body.data(), body.size());
    return out;
}

std::string normalize_secret(std::string_view raw) {
    while (!raw.empty() && is_space(raw.front())) {
        raw.remove_prefix(1);
    }
    while (!raw.empty() && is_space(raw.back())) {
        raw.remove_suffix(1);
    }
    return std::string(raw);
}

double estimate_secret_bits(std::string_view secret) {
    if (secret.starts_with(k_secret_prefix) &&
        decodes_to_secret_bytes(secret.substr(k_secret_prefix.size()))) {
        return 8.0 * k_secret_bytes;
    }
    if (secret.empty()) {
        return 0.0;
    }
    // Bound 1: the character classes used, per character that is not part of
    // a run or a +-1 sequence (such characters add almost nothing).
    bool lower = false, upper = false, digit = false, other = false;
    for (char c : secret) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 'a' && u <= 'z') {
            lower = true;
        } else if (u >= 'A' && u <= 'Z') {
            upper = true;
        } else if (u >= '0' && u <= '9') {
            digit = true;
        } else {
            other = true;
        }
    }
    const double pool = (lower ? 26 : 0) + (upper ? 26 : 0) + (digit ? 10 : 0) + (other ? 33 : 0);
    double effective = 1.0;
    for (std::size_t i = 1; i < secret.size(); ++i) {
        const int step =
            static_cast<unsigned char>(secret[i]) - static_cast<unsigned char>(secret[i - 1]);
        effective += (step >= -1 && step <= 1) ? 0.0 : 1.0;
    }
    const double by_classes = effective * std::log2(pool);

    // Bound 2: the Shannon entropy of the character distribution, times the
    // length. Text made of few distinct characters ("abababab...") or of
    // words (skewed letter frequencies) scores low here.
    std::map<char, std::size_t> counts;
    for (char c : secret) {
        ++counts[c];
    }
    double per_char = 0.0;
    const auto n = static_cast<double>(secret.size());
    for (const auto& [c, k] : counts) {
        const double p = static_cast<double>(k) / n;
        per_char -= p * std::log2(p);
    }
    const double by_distribution = per_char * n;
    return std::min(by_classes, by_distribution);
}

util::Status validate_secret(std::string_view secret, std::string_view source) {
    if (secret.empty()) {
        return util::make_error(std::string(source) + " is empty; " + std::string(k_how_to_make));
    }
    for (char c : secret) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return util::make_error(std::string(source) +
                                    " contains a control character (a secret is one line of "
                                    "text); " +
                                    std::string(k_how_to_make));
        }
    }
    if (secret.starts_with(k_secret_prefix) &&
        !decodes_to_secret_bytes(secret.substr(k_secret_prefix.size()))) {
        return util::make_error(std::string(source) + " starts with " +
                                std::string(k_secret_prefix) +
                                " but is not a complete secret (cut off or edited?); copy the "
                                "whole last line `sshboot cluster secret` printed");
    }
    const double bits = estimate_secret_bits(secret);
    if (bits < k_min_secret_bits) {
        return util::make_error(
            std::string(source) + " is too weak for a cluster secret (about " +
            std::to_string(static_cast<int>(bits)) + " bits of entropy estimated from its " +
            std::to_string(secret.size()) + " characters, " +
            std::to_string(static_cast<int>(k_min_secret_bits)) +
            " needed): the cluster CA's public key is in every known_hosts file, so a guessable "
            "secret lets anyone sign host keys and log in; " +
            std::string(k_how_to_make));
    }
    return util::ok();
}

std::string secret_file_problem(mode_t mode, uid_t owner, uid_t euid) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    if (!S_ISREG(mode)) {
        return "is not a regular file; point SSHBOOT_CLUSTER_SECRET_FILE at the file holding the "
               "secret";
    }
    if ((mode & 022) != 0) {
        return std::string("is mode ") + octal +
               ", writable by other users, who could replace the cluster's keys with their own; "
               "make it writable only by its owner (chmod go-w, or defaultMode: 0400 on a "
               "Kubernetes Secret volume)";
    }
    if (owner != 0 && owner != euid) {
        return "is owned by uid " + std::to_string(owner) +
               ", neither root nor the user sshboot runs as (uid " + std::to_string(euid) +
               "); give it to root or to that user (chown)";
    }
    return {};
}

std::string secret_file_warning(mode_t mode) {
    if ((mode & 044) == 0) {
        return {};
    }
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    return std::string("is mode ") + octal +
           ", readable by other users of this container; it is used anyway (a Kubernetes Secret "
           "volume's default), but defaultMode: 0400 on the volume keeps it to root";
}

util::Expected<std::string> read_secret_file(const std::string& path, std::string& warning) {
    const std::string what = "SSHBOOT_CLUSTER_SECRET_FILE " + path;
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        return util::sys_error(what);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return util::sys_error("fstat " + path);
    }
    if (auto problem = secret_file_problem(st.st_mode, st.st_uid, ::geteuid()); !problem.empty()) {
        return util::make_error(what + " " + problem);
    }
    warning = secret_file_warning(st.st_mode);
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            sodium_memzero(buf, sizeof buf);
            return util::sys_error("read " + path);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > 4096) {
            sodium_memzero(buf, sizeof buf);
            sodium_memzero(text.data(), text.size());
            return util::make_error(what + " is larger than 4 KiB: not a cluster secret");
        }
    }
    sodium_memzero(buf, sizeof buf);
    std::string secret = normalize_secret(text);
    sodium_memzero(text.data(), text.size());
    if (auto st2 = validate_secret(secret, what); !st2) {
        sodium_memzero(secret.data(), secret.size());
        return st2.error();
    }
    return secret;
}

}  // namespace sshboot::cluster
