// libFuzzer target for keys::split_key_options: it must never crash, what it
// splits must read back the same once written out again, and every label
// made for the log must stay on one line without control characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "keys/options.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// An options list as sshd reads it: a '"' inside a value becomes \".
std::string join(const std::vector<sshboot::keys::KeyOption>& options) {
    std::string out;
    for (const auto& o : options) {
        out += (out.empty() ? "" : ",") + o.name;
        if (o.value) {
            out += "=\"";
            for (char c : *o.value) {
                out += c == '"' ? std::string("\\\"") : std::string(1, c);
            }
            out += '"';
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sshboot::keys;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto options = split_key_options(text);
    for (const auto& o : options) {
        check(!o.name.empty());
        const std::string label = option_label(o);
        for (unsigned char c : label) {
            check(c >= 0x20 && c < 0x7f);
        }
        check(!option_effect(o).empty());
    }
    const auto again = split_key_options(join(options));
    check(again.size() == options.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
        check(again[i].name == options[i].name && again[i].value == options[i].value);
    }
    (void)forced_command(options);
    (void)options_summary(options);
    return 0;
}
