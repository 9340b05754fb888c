// Ed25519 host keys made with libsodium and written in OpenSSH's own
// `openssh-key-v1` private key format (unencrypted), byte for byte as
// `ssh-keygen` writes it, plus a reader for that container.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::hostkeys {

inline constexpr std::string_view k_ed25519_type = "ssh-ed25519";

struct Ed25519Key {
    std::array<std::uint8_t, 32> public_key{};
    // libsodium's secret key: the 32-byte seed followed by the public key.
    std::array<std::uint8_t, 64> secret_key{};
};

// Calls sodium_init() (idempotent). Aborts when libsodium cannot start, as
// libsodium itself does when it has no source of randomness.
void ensure_sodium();

// A fresh key pair from libsodium's CSPRNG.
Ed25519Key generate_ed25519();

// Overwrites the key's bytes with zeros.
void wipe(Ed25519Key& key);

// The SSH wire blob: string "ssh-ed25519", string public_key.
std::vector<std::uint8_t> ed25519_public_blob(const Ed25519Key& key);

// "ssh-ed25519 AAAA... comment\n" (no trailing space when `comment` is empty).
std::string ed25519_public_line(const Ed25519Key& key, std::string_view comment);

// The whole private key file: "-----BEGIN OPENSSH PRIVATE KEY-----\n", the
// openssh-key-v1 container in base64 at 70 columns, "-----END OPENSSH PRIVATE KEY-----\n".
std::string ed25519_private_pem(const Ed25519Key& key, std::string_view comment);

// What the container of any openssh-key-v1 private key says about its key.
struct OpenSshPrivateInfo {
    std::string key_type;                   // from the public blob, e.g. "ssh-rsa"
    std::vector<std::uint8_t> public_blob;  // the SSH wire public key
};

// Reads an unencrypted openssh-key-v1 private key file of any key type and
// checks the container: magic, cipher/kdf "none", one key, equal check ints,
// the private section's key type equal to the public blob's, padding 1,2,3...
// Errors are short descriptions without the file name ("is encrypted with a
// passphrase", "is not an OpenSSH private key", ...). Never echoes key text.
util::Expected<OpenSshPrivateInfo> parse_openssh_private(std::string_view text);

// Reads an unencrypted ed25519 key in openssh-key-v1 format and checks that
// the seed, the private section's public key and the header's public key agree.
util::Expected<Ed25519Key> parse_ed25519_private_pem(std::string_view text);

}  // namespace sshboot::hostkeys
