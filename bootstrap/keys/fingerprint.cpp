#include "keys/fingerprint.hpp"

#include <sodium.h>

#include <array>

#include "util/base64.hpp"

namespace sshboot::keys {

std::string fingerprint_sha256(std::span<const std::uint8_t> blob) {
    std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), blob.data(), blob.size());
    return "SHA256:" + util::base64_encode_unpadded(digest);
}

}  // namespace sshboot::keys
