#include "cli/version.hpp"

#include <sodium.h>

#include "build_info.hpp"

#ifndef SSHBOOT_LINK
#define SSHBOOT_LINK "dynamic"
#endif

namespace sshboot::cli {
namespace {

#define SSHBOOT_STR2(x) #x
#define SSHBOOT_STR(x) SSHBOOT_STR2(x)

#if defined(__x86_64__)
constexpr const char* k_arch = "x86_64";
#elif defined(__aarch64__)
constexpr const char* k_arch = "aarch64";
#elif defined(__i386__)
constexpr const char* k_arch = "i386";
#elif defined(__arm__)
constexpr const char* k_arch = "arm";
#elif defined(__riscv) && __riscv_xlen == 64
constexpr const char* k_arch = "riscv64";
#else
constexpr const char* k_arch = "unknown";
#endif

#if defined(__clang__)
constexpr const char* k_compiler = "clang-" SSHBOOT_STR(__clang_major__) "." SSHBOOT_STR(
    __clang_minor__) "." SSHBOOT_STR(__clang_patchlevel__);
#elif defined(__GNUC__)
constexpr const char* k_compiler = "gcc-" SSHBOOT_STR(__GNUC__) "." SSHBOOT_STR(
    __GNUC_MINOR__) "." SSHBOOT_STR(__GNUC_PATCHLEVEL__);
#else
constexpr const char* k_compiler = "unknown";
#endif

#if defined(__GLIBC__)
constexpr const char* k_libc = "glibc-" SSHBOOT_STR(__GLIBC__) "." SSHBOOT_STR(__GLIBC_MINOR__);
#else
constexpr const char* k_libc = "unknown";
#endif

}  // namespace

std::string version_line() {
    std::string line = "sshboot " SSHBOOT_BUILD_VERSION " commit=" SSHBOOT_BUILD_COMMIT;
    line += " arch=";
    line += k_arch;
    line += " compiler=";
    line += k_compiler;
    line += " libc=";
    line += k_libc;
    line += " link=" SSHBOOT_LINK;
    // The headers' version; the library linked in is the same one.
    line += " libsodium=" SODIUM_VERSION_STRING;
    return line;
}

}  // namespace sshboot::cli
