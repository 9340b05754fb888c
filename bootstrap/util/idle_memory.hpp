// What a long-running process that waits for work can give back while it
// waits.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sshboot::util {

struct AddressRange {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;  // one past the last byte
    bool operator==(const AddressRange&) const = default;
};

struct ReadOnlyMapping {
    AddressRange range;
    // Some page was written before the mapping became read-only (relocated
    // data): that page is the process's own copy, not the file's.
    bool has_written_pages = false;
    bool operator==(const ReadOnlyMapping&) const = default;
};

// The mappings in `smaps` (the text of /proc/self/smaps) that lie inside one
// of `segments` (the program's loaded segments, page-aligned) and are
// read-only and file-backed.
std::vector<ReadOnlyMapping> program_read_only_mappings(std::string_view smaps,
                                                        std::span<const AddressRange> segments);

// The runs of `range` whose pages are the file's own, from `entries`, one
// /proc/self/pagemap entry per page of `range`: every page but those present
// as anonymous memory or swapped out. Dropping those runs loses nothing.
std::vector<AddressRange> file_page_runs(AddressRange range, std::span<const std::uint64_t> entries,
                                         std::uintptr_t page_size);

// What a process gives back while it waits: the pages of this program's
// read-only mappings that are the file's own (its code, its constants, and
// its relocated read-only data but for the pages written at start), and the
// heap's free memory. Those pages stay in the page cache, shared with every
// other process that runs the binary; the next instruction or constant used
// maps its page again, a minor fault.
class IdleMemory {
  public:
    // Finds the ranges once (from /proc/self/smaps, and /proc/self/pagemap
    // for a mapping with written pages): a read-only mapping gains no written
    // page later, so they hold for the life of the process. None when /proc
    // cannot be read; release() then only trims the heap.
    static IdleMemory of_this_program();

    // Returns the heap's free memory to the kernel, then unmaps the ranges.
    void release() const;

    const std::vector<AddressRange>& ranges() const { return m_ranges; }

  private:
    std::vector<AddressRange> m_ranges;
};

}  // namespace sshboot::util
