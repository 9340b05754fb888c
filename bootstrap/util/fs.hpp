// File effects: atomic writes with mode and owner, reads, and opens that never
// follow a symlink a user could have planted.
#pragma once

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

// Writes `content` to `dirfd`/`name` atomically: a temporary file in the same
// directory (O_EXCL, never through a symlink), fchmod/fchown to `mode` and
// `owner`, write, fsync, rename over `name`, fsync of the directory. On any
// failure the old file is untouched and the temporary is removed.
Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view content,
                            mode_t mode, std::optional<FileOwner> owner = std::nullopt);

// Same, for an absolute or relative path (the directory is opened as given).
Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode,
                         std::optional<FileOwner> owner = std::nullopt);

// Reads a whole regular file. `max_bytes` guards against reading a device.
Expected<std::string> read_file(const std::string& path, std::size_t max_bytes = 16 << 20);

// Reads a whole regular file under `dirfd` without following a final symlink.
Expected<std::string> read_file_at(int dirfd, const std::string& name,
                                   std::size_t max_bytes = 16 << 20);

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
