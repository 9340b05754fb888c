#include "sshd/version.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fd.hpp"
#include "util/log.hpp"

namespace sshboot::sshd {
namespace {

// pread of exactly `size` bytes at `offset` (false on a short read or error).
bool read_exact(int fd, void* buf, std::size_t size, off_t offset) {
    auto* out = static_cast<char*>(buf);
    while (size > 0) {
        const ssize_t n = ::pread(fd, out, size, offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        out += n;
        size -= static_cast<std::size_t>(n);
        offset += n;
    }
    return true;
}

struct Range {
    off_t offset = 0;
    std::size_t size = 0;
};

// Where the .rodata section lies in an ELF file of this machine's class and
// byte order (sshd runs in the same container as sshboot, so it is one),
// from the section headers. nullopt for anything else: the caller then
// reads the whole file.
std::optional<Range> rodata_range(int fd, off_t file_size) {
    ElfW(Ehdr) eh{};
    if (!read_exact(fd, &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        eh.e_ident[EI_DATA] !=
            (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
        eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0 || eh.e_shnum > 4096 ||
        eh.e_shstrndx >= eh.e_shnum) {
        return std::nullopt;
    }
    const auto fits = [&](std::uint64_t offset, std::uint64_t size) {
        const auto total = static_cast<std::uint64_t>(file_size);
        return offset <= total && size <= total - offset;
    };
    if (!fits(eh.e_shoff, std::uint64_t{eh.e_shnum} * sizeof(ElfW(Shdr)))) {
        return std::nullopt;
    }
    std::vector<ElfW(Shdr)> sections(eh.e_shnum);
    if (!read_exact(fd, sections.data(), sections.size() * sizeof(ElfW(Shdr)),
                    static_cast<off_t>(eh.e_shoff))) {
        return std::nullopt;
    }
    const auto& names = sections[eh.e_shstrndx];
    if (names.sh_type != SHT_STRTAB || names.sh_size > (64u << 10) ||
        !fits(names.sh_offset, names.sh_size)) {
        return std::nullopt;
    }
    std::string table(names.sh_size, '\0');
    if (!read_exact(fd, table.data(), table.size(), static_cast<off_t>(names.sh_offset))) {
        return std::nullopt;
    }
    constexpr std::string_view k_rodata = ".rodata";
    for (const auto& s : sections) {
        if (s.sh_type != SHT_PROGBITS || s.sh_name >= table.size() ||
            !fits(s.sh_offset, s.sh_size)) {
            continue;
        }
        const char* name = table.c_str() + s.sh_name;
        if (std::string_view(name, ::strnlen(name, table.size() - s.sh_name)) == k_rodata) {
            return Range{static_cast<off_t>(s.sh_offset), static_cast<std::size_t>(s.sh_size)};
        }
    }
    return std::nullopt;
}

// The first version in `range` of the file, read in pieces of 8 KiB growing
// to 64 KiB (in sshd's .rodata it is in the first); sets *failed on a read
// error.
std::optional<Version> scan(int fd, Range range, bool* failed) {
    constexpr std::size_t k_first_piece = 8 << 10;
    constexpr std::size_t k_piece = 64 << 10;
    constexpr std::size_t k_carry = 32;  // longer than any "OpenSSH_NNNN.NNNN"
    std::string window;
    std::vector<char> piece(k_first_piece);
    off_t offset = range.offset;
    std::size_t left = range.size;
    for (;;) {
        const ssize_t n = ::pread(fd, piece.data(), std::min(piece.size(), left), offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            *failed = true;
            return std::nullopt;
        }
        window.append(piece.data(), static_cast<std::size_t>(n));
        offset += n;
        left -= static_cast<std::size_t>(n);
        const bool at_end = n == 0 || left == 0;
        std::size_t end = 0;
        const auto version = session_env::find_openssh_version(window, &end);
        // A version whose digits run to the end of what was read may go on.
        if (version && (at_end || end < window.size())) {
            return version;
        }
        if (at_end) {
            return std::nullopt;
        }
        window.erase(0, window.size() > k_carry ? window.size() - k_carry : 0);
        if (piece.size() < k_piece) {
            piece.resize(piece.size() * 2);
        }
    }
}

}  // namespace

std::optional<Version> read_openssh_version(const std::string& sshd_path) {
    if (sshd_path.empty()) {
        return std::nullopt;
    }
    util::UniqueFd fd(::open(sshd_path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
        log::debug("cannot open {} for its version: {}", sshd_path, std::strerror(errno));
        return std::nullopt;
    }
    bool failed = false;
    // The version string is a constant: in .rodata, about a fifth of sshd.
    if (const auto rodata = rodata_range(fd.get(), st.st_size)) {
        if (auto version = scan(fd.get(), *rodata, &failed)) {
            return version;
        }
    }
    auto version = scan(fd.get(), {0, static_cast<std::size_t>(st.st_size)}, &failed);
    if (failed) {
        log::debug("cannot read {} for its version: {}", sshd_path, std::strerror(errno));
    }
    return version;
}

bool has_per_source_penalties(std::optional<Version> version) {
    return version && (version->major > 9 || (version->major == 9 && version->minor >= 8));
}

}  // namespace sshboot::sshd
