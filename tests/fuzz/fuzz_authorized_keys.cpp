// libFuzzer target for keys::merge_managed_block. The input is an existing
// file, a NUL byte, then the managed lines separated by newlines. Merging must
// be idempotent and must keep every byte outside the block.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "keys/authorized_keys.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sshboot::keys;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto split = input.find('\0');
    const std::string_view existing = input.substr(0, split);
    std::vector<std::string> lines;
    if (split != std::string_view::npos) {
        std::string_view rest = input.substr(split + 1);
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            std::string line(rest.substr(0, nl));
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
            // Managed lines are key lines: never markers, never line breaks.
            if (line.empty() || line.find('\r') != std::string::npos ||
                line.find('\0') != std::string::npos || line == k_block_begin ||
                line == k_block_end) {
                continue;
            }
            lines.push_back(std::move(line));
        }
    }

    const std::string once = merge_managed_block(existing, lines);
    check(merge_managed_block(once, lines) == once);

    // Outside the block, the bytes are the user's: removing the block from
    // the result gives what removing it from the input gives (plus the
    // newline added before an appended block).
    const std::string user = merge_managed_block(existing, {});
    const std::string back = merge_managed_block(once, {});
    const bool had_block = user != existing;
    const bool added_newline = !had_block && !lines.empty() && !user.empty() && user.back() != '\n';
    check(back == (added_newline ? user + "\n" : user));
    check(merge_managed_block(back, {}) == back);

    // Every managed line is in the result as a whole line.
    for (const auto& line : lines) {
        check(once.find("\n" + line + "\n") != std::string::npos);
    }
    return 0;
}
