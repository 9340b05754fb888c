#include "accounts/password.hpp"

#include <crypt.h>
#include <sodium.h>

#include <memory>

namespace sshboot::accounts {
namespace {

constexpr std::size_t k_max_password = 1024;

void wipe(std::string& s) {
    if (!s.empty()) {
        sodium_memzero(s.data(), s.size());
    }
    s.clear();
}

// crypt_r's working area is large (tens of KiB): keep it off the stack and
// wipe it afterwards, it holds the plaintext's derived state.
struct CryptArea {
    CryptArea() : data(std::make_unique<crypt_data>()) {
        sodium_memzero(data.get(), sizeof(crypt_data));
    }
    ~CryptArea() { sodium_memzero(data.get(), sizeof(crypt_data)); }
    std::unique_ptr<crypt_data> data;
};

}  // namespace

Secret::Secret(Secret&& other) noexcept : m_text(std::move(other.m_text)) {
    wipe(other.m_text);
}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        wipe(m_text);
        m_text = std::move(other.m_text);
        wipe(other.m_text);
    }
    return *this;
}

Secret::~Secret() {
    wipe(m_text);
}

void Secret::clear() {
    wipe(m_text);
}

util::Expected<HashMethod> parse_hash_method(std::string_view name) {
    if (name == "sha512" || name == "sha-512" || name == "SHA512" || name == "6") {
        return HashMethod::Sha512;
    }
    if (name == "yescrypt" || name == "y") {
        return HashMethod::Yescrypt;
    }
    return util::make_error("unknown hash '" + std::string(name) + "'; use sha512 or yescrypt");
}

Secret generate_password(std::size_t length) {
    std::string out(length, '\0');
    for (auto& c : out) {
        c = k_password_alphabet[randombytes_uniform(
            static_cast<std::uint32_t>(k_password_alphabet.size()))];
    }
    return Secret(std::move(out));
}

std::string password_problem(std::string_view plaintext) {
    if (plaintext.empty()) {
        return "the password is empty";
    }
    if (plaintext.size() > k_max_password) {
        return "the password is longer than 1024 characters";
    }
    for (char c : plaintext) {
        if (c == '\0' || c == '\n' || c == '\r') {
            return "the password contains a NUL or line break";
        }
    }
    return {};
}

util::Expected<std::string> hash_password(std::string_view plaintext, HashMethod method) {
    if (auto problem = password_problem(plaintext); !problem.empty()) {
        return util::make_error(problem);
    }
    const char* prefix = method == HashMethod::Sha512 ? "$6$" : "$y$";
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // 0: libxcrypt's default cost for yescrypt.
    const unsigned long count = method == HashMethod::Sha512 ? k_sha512_rounds : 0;
    const char* salt = crypt_gensalt_rn(prefix, count, reinterpret_cast<const char*>(random),
                                        static_cast<int>(sizeof random), setting,
                                        static_cast<int>(sizeof setting));
    sodium_memzero(random, sizeof random);
    if (salt == nullptr) {
        return util::sys_error(std::string("crypt_gensalt_rn ") + prefix);
    }
    std::string key(plaintext);
    CryptArea area;
    const char* hashed = crypt_r(key.c_str(), salt, area.data.get());
    wipe(key);
    if (hashed == nullptr || hashed[0] == '*') {
        return util::make_error(std::string("crypt_r failed for hash method ") + prefix);
    }
    return std::string(hashed);
}

bool verify_password(std::string_view plaintext, std::string_view hash) {
    if (!is_usable_hash(hash) || !password_problem(plaintext).empty()) {
        return false;
    }
    std::string key(plaintext);
    const std::string setting(hash);
    CryptArea area;
    const char* hashed = crypt_r(key.c_str(), setting.c_str(), area.data.get());
    wipe(key);
    if (hashed == nullptr) {
        return false;
    }
    const std::string_view got(hashed);
    return got.size() == hash.size() && sodium_memcmp(got.data(), hash.data(), hash.size()) == 0;
}

bool is_usable_hash(std::string_view field) {
    if (field.empty() || field == "x" || field[0] == '!' || field[0] == '*') {
        return false;
    }
    if (field[0] == '$') {
        return field.size() > 3;
    }
    // Traditional DES crypt: 13 characters of ./0-9A-Za-z.
    if (field.size() != 13) {
        return false;
    }
    for (char c : field) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace sshboot::accounts
