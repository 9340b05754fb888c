#include "util/idle_memory.hpp"

#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <optional>

#include "util/fs.hpp"
#include "util/parse.hpp"

namespace sshboot::util {
namespace {

bool parse_hex(std::string_view text, std::uintptr_t& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
    return ec == std::errc() && end == text.data() + text.size();
}

// "lo-hi perms offset dev inode [path]": a mapping's first line.
struct Mapping {
    AddressRange range;
    bool candidate = false;  // read-only, file-backed
    bool anonymous = true;   // until an "Anonymous: 0 kB" line says otherwise
};

bool parse_header(std::string_view line, Mapping& out) {
    const auto f = fields_of(line);
    if (f.size() < 5) {
        return false;
    }
    const auto dash = f[0].find('-');
    if (dash == std::string_view::npos || !parse_hex(f[0].substr(0, dash), out.range.begin) ||
        !parse_hex(f[0].substr(dash + 1), out.range.end) || out.range.end <= out.range.begin) {
        return false;
    }
    out.candidate = f[1].size() == 4 && f[1][1] != 'w' && f[4] != "0";
    return true;
}

int program_segments(dl_phdr_info* info, std::size_t, void* data) {
    auto& out = *static_cast<std::vector<AddressRange>*>(data);
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) {
            continue;
        }
        const std::uintptr_t first = info->dlpi_addr + ph.p_vaddr;
        out.push_back({first & ~(page - 1), (first + ph.p_memsz + page - 1) & ~(page - 1)});
    }
    // The program itself is the first object; nothing after it (the vDSO).
    return 1;
}

}  // namespace

std::vector<ReadOnlyMapping> program_read_only_mappings(std::string_view smaps,
                                                        std::span<const AddressRange> segments) {
    std::vector<ReadOnlyMapping> out;
    std::optional<Mapping> current;
    const auto finish = [&] {
        if (!current || !current->candidate) {
            return;
        }
        for (const auto& seg : segments) {
            if (current->range.begin >= seg.begin && current->range.end <= seg.end) {
                out.push_back({current->range, current->anonymous});
                return;
            }
        }
    };
    while (!smaps.empty()) {
        const auto eol = smaps.find('\n');
        const auto line = smaps.substr(0, eol);
        smaps.remove_prefix(eol == std::string_view::npos ? smaps.size() : eol + 1);
        Mapping header;
        if (parse_header(line, header)) {
            finish();
            current = header;
            continue;
        }
        if (current && line.starts_with("Anonymous:")) {
            const auto f = fields_of(line);
            current->anonymous = f.size() < 2 || f[1] != "0";
        }
    }
    finish();
    return out;
}

std::vector<AddressRange> file_page_runs(AddressRange range, std::span<const std::uint64_t> entries,
                                         std::uintptr_t page_size) {
    constexpr std::uint64_t present = 1ULL << 63;
    constexpr std::uint64_t swapped = 1ULL << 62;
    constexpr std::uint64_t file_or_shared = 1ULL << 61;
    // The process's own copy of a page, or a page with no entry: kept.
    const auto kept = [&](std::size_t i) {
        if (i >= entries.size()) {
            return true;
        }
        const auto e = entries[i];
        return (e & swapped) != 0 || ((e & present) != 0 && (e & file_or_shared) == 0);
    };
    std::vector<AddressRange> out;
    const std::size_t pages = (range.end - range.begin) / page_size;
    for (std::size_t i = 0; i < pages;) {
        if (kept(i)) {
            ++i;
            continue;
        }
        const std::size_t first = i;
        while (i < pages && !kept(i)) {
            ++i;
        }
        out.push_back({range.begin + first * page_size, range.begin + i * page_size});
    }
    return out;
}

IdleMemory IdleMemory::of_this_program() {
    IdleMemory out;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    std::vector<AddressRange> segments;
    ::dl_iterate_phdr(program_segments, &segments);
    auto smaps = read_file("/proc/self/smaps");
    if (!smaps) {
        return out;
    }
    UniqueFd pagemap;
    std::vector<std::uint64_t> entries;
    for (const auto& mapping : program_read_only_mappings(*smaps, segments)) {
        if (!mapping.has_written_pages) {
            out.m_ranges.push_back(mapping.range);
            continue;
        }
        if (!pagemap.valid()) {
            pagemap.reset(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
        }
        entries.resize((mapping.range.end - mapping.range.begin) / page);
        const auto bytes = static_cast<ssize_t>(entries.size() * sizeof(std::uint64_t));
        // Unreadable: the whole mapping is kept.
        if (!pagemap.valid() ||
            ::pread(pagemap.get(), entries.data(), static_cast<std::size_t>(bytes),
                    static_cast<off_t>(mapping.range.begin / page * sizeof(std::uint64_t))) !=
                bytes) {
            continue;
        }
        const auto runs = file_page_runs(mapping.range, entries, page);
        out.m_ranges.insert(out.m_ranges.end(), runs.begin(), runs.end());
    }
    return out;
}

void IdleMemory::release() const {
    // The heap first: the program's pages last, so that once they are gone
    // (what RssFile shows) the process has nothing left to do but sleep.
    ::malloc_trim(0);
    for (const auto& r : m_ranges) {
        ::madvise(reinterpret_cast<void*>(r.begin), r.end - r.begin, MADV_DONTNEED);
    }
}

}  // namespace sshboot::util
