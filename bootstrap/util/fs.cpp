#include "util/fs.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace sshboot::util {
namespace {

std::string temp_name(const std::string& name) {
    std::uint32_t r = randombytes_random();
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", r);
    return "." + name + ".sshboot-" + buf;
}

Status write_all(int fd, std::string_view content, const std::string& what) {
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sys_error("write " + what);
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

// Whether dirfd/name is already exactly what a write would leave: a regular
// file of one link, never through a symlink, with `content`, `mode` and the
// owner (given, else this process's).
bool holds_exactly(int dirfd, const std::string& name, std::string_view content, mode_t mode,
                   const std::optional<FileOwner>& owner) {
    UniqueFd fd(
        ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        (st.st_mode & 07777) != mode || st.st_uid != (owner ? owner->uid : ::geteuid()) ||
        st.st_gid != (owner ? owner->gid : ::getegid()) ||
        static_cast<std::size_t>(st.st_size) != content.size()) {
        return false;
    }
    // One byte more than expected: a file longer than its size said differs.
    std::string text(content.size() + 1, '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    return got == content.size() && std::string_view(text.data(), got) == content;
}

}  // namespace

Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view content,
                            mode_t mode, std::optional<FileOwner> owner, Durability durability) {
    const bool durable = durability == Durability::Durable;
    if (!durable && holds_exactly(dirfd, name, content, mode, owner)) {
        return ok();
    }
    const std::string tmp = temp_name(name);
    UniqueFd fd(
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        return sys_error("create " + name + " (temporary " + tmp + ")");
    }
    auto fail = [&](Error e) -> Status {
        ::unlinkat(dirfd, tmp.c_str(), 0);
        return e;
    };
    if (owner && ::fchown(fd.get(), owner->uid, owner->gid) != 0) {
        return fail(sys_error("fchown " + name));
    }
    if (::fchmod(fd.get(), mode) != 0) {
        return fail(sys_error("fchmod " + name));
    }
    if (auto st = write_all(fd.get(), content, name); !st) {
        return fail(st.error());
    }
    if (durable && ::fsync(fd.get()) != 0) {
        return fail(sys_error("fsync " + name));
    }
    if (::close(fd.release()) != 0) {
        return fail(sys_error("close " + name));
    }
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
        return fail(sys_error("rename " + tmp + " to " + name));
    }
    if (durable) {
        ::fsync(dirfd);
    }
    return ok();
}

Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode,
                         std::optional<FileOwner> owner, Durability durability) {
    const auto [dir, name] = split_path(path);
    auto dirfd = open_dir(dir);
    if (!dirfd) {
        return dirfd.error();
    }
    auto st = write_file_atomic_at(dirfd->get(), name, content, mode, owner, durability);
    if (!st) {
        return make_error(dir + "/" + st.error().message);
    }
    return st;
}

std::string file_kind(mode_t mode) {
    switch (mode & S_IFMT) {
        case S_IFREG:
            return "a regular file";
        case S_IFDIR:
            return "a directory";
        case S_IFLNK:
            return "a symlink";
        case S_IFIFO:
            return "a FIFO";
        case S_IFSOCK:
            return "a socket";
        case S_IFCHR:
            return "a character device";
        case S_IFBLK:
            return "a block device";
        default:
            return "not a regular file";
    }
}

Expected<std::string> read_fd(int fd, const std::string& what, std::size_t max_bytes) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return sys_error("fstat " + what);
    }
    if (!S_ISREG(st.st_mode)) {
        return make_error(what + " is " + file_kind(st.st_mode) + ", not a regular file");
    }
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sys_error("read " + what);
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            return make_error(what + ": larger than " + std::to_string(max_bytes) + " bytes");
        }
    }
    return out;
}

Expected<std::string> read_file(const std::string& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        return sys_error("open " + path);
    }
    return read_fd(fd.get(), path, max_bytes);
}

Expected<UniqueFd> open_regular_at(int dirfd, const std::string& name, struct stat* st_out) {
    UniqueFd fd(
        ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ELOOP) {
            return make_error(name + " is a symlink; refusing to follow it");
        }
        return sys_error("open " + name);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return sys_error("fstat " + name);
    }
    if (!S_ISREG(st.st_mode)) {
        return make_error(name + " is " + file_kind(st.st_mode) + ", not a regular file");
    }
    if (st_out != nullptr) {
        *st_out = st;
    }
    return fd;
}

Expected<std::string> read_file_at(int dirfd, const std::string& name, std::size_t max_bytes) {
    auto fd = open_regular_at(dirfd, name);
    if (!fd) {
        return fd.error();
    }
    return read_fd(fd->get(), name, max_bytes);
}

