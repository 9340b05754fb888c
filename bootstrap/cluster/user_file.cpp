#include "cluster/user_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "util/fs.hpp"

namespace sshboot::cluster {

util::Expected<std::optional<std::string>> read_user_file(int dirfd, const std::string& name,
                                                          const std::string& shown,
                                                          std::size_t max_bytes) {
    const std::string fix =
        ". Fix: remove or rename it (mv " + shown + " " + shown + ".old), then restart";
    struct stat lst {};
    if (::fstatat(dirfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return std::optional<std::string>();
        }
        return util::sys_error("stat " + shown);
    }
    if (!S_ISREG(lst.st_mode)) {
        return util::make_error(shown + " is not a regular file (" + util::file_kind(lst.st_mode) +
                                "); sshboot does not follow, read or replace it" + fix);
    }
    struct stat st {};
    auto fd = util::open_regular_at(dirfd, name, &st);
    if (!fd) {
        return util::make_error(shown + ": " + fd.error().message + fix);
    }
    if (st.st_nlink > 1) {
        return util::make_error(shown + " has " + std::to_string(st.st_nlink) +
                                " hard links; sshboot replaces the file and would copy what "
                                "another name of it holds" +
                                fix);
    }
    auto text = util::read_fd(fd->get(), shown, max_bytes);
    if (!text) {
        return text.error();
    }
    return std::optional<std::string>(std::move(*text));
}

}  // namespace sshboot::cluster
