// The cluster secret: the one value every node of a multi-node job shares.
// Everything else a node needs for cluster SSH (the client key, the host CA)
// is derived from it, and the CA's public key is printed in every
// known_hosts file, so a secret must be strong enough to resist offline
// guessing.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::cluster {

// The prefix of secrets made by `sshboot cluster secret`.
inline constexpr std::string_view k_secret_prefix = "sshboot-cluster-v1:";
// Estimated entropy a secret needs.
inline constexpr double k_min_secret_bits = 128.0;

// A new secret: k_secret_prefix + 32 bytes from libsodium's CSPRNG in
// unpadded base64url (fits a Kubernetes Secret, an env var and a shell word).
std::string generate_secret();

// The secret as given, without the surrounding whitespace a file or a pasted
// value carries (a trailing newline, CR, spaces).
std::string normalize_secret(std::string_view raw);

// A conservative estimate of the entropy of `text` in bits, from its length,
// the character classes it uses, how evenly its characters are spread, and
// what guessers try first: repeats of earlier text, runs and sequences
// ("aaaa", "1234", "abcd"), the letter pairs of English words and phrases.
double estimate_text_bits(std::string_view text);

// The same for a secret. With k_secret_prefix only what follows the prefix
// counts (at most 256 bits): a prefixed secret is not trusted for its form,
// "sshboot-cluster-v1:" followed by 43 'A's decodes to 32 bytes too.
double estimate_secret_bits(std::string_view secret);

// Whether the secret (with or without k_secret_prefix, any case) is one of
// the placeholders sshboot's templates and documentation show.
bool is_known_placeholder(std::string_view secret);

// Checks a normalized secret: not empty, no control characters, not a known
// placeholder, at least k_min_secret_bits of estimated entropy; a secret
// with k_secret_prefix must decode to 32 bytes. The error names `source` (the variable or flag) and
// says how to make a good one. The secret's text is never part of a message.
util::Status validate_secret(std::string_view secret, std::string_view source);

// Whether a secret file with this mode and owner may be used by a process
// running as `euid`; "" when it may, else what is wrong and how to fix it.
// Refused: anything but a regular file; a file readable or writable by group
// or others (whoever reads it has root on every node; whoever writes it can
// swap the cluster's CA and keys); a file owned by another user than root or
// `euid`. A Kubernetes Secret volume's files are 0644 unless the volume says
// `defaultMode: 0400`.
std::string secret_file_problem(mode_t mode, uid_t owner, uid_t euid);

// Reads, checks and normalizes the secret in `path` (symlinks followed, as a
// Kubernetes Secret volume's files are symlinks into its ..data directory:
// the mode and owner checked are those of the file opened and read). Errors
// name SSHBOOT_CLUSTER_SECRET_FILE and the path.
util::Expected<std::string> read_secret_file(const std::string& path);

}  // namespace sshboot::cluster