namespace {

std::string mode_octal(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// The problem with an opened directory component, if any.
std::optional<PathProblem> component_problem(const std::string& path, const struct stat& st) {
    if (st.st_uid != 0) {
        return PathProblem{path, path + " is owned by uid " + std::to_string(st.st_uid),
                           "chown root:root " + path};
    }
    if ((st.st_mode & 022) != 0) {
        return PathProblem{path,
                           path + " is mode " + mode_octal(st.st_mode) + " (writable by " +
                               ((st.st_mode & 002) ? "every user" : "its group") + ")",
                           "chmod go-w " + path};
    }
    return std::nullopt;
}

}  // namespace

Expected<UniqueFd> open_trusted_dir(const std::string& path, std::optional<mode_t> create_mode,
                                    std::optional<PathProblem>* problem,
                                    const std::string& trusted_base, bool* missing) {
    if (missing != nullptr) {
        *missing = false;
    }
    if (path.empty() || path.front() != '/') {
        return make_error("not an absolute path: " + path);
    }
    std::string base = trusted_base;
    while (base.size() > 1 && base.back() == '/') {
        base.pop_back();
    }
    const bool check_root = base == "/";
    if (!check_root && !(path == base || path.starts_with(base + "/"))) {
        return make_error(path + " is not under " + base);
    }
    auto refuse = [&](PathProblem p) -> Error {
        Error e = make_error(p.message);
        if (problem != nullptr) {
            *problem = std::move(p);
        }
        return e;
    };
    constexpr int k_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    UniqueFd fd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        return sys_error("open directory " + base);
    }
    std::string so_far = check_root ? "" : base;
    struct stat st {};
    if (check_root) {
        if (::fstat(fd.get(), &st) != 0) {
            return sys_error("fstat /");
        }
        if (auto p = component_problem("/", st)) {
            return refuse(std::move(*p));
        }
    }
    std::size_t pos = check_root ? 0 : base.size();
    while (pos < path.size()) {
        while (pos < path.size() && path[pos] == '/') {
            ++pos;
        }
        if (pos >= path.size()) {
            break;
        }
        const auto end = path.find('/', pos);
        const std::string name =
            path.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? path.size() : end;
        if (name == ".") {
            continue;
        }
        if (name == "..") {
            return make_error(path + ": \"..\" is not allowed in this path");
        }
        so_far += "/" + name;
        UniqueFd next(::openat(fd.get(), name.c_str(), k_flags));
        if (!next.valid() && errno == ENOENT && create_mode) {
            if (::mkdirat(fd.get(), name.c_str(), *create_mode) != 0 && errno != EEXIST) {
                return sys_error("mkdir " + so_far);
            }
            next.reset(::openat(fd.get(), name.c_str(), k_flags));
        }
        if (!next.valid()) {
            const int err = errno;
            if (err == ENOENT && missing != nullptr) {
                *missing = true;
            }
            struct stat lst {};
            if ((err == ELOOP || err == ENOTDIR) &&
                ::fstatat(fd.get(), name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISLNK(lst.st_mode)) {
                    return refuse({so_far, so_far + " is a symlink, which is never followed here",
                                   "set SSHBOOT_STATE_DIR to a path without symlinks"});
                }
                return refuse({so_far,
                               so_far + " is " + file_kind(lst.st_mode) + ", not a directory",
                               "remove " + so_far + " or set SSHBOOT_STATE_DIR elsewhere"});
            }
            errno = err;
            return sys_error("open directory " + so_far);
        }
        if (::fstat(next.get(), &st) != 0) {
            return sys_error("fstat " + so_far);
        }
        if (auto p = component_problem(so_far, st)) {
            return refuse(std::move(*p));
        }
        fd = std::move(next);
    }
    return fd;
}

Expected<UniqueFd> open_dir(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        return sys_error("open directory " + path);
    }
    return fd;
}

Expected<UniqueFd> open_subdir_nofollow(int dirfd, const std::string& name,
                                        std::optional<mode_t> create_mode,
                                        std::optional<FileOwner> owner) {
    constexpr int k_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    UniqueFd fd(::openat(dirfd, name.c_str(), k_flags));
    if (!fd.valid() && errno == ENOENT && create_mode) {
        if (::mkdirat(dirfd, name.c_str(), *create_mode) != 0 && errno != EEXIST) {
            return sys_error("mkdir " + name);
        }
        fd.reset(::openat(dirfd, name.c_str(), k_flags));
        if (fd.valid()) {
            if (owner && ::fchown(fd.get(), owner->uid, owner->gid) != 0) {
                return sys_error("fchown " + name);
            }
            if (::fchmod(fd.get(), *create_mode) != 0) {
                return sys_error("fchmod " + name);
            }
        }
    }
    if (!fd.valid()) {
        if (errno == ELOOP || errno == ENOTDIR) {
            return make_error(name + " is a symlink or not a directory; refusing to follow it");
        }
        return sys_error("open directory " + name);
    }
    return fd;
}

Status make_dirs(const std::string& path, mode_t mode) {
    if (path.empty()) {
        return ok();
    }
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        const std::string part = path.substr(0, pos);
        if (part.empty()) {
            continue;
        }
        if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
            return sys_error("mkdir " + part);
        }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return sys_error("stat " + path);
    }
    if (!S_ISDIR(st.st_mode)) {
        return make_error(path + " exists and is not a directory");
    }
    return ok();
}

bool path_exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string path_join(std::string_view a, std::string_view b) {
    std::string out(a);
    while (!out.empty() && out.back() == '/') {
        out.pop_back();
    }
    while (!b.empty() && b.front() == '/') {
        b.remove_prefix(1);
    }
    out += '/';
    out += b;
    return out;
}

std::pair<std::string, std::string> split_path(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return {".", path};
    }
    if (slash == 0) {
        return {"/", path.substr(1)};
    }
    return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace sshboot::util
