// libFuzzer target for report::is_valid_host: it must never crash, and a host
// it accepts is safe to paste into a shell command line: only letters,
// digits and . - _ : (no metacharacter, space, quote or control byte), never
// a leading '-' (ssh would read an option), never empty, at most 254 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "report/endpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view host(reinterpret_cast<const char*>(data), size);
    if (!sshboot::report::is_valid_host(host)) {
        return 0;
    }
    if (host.empty() || host.size() > 254 || host.front() == '-' ||
        host.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") !=
            std::string_view::npos) {
        std::abort();
    }
    return 0;
}
