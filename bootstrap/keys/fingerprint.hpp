// Key fingerprints as `ssh-keygen -l` prints them.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace sshboot::keys {

// "SHA256:" + unpadded base64 of SHA-256 over the public key blob.
std::string fingerprint_sha256(std::span<const std::uint8_t> blob);

}  // namespace sshboot::keys
