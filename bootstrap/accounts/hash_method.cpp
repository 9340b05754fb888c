#include "accounts/hash_method.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include "util/fd.hpp"
#include "util/fs.hpp"

namespace sshboot::accounts {
namespace {

// The Debian/Ubuntu multiarch directory of this build's architecture.
#if defined(__x86_64__)
constexpr std::string_view k_triplet = "x86_64-linux-gnu";
#elif defined(__aarch64__)
constexpr std::string_view k_triplet = "aarch64-linux-gnu";
#else
constexpr std::string_view k_triplet = "";
#endif

// Where the dynamic loader looks for libraries without ld.so.cache entries of
// its own, in its order (multiarch first, then lib64 and lib).
std::vector<std::string> library_dirs() {
    std::vector<std::string> out;
    if (!k_triplet.empty()) {
        out.push_back("/lib/" + std::string(k_triplet));
        out.push_back("/usr/lib/" + std::string(k_triplet));
    }
    for (const char* d : {"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}) {
        out.emplace_back(d);
    }
    return out;
}

bool is_regular(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<std::string> first_file(const std::string& root, const std::string& suffix) {
    for (const auto& dir : library_dirs()) {
        const std::string path = util::path_join(dir, suffix);
        if (is_regular(root + path)) {
            return path;
        }
    }
    return std::nullopt;
}

// Which of `needles` the file holds; nullopt when it cannot be read.
std::optional<ByteScanner> scan_file(const std::string& path, std::vector<std::string> needles) {
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    ByteScanner scanner(std::move(needles));
    std::string piece(64 << 10, '\0');
    for (;;) {
        const ssize_t n = ::read(fd.get(), piece.data(), piece.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return std::nullopt;
        }
        if (n == 0) {
            return scanner;
        }
        scanner.feed(std::string_view(piece.data(), static_cast<std::size_t>(n)));
        if (scanner.all_found()) {
            return scanner;
        }
    }
}

// The NUL ends the name in the dynamic string table: "libcrypt.so.1" and not
// "libcrypt.so.1.1.0" (the file name) nor "libcrypt.so.2".
const std::string k_needs_libcrypt("libcrypt.so.1\0", 14);
// libxcrypt's table of hash prefixes holds "$y$" (NUL-terminated) only when
// yescrypt is built in; "yescrypt-prehash" is a constant of its yescrypt code.
const std::string k_yescrypt_prefix("$y$\0", 4);
const std::string k_yescrypt_code("yescrypt-prehash");

}  // namespace

ByteScanner::ByteScanner(std::vector<std::string> needles)
    : m_needles(std::move(needles)), m_found(m_needles.size(), false) {
    for (const auto& n : m_needles) {
        m_keep = std::max(m_keep, n.empty() ? std::size_t{0} : n.size() - 1);
    }
}

void ByteScanner::feed(std::string_view piece) {
    std::string window = std::move(m_carry);
    window.append(piece);
    for (std::size_t i = 0; i < m_needles.size(); ++i) {
        if (!m_found[i] && window.find(m_needles[i]) != std::string::npos) {
            m_found[i] = true;
        }
    }
    m_carry = window.size() > m_keep ? window.substr(window.size() - m_keep) : window;
}

bool ByteScanner::all_found() const {
    return std::all_of(m_found.begin(), m_found.end(), [](bool b) { return b; });
}

HashChoice choose_hash_method(const HashSupport& s) {
    if (s.checkers.empty()) {
        return {HashMethod::Sha512,
                "neither sshd nor pam_unix.so found to check which hashes "
                "they verify; SHA-512 is verified everywhere"};
    }
    for (const auto& c : s.checkers) {
        if (!c.uses_libcrypt) {
            return {HashMethod::Sha512, c.path +
                                            " is not linked against libcrypt.so.1 (musl's or "
                                            "another libc's crypt, without yescrypt)"};
        }
    }
    if (s.libcrypt_path.empty()) {
        return {HashMethod::Sha512,
                "no libcrypt.so.1 in the library directories, so yescrypt cannot be verified"};
    }
    if (!s.libcrypt_has_yescrypt) {
        return {HashMethod::Sha512, s.libcrypt_path +
                                        " has no yescrypt (glibc's own libcrypt, or libxcrypt "
                                        "before 4.3)"};
    }
    std::string checkers;
    for (const auto& c : s.checkers) {
        checkers += (checkers.empty() ? "" : " and ") + c.path;
    }
    return {HashMethod::Yescrypt,
            s.libcrypt_path + " implements yescrypt and " + checkers + " use libcrypt.so.1"};
}

std::string hash_method_label(HashMethod method) {
    if (method == HashMethod::Yescrypt) {
        return "yescrypt ($y$)";
    }
    return "sha512 ($6$, " + std::to_string(k_sha512_rounds) + " rounds)";
}

std::string stored_hash_label(std::string_view hash) {
    if (hash.starts_with("$y$")) {
        return "yescrypt";
    }
    if (hash.starts_with("$gy$")) {
        return "gost-yescrypt";
    }
    if (hash.starts_with("$6$") || hash.starts_with("$5$")) {
        const std::string name = hash[1] == '6' ? "sha512" : "sha256";
        constexpr std::string_view rounds = "rounds=";
        auto rest = hash.substr(3);
        if (!rest.starts_with(rounds)) {
            return name + " (5000 rounds)";
        }
        rest.remove_prefix(rounds.size());
        const auto end = rest.find('$');
        return name + " (" + std::string(rest.substr(0, end)) + " rounds)";
    }
    if (hash.starts_with("$2")) {
        return "bcrypt";
    }
    if (hash.starts_with("$1$")) {
        return "md5";
    }
    if (hash.size() == 13 && hash.front() != '$') {
        return "DES";
    }
    return "unknown";
}

bool is_weak_hash(std::string_view hash) {
    if (hash.starts_with("$1$") || (hash.size() == 13 && hash.front() != '$')) {
        return true;
    }
    if (!hash.starts_with("$6$") && !hash.starts_with("$5$")) {
        return false;
    }
    constexpr std::string_view rounds = "rounds=";
    auto rest = hash.substr(3);
    if (!rest.starts_with(rounds)) {
        return true;  // the default, 5000
    }
    rest.remove_prefix(rounds.size());
    unsigned long n = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    return ec != std::errc{} || n < k_sha512_rounds;
}

HashSupport detect_hash_support(const std::string& sshd_path, const std::string& root) {
    HashSupport out;
    std::vector<std::string> checkers;
    if (!sshd_path.empty() && is_regular(root + sshd_path)) {
        checkers.push_back(sshd_path);
    }
    if (auto pam_unix = first_file(root, "security/pam_unix.so")) {
        checkers.push_back(*pam_unix);
    }
    for (const auto& path : checkers) {
        auto scan = scan_file(root + path, {k_needs_libcrypt});
        out.checkers.push_back({path, scan && scan->found(0)});
    }
    if (auto lib = first_file(root, "libcrypt.so.1")) {
        out.libcrypt_path = *lib;
        auto scan = scan_file(root + *lib, {k_yescrypt_prefix, k_yescrypt_code});
        out.libcrypt_has_yescrypt = scan && scan->all_found();
    }
    return out;
}

}  // namespace sshboot::accounts
