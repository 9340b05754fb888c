#include "accounts/users.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <set>
#include <vector>

#include "accounts/shadow.hpp"
#include "cli/settings.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace sshboot::accounts {
namespace {

// The id field (third of a line) of every line in colon-separated text.
std::set<unsigned> ids_in(std::string_view text) {
    std::set<unsigned> ids;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const auto line = text.substr(start, end - start);
        const auto c1 = line.find(':');
        const auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 != std::string_view::npos) {
            auto c3 = line.find(':', c2 + 1);
            if (c3 == std::string_view::npos) {
                c3 = line.size();
            }
            const auto field = line.substr(c2 + 1, c3 - c2 - 1);
            unsigned id = 0;
            auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), id);
            if (ec == std::errc{} && ptr == field.data() + field.size() && !field.empty()) {
                ids.insert(id);
            }
        }
        start = end + 1;
    }
    return ids;
}

util::Status copy_tree(const std::string& from, const std::string& to, uid_t uid, gid_t gid) {
    DIR* dir = ::opendir(from.c_str());
    if (dir == nullptr) {
        return util::sys_error("opendir " + from);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(dir);
    for (const auto& name : names) {
        const std::string src = util::path_join(from, name);
        const std::string dst = util::path_join(to, name);
        struct stat st {};
        if (::lstat(src.c_str(), &st) != 0) {
            return util::sys_error("lstat " + src);
        }
        if (S_ISDIR(st.st_mode)) {
            if (::mkdir(dst.c_str(), st.st_mode & 0777) != 0 && errno != EEXIST) {
                return util::sys_error("mkdir " + dst);
            }
            if (::lchown(dst.c_str(), uid, gid) != 0) {
                return util::sys_error("chown " + dst);
            }
            if (auto s = copy_tree(src, dst, uid, gid); !s) {
                return s;
            }
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(4096, '\0');
            const auto n = ::readlink(src.c_str(), target.data(), target.size());
            if (n < 0) {
                return util::sys_error("readlink " + src);
            }
            target.resize(static_cast<std::size_t>(n));
            if (::symlink(target.c_str(), dst.c_str()) != 0 && errno != EEXIST) {
                return util::sys_error("symlink " + dst);
            }
            if (::lchown(dst.c_str(), uid, gid) != 0) {
                return util::sys_error("chown " + dst);
            }
        } else if (S_ISREG(st.st_mode)) {
            auto content = util::read_file(src);
            if (!content) {
                return content.error();
            }
            if (auto w = util::write_file_atomic(dst, *content, st.st_mode & 0777,
                                                 util::FileOwner{uid, gid});
                !w) {
                return w;
            }
        }
    }
    return util::ok();
}

util::Expected<std::string> read_if_exists(const std::string& path) {
    if (!util::path_exists(path)) {
        return std::string();
    }
    return util::read_file(path);
}

}  // namespace

std::string format_passwd_line(const PasswdEntry& e) {
    return e.name + ":" + e.password + ":" + std::to_string(e.uid) + ":" + std::to_string(e.gid) +
           ":" + e.gecos + ":" + e.home + ":" + e.shell;
}

bool has_entry(std::string_view text, std::string_view name) {
    if (name.empty()) {
        return false;
    }
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const auto line = text.substr(start, end - start);
        if (line.size() > name.size() && line.substr(0, name.size()) == name &&
            line[name.size()] == ':') {
            return true;
        }
        start = end + 1;
    }
    return false;
}

std::optional<unsigned> next_free_id(std::string_view passwd_text, std::string_view group_text,
                                     unsigned min_id, unsigned max_id) {
    const auto uids = ids_in(passwd_text);
    const auto gids = ids_in(group_text);
    for (unsigned id = min_id; id <= max_id; ++id) {
        if (uids.count(id) == 0 && gids.count(id) == 0) {
            return id;
        }
    }
    return std::nullopt;
}

std::string append_line(std::string_view text, std::string_view line) {
    std::string out(text);
    if (!out.empty() && out.back() != '\n') {
        out += '\n';
    }
    out.append(line);
    out += '\n';
    return out;
}

util::Expected<NewUser> plan_new_user(std::string_view name, const AccountFiles& files,
                                      std::string_view home_base, std::string_view shell,
                                      long today_days) {
    const std::string n(name);
    if (!cli::is_valid_user_name(n)) {
        return util::make_error("'" + n +
                                "' is not a valid user name (lowercase letters, digits, '_' and "
                                "'-', starting with a letter or '_', at most 32 characters)");
    }
    if (has_entry(files.passwd, name)) {
        return util::make_error("user " + n + " already exists");
    }
    if (has_entry(files.group, name)) {
        return util::make_error("a group named " + n +
                                " already exists; create the user in the image instead");
    }
    auto id = next_free_id(files.passwd, files.group);
    if (!id) {
        return util::make_error("no free uid/gid between 1000 and 59999");
    }
    NewUser out;
    out.entry = PasswdEntry{n,
                            "x",
                            static_cast<uid_t>(*id),
                            static_cast<gid_t>(*id),
                            "",
                            util::path_join(home_base, name),
                            std::string(shell)};
    out.files.passwd = append_line(files.passwd, format_passwd_line(out.entry));
    out.files.group = append_line(files.group, n + ":x:" + std::to_string(*id) + ":");
    out.files.shadow =
        has_entry(files.shadow, name)
            ? files.shadow
            : append_line(files.shadow, n + ":*:" + std::to_string(today_days) + ":0:99999:7:::");
    if (files.gshadow) {
        out.files.gshadow = has_entry(*files.gshadow, name)
                                ? *files.gshadow
                                : append_line(*files.gshadow, n + ":!::");
    }
    return out;
}

