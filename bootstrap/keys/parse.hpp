// Public keys as people paste them: parse, validate and repair the text of an
// authorized_keys line (or many), refusing what is not a usable public key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::keys {

struct PublicKey {
    std::string options;  // e.g. restrict,command="echo hi" ; empty when none
    std::string type;     // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...
    std::string base64;   // canonical base64 of blob
    std::vector<std::uint8_t> blob;
    std::string comment;  // may be empty
    // As `ssh-keygen -l` reports: ed25519 256, RSA modulus bits, ECDSA curve
    // bits, sk-ed25519 256, sk-ecdsa 256.
    unsigned bits = 0;
    std::vector<std::string> repairs;   // what was fixed in the pasted text, as phrases
    std::vector<std::string> warnings;  // e.g. RSA under 2048 bits

    // The normalized authorized_keys line: [options ]type base64[ comment]
    std::string line() const;
    // fingerprint_sha256(blob), as `ssh-keygen -l` prints it.
    std::string fingerprint() const;
};

enum class RefusalKind {
    Fingerprint,
    PrivateKey,
    Null,
    Dsa,
    RsaTooShort,
    TypeMismatch,
    PuttyPrivate,
    Unparseable,
    BadOptions
};

// `message` says what was pasted and what to paste instead. It never contains
// any text of a private key.
struct Refusal {
    RefusalKind kind;
    std::string message;
};

struct ParseResult {
    std::vector<PublicKey> keys;
    std::vector<Refusal> refusals;
};

// Parses any number of keys from `text`. `source` (e.g. "SSH_PUBLIC_KEY")
// names the origin in refusal messages. Empty text gives neither keys nor
// refusals. Duplicate keys (same blob) are kept once, with the first one's
// options and comment. A bad key costs only itself.
ParseResult parse_keys(std::string_view text, std::string_view source = "");

}  // namespace sshboot::keys
