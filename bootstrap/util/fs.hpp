// File effects: atomic writes with mode and owner, reads, and opens that never
// follow a symlink a user could have planted.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"
#include "util/fd.hpp"

namespace sshboot::util {

struct FileOwner {
    uid_t uid;
    gid_t gid;
};

// What a write must survive besides a crash of sshboot itself (which the
// rename covers either way: readers see the old file or the new one).
enum class Durability {
    // Also a crash of the machine: fsync of the file before the rename and of
    // the directory after. For files whose loss loses data: host keys,
    // authorized_keys, /etc/shadow, a drop-in a command leaves behind.
    Durable,
    // Rename only, no fsync: for a file sshboot regenerates from scratch before
    // every use (its sshd config, the session environment files). After a
    // power loss it may be old or empty; the next start writes it again.
    // Not written at all when the file already holds exactly the content,
    // mode and owner (creating a file costs far more than reading one).
    Regenerated,
};

// Writes `content` to `dirfd`/`name` atomically: a temporary file in the same
// directory (O_EXCL, never through a symlink), fchmod/fchown to `mode` and
// `owner`, write, fsync (Durable only), rename over `name`, fsync of the
// directory (Durable only). On any failure the old file is untouched and the
// temporary is removed.
Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view content,
                            mode_t mode, std::optional<FileOwner> owner = std::nullopt,
                            Durability durability = Durability::Durable);

// Same, for an absolute or relative path (the directory is opened as given).
Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode,
                         std::optional<FileOwner> owner = std::nullopt,
                         Durability durability = Durability::Durable);

// Reads a whole regular file. `max_bytes` guards against reading a device.
// Opened O_NONBLOCK|O_NOCTTY and checked with fstat before reading: a FIFO or
// a device is an error, never a wait.
Expected<std::string> read_file(const std::string& path, std::size_t max_bytes = 16 << 20);

// Reads a whole regular file under `dirfd` without following a final symlink
// (O_NOFOLLOW|O_NONBLOCK|O_NOCTTY, then fstat).
Expected<std::string> read_file_at(int dirfd, const std::string& name,
                                   std::size_t max_bytes = 16 << 20);

// Opens `name` under `dirfd` for reading, as every read of a path someone
// else controls must: O_NOFOLLOW|O_NONBLOCK|O_NOCTTY, then fstat; anything
// but a regular file (a symlink, FIFO, directory, device) is an error naming
// what it is. `st` receives the fstat result.
Expected<UniqueFd> open_regular_at(int dirfd, const std::string& name, struct stat* st = nullptr);

// Reads the rest of an open regular file.
Expected<std::string> read_fd(int fd, const std::string& what, std::size_t max_bytes = 16 << 20);

// What kind of file a st_mode describes: "a symlink", "a FIFO", "a directory".
std::string file_kind(mode_t mode);

// Why a directory on the way to private files is not safe: owned by a uid
// other than root, writable by group or others, a symlink, or not a directory.
struct PathProblem {
    std::string path;     // the component at fault
    std::string message;  // "<path> is owned by uid 1000", "<path> is mode 0777 (...)"
    std::string fix;      // "chown root:root <path>", "chmod go-w <path>", ...
};

// Opens the absolute directory `path` one component at a time from /, never
// following a symlink (O_NOFOLLOW|O_DIRECTORY), and checks each component
// after opening it: owned by root and not writable by group or others (as
// OpenSSH's safe_path). Missing components are created with `create_mode`
// when set. A component that fails the check is an error whose message names
// it and its fix; `problem`, when given, receives the details. Errors of
// system calls (EROFS, ENOSPC, ...) leave `problem` empty.
// `trusted_base` (a directory `path` is under) is opened as given and its own
// components are not checked: "/" checks everything (tests pass a private
// temporary directory). `missing`, when given, is set when the error is that
// a component does not exist (and `create_mode` is unset).
Expected<UniqueFd> open_trusted_dir(const std::string& path,
                                    std::optional<mode_t> create_mode = std::nullopt,
                                    std::optional<PathProblem>* problem = nullptr,
                                    const std::string& trusted_base = "/", bool* missing = nullptr);

// Opens a directory by path (following symlinks: for system paths).
Expected<UniqueFd> open_dir(const std::string& path);

// Opens `name` under `dirfd` as a directory, refusing a symlink
// (O_NOFOLLOW|O_DIRECTORY). When missing and `create_mode` is set, creates it
// with that mode and `owner` first.
Expected<UniqueFd> open_subdir_nofollow(int dirfd, const std::string& name,
                                        std::optional<mode_t> create_mode = std::nullopt,
                                        std::optional<FileOwner> owner = std::nullopt);

// mkdir -p with `mode` for the directories it creates.
Status make_dirs(const std::string& path, mode_t mode);

bool path_exists(const std::string& path);

// Joins two path pieces with one slash.
std::string path_join(std::string_view a, std::string_view b);

// The directory part and the name part of a path ("/a/b" -> "/a", "b").
std::pair<std::string, std::string> split_path(const std::string& path);

}  // namespace sshboot::util
