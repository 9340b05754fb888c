// Host keys kept in the state directory: reused across restarts, created when
// missing, described for the connect report. Keys baked into an image under
// /etc/ssh are never read or served.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::hostkeys {

struct HostKey {
    std::string type;          // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
    std::string private_path;  // absolute path for sshd's HostKey
    std::string public_line;   // "<type> <base64 blob>", no comment, no newline
    std::string fingerprint;   // "SHA256:..." as `ssh-keygen -l` prints it
    bool generated = false;    // created on this start
};

// Where host keys are copied for sshd when the state directory cannot hold
// files only their owner can read.
inline constexpr const char* k_runtime_key_dir = "/run/sshboot/hostkeys";

// Where host keys are kept when the state directory is not safe for private
// keys (a directory in the container, not on a shared volume).
inline constexpr const char* k_fallback_key_dir = "/var/lib/sshboot";

struct StoreOptions {
    std::string runtime_dir = k_runtime_key_dir;
    std::string fallback_dir = k_fallback_key_dir;
    // Trust is checked for every component below this directory (see
    // util::open_trusted_dir); "/" in production.
    std::string trusted_base = "/";
};

// Parses a host key type list such as SSH_HOST_KEY_TYPES: names separated by
// commas and/or whitespace, case-insensitive. Accepts "ed25519", "ecdsa",
// "rsa" and the algorithm names "ssh-ed25519", "ecdsa-sha2-nistp256",
// "ssh-rsa"; returns the short names in order, duplicates dropped. An unknown
// name (or an empty list) is an error naming it and the accepted names.
util::Expected<std::vector<std::string>> parse_host_key_types(std::string_view csv);

// The file name of a type's private key: "ssh_host_<type>_key".
std::string host_key_file_name(std::string_view type);

// Makes sure `state_dir` (created 0700 with parents when missing) holds a
// private (0600) and public (0644) key for each of `types` (short names from
// parse_host_key_types), and describes them in the same order.
// - The state directory and every directory above it must be owned by root
//   and not writable by group or others, with no symlink on the way
//   (util::open_trusted_dir). When it is not, a warning names the directory
//   at fault and its fix, and the keys are kept in options.fallback_dir
//   instead (then options.runtime_dir when that is not safe either).
// - Key files are opened relative to the directory, O_NOFOLLOW and
//   non-blocking; mode and owner are only ever changed on what was opened.
// - An existing valid key is reused; its missing or stale .pub is rewritten
//   (ed25519 from the private file, others with `ssh-keygen -y`).
// - A private key file readable by group or others is exposed: it is renamed
//   aside to "<name>.exposed-<UTC time>" (its .pub beside it, as
//   "<name>.exposed-<time>.pub"), a new key is generated, and a warning says
//   so. A symlink or anything but a regular file in a key's place, and a hard
//   link of the image's own /etc/ssh key, is set aside the same way as
//   "<name>.refused-<time>", never followed.
// - A private key file that is corrupt, encrypted or of the wrong type is an
//   error naming the file and saying to delete it; it is never overwritten.
// - ed25519 keys are made in process with libsodium; ecdsa (256 bits) and rsa
//   (3072 bits) with `ssh_keygen_path` (absolute path of ssh-keygen), which is
//   only needed then.
// - When the directory cannot hold a 0600 file (chmod fails or has no effect:
//   network and FUSE volumes), the keys still persist there, but sshd is
//   given copies in options.runtime_dir (0700, files 0600), with a warning
//   saying why; private_path then names the copy.
util::Expected<std::vector<HostKey>> ensure_host_keys(const std::string& state_dir,
                                                      const std::vector<std::string>& types,
                                                      const std::string& ssh_keygen_path,
                                                      const StoreOptions& options = {});

// New host keys not yet saved in the state directory (see prepare_host_keys).
// The private keys are wiped from memory when it is destroyed.
class UnsavedKeys {
  public:
    UnsavedKeys() = default;
    UnsavedKeys(UnsavedKeys&& other) noexcept;
    UnsavedKeys& operator=(UnsavedKeys&& other) noexcept;
    UnsavedKeys(const UnsavedKeys&) = delete;
    UnsavedKeys& operator=(const UnsavedKeys&) = delete;
    ~UnsavedKeys();

    bool empty() const { return m_keys.empty(); }
    // The state directory they are saved in.
    const std::string& dir() const { return m_dir; }

    // Saves them in the state directory, created 0700 when missing and
    // checked as ensure_host_keys checks it: each private key through a
    // temporary file, fsync and rename, then fsync of the directory; the .pub
    // beside it. On a volume that cannot hold 0600 files they are kept there
    // as ensure_host_keys keeps keys on one (with its warning). A key file
    // that appeared there meanwhile (another container on the same volume)
    // is kept, with a warning: the next start serves it. An error leaves the
    // keys served from their copies only: the next start makes new ones.
    util::Status save();

  private:
    friend struct UnsavedKeysBuilder;
    struct Key {
        std::string name;  // "ssh_host_ed25519_key"
        std::string pem;   // the private key file
        std::string pub;   // the .pub file
    };
    void wipe_keys();

    std::string m_dir;
    std::string m_runtime_dir = k_runtime_key_dir;
    std::string m_trusted_base = "/";
    std::vector<Key> m_keys;
};

struct PreparedHostKeys {
    std::vector<HostKey> keys;
    UnsavedKeys unsaved;
};

// ensure_host_keys for a start of sshd, with the durable write of a new key
// out of sshd's way. On a first start (the state directory is missing or
// holds no key file of `types`, and every type is ed25519) the new keys are
// written only to options.runtime_dir (0700, files 0600, no fsync: it is
// rewritten on a first start), private_path names those copies, and
// `unsaved` holds them: the caller starts sshd, then runs unsaved.save()
// while sshd loads, and publishes the fingerprints only after it. Otherwise
// as ensure_host_keys, with `unsaved` empty; copies a first start left in
// options.runtime_dir are then removed.
util::Expected<PreparedHostKeys> prepare_host_keys(const std::string& state_dir,
                                                   const std::vector<std::string>& types,
                                                   const std::string& ssh_keygen_path,
                                                   const StoreOptions& options = {});

}  // namespace sshboot::hostkeys
