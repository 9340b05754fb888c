// Which crypt(3) hash a password gets: yescrypt ("$y$") when the image's own
// password checkers can verify it, else SHA-512-crypt ("$6$") with many rounds.
//
// Who verifies a password in a container: pam_unix.so (sshd with UsePAM yes,
// sudo, su, login) and sshd itself (UsePAM no). On glibc distributions both
// call crypt(3) from libcrypt.so.1; libxcrypt (Debian 11+, Ubuntu 20.04+,
// Fedora, RHEL 9) implements yescrypt there, glibc's own older libcrypt
// (Ubuntu 18.04, CentOS 7) and musl's crypt (Alpine) do not. So yescrypt is
// chosen only when every checker found is linked against libcrypt.so.1 and
// the libcrypt.so.1 the loader finds carries yescrypt (its "$y$" entry and the
// yescrypt code). Configuration files (login.defs ENCRYPT_METHOD, the yescrypt
// word in /etc/pam.d/common-password) say what new passwords get, not what
// can be verified, so they are not used.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "accounts/password.hpp"

namespace sshboot::accounts {

// One program that checks passwords, and whether it is linked against
// libcrypt.so.1 (its dynamic section names it).
struct PasswordChecker {
    std::string path;
    bool uses_libcrypt = false;
};

struct HashSupport {
    std::string libcrypt_path;  // the libcrypt.so.1 the loader finds; empty: none
    bool libcrypt_has_yescrypt = false;
    std::vector<PasswordChecker> checkers;  // sshd, pam_unix.so: those present
};

struct HashChoice {
    HashMethod method = HashMethod::Sha512;
    std::string reason;  // why, for the log and doctor
};

// The method for what was found, with the reason. Pure.
HashChoice choose_hash_method(const HashSupport& support);

// "yescrypt ($y$)" or "sha512 ($6$, 500000 rounds)".
std::string hash_method_label(HashMethod method);

// The method of a stored shadow hash ("$y$...", "$6$..."), as a label:
// "yescrypt", "sha512 (5000 rounds)", "md5", "DES", or "unknown".
std::string stored_hash_label(std::string_view hash);

// True for a stored hash cheaper to guess than what sshboot writes: DES, MD5,
// SHA-256/512-crypt with fewer than k_sha512_rounds rounds.
bool is_weak_hash(std::string_view hash);

// Finds byte strings in a file read piece by piece (a match may span two
// pieces), so that a large binary is never held in memory whole.
class ByteScanner {
  public:
    explicit ByteScanner(std::vector<std::string> needles);
    void feed(std::string_view piece);
    bool found(std::size_t index) const { return m_found[index]; }
    bool all_found() const;

  private:
    std::vector<std::string> m_needles;
    std::vector<bool> m_found;
    std::string m_carry;
    std::size_t m_keep = 0;
};

// What the image under `root` ("" for this container) has: libcrypt.so.1 in
// the loader's usual directories, and sshd (`sshd_path`, inside the root)
// and pam_unix.so as checkers. Reads the files; runs nothing.
HashSupport detect_hash_support(const std::string& sshd_path, const std::string& root = "");

}  // namespace sshboot::accounts