util::Expected<EnsuredUser> ensure_user(const std::string& name, const UserPaths& paths) {
    const std::string passwd_path = util::path_join(paths.etc_dir, "passwd");
    if (auto found = lookup_user(name, passwd_path); !found) {
        return found.error();
    } else if (found->has_value()) {
        return EnsuredUser{**found, false};
    }
    auto lock = AccountsLock::acquire(paths.etc_dir);
    if (!lock) {
        return lock.error();
    }
    const std::string group_path = util::path_join(paths.etc_dir, "group");
    const std::string shadow_path = util::path_join(paths.etc_dir, "shadow");
    const std::string gshadow_path = util::path_join(paths.etc_dir, "gshadow");
    AccountFiles files;
    for (auto [path, out] :
         {std::pair{&passwd_path, &files.passwd}, std::pair{&group_path, &files.group},
          std::pair{&shadow_path, &files.shadow}}) {
        auto text = read_if_exists(*path);
        if (!text) {
            return text.error();
        }
        *out = std::move(*text);
    }
    if (util::path_exists(gshadow_path)) {
        auto text = util::read_file(gshadow_path);
        if (!text) {
            return text.error();
        }
        files.gshadow = std::move(*text);
    }
    const std::string shell =
        util::path_exists(paths.shells_root + "/bin/bash") ? "/bin/bash" : "/bin/sh";
    auto plan = plan_new_user(name, files, paths.home_base, shell, days_since_epoch());
    if (!plan) {
        return plan.error();
    }
    // Group before user, shadow before passwd: a crash in between leaves at
    // worst an unused group or shadow line, never a user without them.
    if (auto s = rewrite_keeping_mode(group_path, plan->files.group, 0644); !s) {
        return s.error();
    }
    if (plan->files.gshadow) {
        if (auto s = rewrite_keeping_mode(gshadow_path, *plan->files.gshadow, 0640); !s) {
            return s.error();
        }
    }
    if (auto s = rewrite_keeping_mode(shadow_path, plan->files.shadow, 0640); !s) {
        return s.error();
    }
    if (auto s = rewrite_keeping_mode(passwd_path, plan->files.passwd, 0644); !s) {
        return s.error();
    }
    const auto& e = plan->entry;
    if (auto s = util::make_dirs(paths.home_base, 0755); !s) {
        return s.error();
    }
    const bool home_existed = util::path_exists(e.home);
    if (!home_existed) {
        if (::mkdir(e.home.c_str(), 0750) != 0) {
            return util::sys_error("mkdir " + e.home);
        }
        if (::chown(e.home.c_str(), e.uid, e.gid) != 0) {
            return util::sys_error("chown " + e.home);
        }
        if (util::path_exists(paths.skel_dir)) {
            if (auto s = copy_tree(paths.skel_dir, e.home, e.uid, e.gid); !s) {
                return s.error();
            }
        }
    }
    log::info("created user {} (uid {}, home {}, shell {})", e.name, e.uid, e.home, e.shell);
    return EnsuredUser{e, true};
}

std::string sudoers_text(std::string_view user, bool nopasswd) {
    return "# Written by sshboot (SSH_SUDO=1).\n" + std::string(user) + " ALL=(ALL:ALL) " +
           (nopasswd ? "NOPASSWD: ALL\n" : "ALL\n");
}

util::Status grant_sudo(const std::string& user, bool nopasswd, const std::string& sudoers_dir) {
    if (!cli::is_valid_user_name(user)) {
        return util::make_error("sudo: '" + user + "' is not a valid user name");
    }
    const auto sudo = util::find_executable("sudo", "/usr/bin:/bin:/usr/local/bin:/usr/sbin");
    if (!sudo) {
        return util::make_error("SSH_SUDO=1 but sudo is not installed; install it in the image");
    }
    if (auto s = util::make_dirs(sudoers_dir, 0750); !s) {
        return s;
    }
    const std::string path = util::path_join(sudoers_dir, "90-sshboot-" + user);
    const std::string text = sudoers_text(user, nopasswd);
    if (auto visudo = util::find_executable("visudo", "/usr/sbin:/sbin:/usr/bin:/bin")) {
        const std::string check = util::path_join(sudoers_dir, ".sshboot-check");
        // A scratch copy for visudo, removed right after: no fsync.
        if (auto w = util::write_file_atomic(check, text, 0440, util::FileOwner{0, 0},
                                             util::Durability::Regenerated);
            !w) {
            return w;
        }
        auto r = util::run_capture({*visudo, "-cf", check});
        ::unlink(check.c_str());
        if (!r) {
            return r.error();
        }
        if (r->exit_code != 0) {
            return util::make_error("visudo -cf rejected the sudoers entry: " + r->output);
        }
    }
    // Written anew on every start with SSH_SUDO=1: no fsync (util::Durability).
    return util::write_file_atomic(path, text, 0440, util::FileOwner{0, 0},
                                   util::Durability::Regenerated);
}

}  // namespace sshboot::accounts
