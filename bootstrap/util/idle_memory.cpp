#include "util/idle_memory.hpp"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fcntl.h>

#include <charconv>
#include <optional>

#include "util/fs.hpp"

namespace sshboot::util {
namespace {

bool parse_hex(std::string_view text, std::uintptr_t& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
    return ec == std::errc() && end == text.data() + text.size();
}

std::string_view next_field(std::string_view& line) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const auto stop = line.find(' ');
    const auto field = line.substr(0, stop);
    line.remove_prefix(stop == std::string_view::npos ? line.size() : stop);
    return field;
}

// "lo-hi perms offset dev inode [path]": a mapping's first line.
struct Mapping {
    AddressRange range;
    bool candidate = false;  // read-only, file-backed
    bool anonymous = true;   // until an "Anonymous: 0 kB" line says otherwise
};

bool parse_header(std::string_view line, Mapping& out) {
    const auto span = next_field(line);
    const auto dash = span.find('-');
    if (dash == std::string_view::npos || !parse_hex(span.substr(0, dash), out.range.begin) ||
        !parse_hex(span.substr(dash + 1), out.range.end) || out.range.end <= out.range.begin) {
        return false;
    }
    const auto perms = next_field(line);
    next_field(line);  // offset
    next_field(line);  // device
    const auto inode = next_field(line);
    out.candidate = perms.size() == 4 && perms[1] != 'w' && !inode.empty() && inode != "0";
    out.anonymous = true;
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
            auto rest = line.substr(10);
            current->anonymous = next_field(rest) != "0";
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
    std::vector<AddressRange> out;
    const std::size_t pages = (range.end - range.begin) / page_size;
    std::optional<std::uintptr_t> run;
    for (std::size_t i = 0; i <= pages; ++i) {
        const std::uintptr_t addr = range.begin + i * page_size;
        bool own = false;
        if (i == pages) {
            own = true;  // closes the last run
        } else if (i >= entries.size()) {
            own = true;  // unknown: kept
        } else {
            const auto e = entries[i];
            own = (e & swapped) != 0 || ((e & present) != 0 && (e & file_or_shared) == 0);
        }
        if (own && run) {
            out.push_back({*run, addr});
            run.reset();
        } else if (!own && !run) {
            run = addr;
        }
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
