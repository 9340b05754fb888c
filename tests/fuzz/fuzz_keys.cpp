// libFuzzer target for keys::parse_keys: it must never crash, and every key it
// returns must read back, from its normalized line, as the same key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "keys/parse.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sshboot::keys;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ParseResult result = parse_keys(text, "FUZZ");
    for (const auto& key : result.keys) {
        check(!key.type.empty() && !key.base64.empty() && !key.blob.empty());
        check(key.bits > 0);
        const std::string line = key.line();
        check(line.find('\n') == std::string::npos);
        const ParseResult again = parse_keys(line);
        check(again.refusals.empty());
        check(again.keys.size() == 1);
        const PublicKey& k = again.keys[0];
        check(k.type == key.type && k.blob == key.blob && k.base64 == key.base64 &&
              k.options == key.options && k.comment == key.comment && k.bits == key.bits);
        check(k.repairs.empty());
        check(k.line() == line);
    }
    for (const auto& refusal : result.refusals) {
        check(!refusal.message.empty());
    }
    return 0;
}
