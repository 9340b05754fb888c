// Passwords: generation from libsodium, hashing with libcrypt (crypt_r), and a
// string type that wipes its plaintext when it goes away.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::accounts {

// A plaintext secret. Its buffer is wiped (sodium_memzero) on destruction and
// on move; it is never copied implicitly.
class Secret {
  public:
    Secret() = default;
    explicit Secret(std::string text) : m_text(std::move(text)) {}
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret();

    const std::string& str() const { return m_text; }
    std::string_view view() const { return m_text; }
    bool empty() const { return m_text.empty(); }
    std::size_t size() const { return m_text.size(); }
    void clear();

  private:
    std::string m_text;
};

enum class HashMethod { Sha512, Yescrypt };

// "sha512" (also "sha-512", "6") or "yescrypt" (also "y").
util::Expected<HashMethod> parse_hash_method(std::string_view name);

// Characters a generated password is drawn from: letters and digits without
// the look-alikes 0 O o 1 l I.
inline constexpr std::string_view k_password_alphabet =
    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
inline constexpr std::size_t k_generated_password_length = 24;

// A random password of `length` characters from k_password_alphabet
// (libsodium's randombytes_uniform; call sodium_init first).
Secret generate_password(std::size_t length = k_generated_password_length);

// Why `plaintext` cannot be a password (empty, a NUL or newline in it, too
// long); empty when it can.
std::string password_problem(std::string_view plaintext);

// SHA-512-crypt's rounds: about 100 ms of one core of a 2024 x86-64 server
// (0.2 us a round; the default 5000 rounds take 1 ms). Every crypt that
// knows "$6$" reads "rounds=" (glibc's, musl's, libxcrypt).
inline constexpr unsigned long k_sha512_rounds = 500000;

// A crypt(3) hash of `plaintext` with a fresh random salt: "$6$rounds=N$..."
// for Sha512 (k_sha512_rounds), "$y$..." for Yescrypt at libxcrypt's default
// cost (16 MiB and about 17 ms, what Debian's and Fedora's passwd use).
util::Expected<std::string> hash_password(std::string_view plaintext, HashMethod method);

// True when `plaintext` matches `hash` (crypt_r and a constant-time compare).
bool verify_password(std::string_view plaintext, std::string_view hash);

// True when a shadow password field can be used to log in with a password:
// not empty, not locked ("!..."), not "*" or "x", and a crypt(3) hash.
bool is_usable_hash(std::string_view field);

}  // namespace sshboot::accounts
