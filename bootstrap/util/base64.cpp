#include "util/base64.hpp"

#include <array>

namespace sshboot::util {
namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_reverse() {
    std::array<std::int8_t, 256> table{};
    for (auto& v : table) {
        v = -1;
    }
    for (std::size_t i = 0; i < k_alphabet.size(); ++i) {
        table[static_cast<unsigned char>(k_alphabet[i])] = static_cast<std::int8_t>(i);
    }
    return table;
}

constexpr auto k_reverse = make_reverse();

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out = base64_encode_unpadded(bytes);
    out.append((4 - out.size() % 4) % 4, '=');
    return out;
}

std::string base64_encode_unpadded(std::span<const std::uint8_t> bytes) {
    const std::size_t whole = bytes.size() / 3;
    const std::size_t rest = bytes.size() % 3;
    // Written by index into a string of the final size: a key start encodes
    // every key's blob, and push_back's capacity checks were most of the cost.
    std::string out(whole * 4 + (rest == 0 ? 0 : rest + 1), '\0');
    char* o = out.data();
    const std::uint8_t* in = bytes.data();
    for (std::size_t g = 0; g < whole; ++g, in += 3, o += 4) {
        const std::uint32_t n = (std::uint32_t{in[0]} << 16) | (std::uint32_t{in[1]} << 8) | in[2];
        o[0] = k_alphabet[(n >> 18) & 63];
        o[1] = k_alphabet[(n >> 12) & 63];
        o[2] = k_alphabet[(n >> 6) & 63];
        o[3] = k_alphabet[n & 63];
    }
    if (rest != 0) {
        const std::uint32_t n =
            (std::uint32_t{in[0]} << 16) | (rest == 2 ? std::uint32_t{in[1]} << 8 : 0U);
        o[0] = k_alphabet[(n >> 18) & 63];
        o[1] = k_alphabet[(n >> 12) & 63];
        if (rest == 2) {
            o[2] = k_alphabet[(n >> 6) & 63];
        }
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    std::size_t len = text.size();
    std::size_t pad = 0;
    while (len > 0 && text[len - 1] == '=' && pad < 2) {
        --len;
        ++pad;
    }
    if (pad > 0 && (len + pad) % 4 != 0) {
        return std::nullopt;
    }
    if (len % 4 == 1) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> out;
    out.reserve(len / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const std::int8_t v = k_reverse[static_cast<unsigned char>(text[i])];
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero (canonical encoding).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

}  // namespace sshboot::util
