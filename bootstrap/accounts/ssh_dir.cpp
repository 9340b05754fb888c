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
        return util::make_error(user.home + " is owned by uid " + std::to_string(st.st_uid) +
                                ", not by " + user.name + "; sshd refuses keys there. Fix: chown " +
                                user.name + " " + user.home);
    }
    if ((st.st_mode & 022) != 0) {
        const mode_t fixed = st.st_mode & 07755;
        if (::fchmod(home->get(), fixed) != 0) {
            return util::sys_error("chmod " + user.home);
        }
        result.warnings.push_back(
            user.home + " was mode " + mode_text(st.st_mode) +
            " (writable by others), which makes sshd refuse keys; set it to " + mode_text(fixed));
    }
    check_parents(user.home, user.uid, result.warnings);

    auto ssh_dir = util::open_subdir_nofollow(home->get(), ".ssh", 0700, owner);
    if (!ssh_dir) {
        return util::make_error(user.home + "/" + ssh_dir.error().message);
    }
    if (::fstat(ssh_dir->get(), &st) != 0) {
        return util::sys_error("fstat " + user.home + "/.ssh");
    }
    if (st.st_uid != user.uid || st.st_gid != user.gid) {
        if (::fchown(ssh_dir->get(), user.uid, user.gid) != 0) {
            return util::sys_error("chown " + user.home + "/.ssh");
        }
    }
    if ((st.st_mode & 07777) != 0700) {
        if (::fchmod(ssh_dir->get(), 0700) != 0) {
            return util::sys_error("chmod " + user.home + "/.ssh");
        }
    }

    std::string existing;
    struct stat ak {};
    if (::fstatat(ssh_dir->get(), "authorized_keys", &ak, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(ak.st_mode)) {
            return util::make_error(user.home +
                                    "/.ssh/authorized_keys is a symlink; refusing to follow it. "
                                    "Replace it with a regular file.");
        }
        auto text = util::read_file_at(ssh_dir->get(), "authorized_keys");
        if (!text) {
            return util::make_error(user.home + "/.ssh/" + text.error().message);
        }
        existing = std::move(*text);
    }
    const std::string merged = keys::merge_managed_block(existing, lines);
    if (merged == existing && (ak.st_mode & 07777) == 0600 && ak.st_uid == user.uid) {
        return result;
    }
    if (auto w = util::write_file_atomic_at(ssh_dir->get(), "authorized_keys", merged, 0600, owner);
        !w) {
        return util::make_error(user.home + "/.ssh/" + w.error().message);
    }
    return result;
}

}  // namespace sshboot::accounts
