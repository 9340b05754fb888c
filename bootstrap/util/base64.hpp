// Standard base64 (RFC 4648, with padding), as OpenSSH writes key blobs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::util {

std::string base64_encode(std::span<const std::uint8_t> bytes);
inline std::string base64_encode(std::string_view bytes) {
    return base64_encode(
        std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

// Strict decode: only the standard alphabet, padding optional at the end, no
// whitespace. nullopt on anything else.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// Unpadded standard base64, as `ssh-keygen -l` prints SHA256 fingerprints.
std::string base64_encode_unpadded(std::span<const std::uint8_t> bytes);

}  // namespace sshboot::util
