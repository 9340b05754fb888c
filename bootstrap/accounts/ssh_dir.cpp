#include "accounts/ssh_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "keys/authorized_keys.hpp"
#include "util/fs.hpp"

namespace sshboot::accounts {
namespace {

std::string mode_text(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// sshd refuses keys when a directory on the way is writable by others or
// owned by someone other than root or the user. Directories above the home
// are the image's; they are reported, not changed.
void check_parents(const std::string& home, uid_t uid, std::vector<std::string>& warnings) {
    std::string dir = home;
    while (dir.size() > 1) {
        dir = util::split_path(dir).first;
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            continue;
        }
        if ((st.st_uid != 0 && st.st_uid != uid) || (st.st_mode & 022) != 0) {
            warnings.push_back(dir + " is mode " + mode_text(st.st_mode) + " owned by uid " +
                               std::to_string(st.st_uid) +
                               ": sshd's StrictModes refuses keys below it; run: chmod go-w " +
                               dir);
        }
    }
}

}  // namespace

util::Expected<InstallResult> install_authorized_keys(const PasswdEntry& user,
                                                      const std::vector<std::string>& lines) {
    InstallResult result;
    if (user.home.empty() || user.home[0] != '/') {
        return util::make_error("user " + user.name +
                                " has no absolute home directory in /etc/passwd");
    }
    const util::FileOwner owner{user.uid, user.gid};
    const std::string ssh_path = util::path_join(user.home, ".ssh");
    const std::string ak_path = util::path_join(ssh_path, "authorized_keys");
    auto refuse = [&](std::string what) {
        result.refused = std::move(what);
        return result;
    };
    if (auto st = util::make_dirs(user.home, 0700); !st) {
        return st.error();
    }
    auto home = util::open_dir(user.home);
    if (!home) {
        return home.error();
    }
    struct stat st {};
    if (::fstat(home->get(), &st) != 0) {
        return util::sys_error("fstat " + user.home);
    }
    if (st.st_uid != 0 && st.st_uid != user.uid) {
        return refuse(user.home + " is owned by uid " + std::to_string(st.st_uid) + ", not by " +
                      user.name + ", and sshd refuses keys there. Fix: chown " + user.name + " " +
                      user.home + ", then restart the container");
    }
    if ((st.st_mode & 022) != 0) {
        if (st.st_uid == user.uid) {
            const mode_t fixed = st.st_mode & 07755;
            if (::fchmod(home->get(), fixed) != 0) {
                return util::sys_error("chmod " + user.home);
            }
            result.warnings.push_back(user.home + " was mode " + mode_text(st.st_mode) +
                                      " (writable by others), which makes sshd refuse keys; set "
                                      "it to " +
                                      mode_text(fixed));
        } else {
            result.warnings.push_back(
                user.home + " is mode " + mode_text(st.st_mode) +
                " (writable by others) and owned by uid " + std::to_string(st.st_uid) +
                ", which makes sshd refuse keys; run: chmod go-w " + user.home);
        }
    }
    check_parents(user.home, user.uid, result.warnings);

    struct stat lst {};
    if (::fstatat(home->get(), ".ssh", &lst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(lst.st_mode)) {
        return refuse(ssh_path + " is " + util::file_kind(lst.st_mode) +
                      ", not a directory; sshboot does not follow or replace it. Fix: remove "
                      "or rename it (mv " +
                      ssh_path + " " + ssh_path + ".old), then restart the container");
    }
    auto ssh_dir = util::open_subdir_nofollow(home->get(), ".ssh", 0700, owner);
    if (!ssh_dir) {
        // Not a directory by now (a race with the check above), or unreadable.
        return refuse(user.home + "/" + ssh_dir.error().message +
                      ". Fix: make it a directory owned by " + user.name +
                      " (mode 0700), then restart the container");
    }
    if (::fstat(ssh_dir->get(), &st) != 0) {
        return util::sys_error("fstat " + ssh_path);
    }
    if (st.st_uid != user.uid || st.st_gid != user.gid) {
        if (::fchown(ssh_dir->get(), user.uid, user.gid) != 0) {
            return util::sys_error("chown " + ssh_path);
        }
    }
    if ((st.st_mode & 07777) != 0700) {
        if (::fchmod(ssh_dir->get(), 0700) != 0) {
            return util::sys_error("chmod " + ssh_path);
        }
    }

    std::string existing;
    struct stat ak {};
    if (::fstatat(ssh_dir->get(), "authorized_keys", &ak, AT_SYMLINK_NOFOLLOW) == 0) {
        const std::string fix = ". Fix: remove or rename it (mv " + ak_path + " " + ak_path +
                                ".old), then restart the container";
        if (!S_ISREG(ak.st_mode)) {
            return refuse(ak_path + " is " + util::file_kind(ak.st_mode) +
                          ", not a regular file; sshboot does not follow, read or replace it" +
                          fix);
        }
        struct stat opened {};
        auto fd = util::open_regular_at(ssh_dir->get(), "authorized_keys", &opened);
        if (!fd) {
            return refuse(ssh_path + "/" + fd.error().message + fix);
        }
        if (opened.st_nlink > 1) {
            return refuse(ak_path + " has " + std::to_string(opened.st_nlink) +
                          " hard links; sshboot replaces the file and would copy what another "
                          "name of it holds" +
                          fix);
        }
        auto text = util::read_fd(fd->get(), ak_path);
        if (!text) {
            return text.error();
        }
        existing = std::move(*text);
        ak = opened;
    }
    const std::string merged = keys::merge_managed_block(existing, lines);
    if (merged == existing && (ak.st_mode & 07777) == 0600 && ak.st_uid == user.uid) {
        return result;
    }
    if (auto w = util::write_file_atomic_at(ssh_dir->get(), "authorized_keys", merged, 0600, owner);
        !w) {
        return util::make_error(ssh_path + "/" + w.error().message);
    }
    return result;
}

}  // namespace sshboot::accounts
