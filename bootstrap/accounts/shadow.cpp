#include "accounts/shadow.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "accounts/password.hpp"
#include "util/fs.hpp"

namespace sshboot::accounts {
namespace {

bool has_bad_chars(std::string_view s) {
    return s.find_first_of(std::string_view(":\n\r\0", 4)) != std::string_view::npos;
}

// Calls `f(line)` for every line of `text` (without its '\n'); `f` returns
// false to stop. Returns the offset where the stopping line starts, or npos.
template <class F>
std::size_t find_line(std::string_view text, F f) {
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        if (f(text.substr(start, end - start))) {
            return start;
        }
        start = end + 1;
    }
    return std::string_view::npos;
}

bool line_is_for(std::string_view line, std::string_view user) {
    return !user.empty() && line.size() > user.size() && line.substr(0, user.size()) == user &&
           line[user.size()] == ':';
}

}  // namespace

std::optional<std::string> shadow_password_field(std::string_view shadow_text,
                                                 std::string_view user) {
    std::optional<std::string> out;
    find_line(shadow_text, [&](std::string_view line) {
        if (!line_is_for(line, user)) {
            return false;
        }
        auto rest = line.substr(user.size() + 1);
        const auto colon = rest.find(':');
        auto field = rest.substr(0, colon);
        if (!field.empty() && field.back() == '\r') {
            field.remove_suffix(1);
        }
        out = std::string(field);
        return true;
    });
    return out;
}

util::Expected<std::string> set_shadow_password(std::string_view shadow_text, std::string_view user,
                                                std::string_view hash, long today_days) {
    if (user.empty() || has_bad_chars(user)) {
        return util::make_error("shadow: refusing a user name with ':' or a line break");
    }
    if (hash.empty() || has_bad_chars(hash)) {
        return util::make_error("shadow: refusing a hash with ':' or a line break");
    }
    const std::string today = std::to_string(today_days);
    const auto at =
        find_line(shadow_text, [&](std::string_view l) { return line_is_for(l, user); });
    if (at == std::string_view::npos) {
        std::string out(shadow_text);
        if (!out.empty() && out.back() != '\n') {
            out += '\n';
        }
        out += std::string(user) + ":" + std::string(hash) + ":" + today + ":0:99999:7:::\n";
        return out;
    }
    auto end = shadow_text.find('\n', at);
    if (end == std::string_view::npos) {
        end = shadow_text.size();
    }
    std::string_view line = shadow_text.substr(at, end - at);
    std::string_view cr;
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
        cr = "\r";
    }
    // Fields: name, password, lastchg, then the rest kept as it was.
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        const auto colon = line.find(':', start);
        if (colon == std::string_view::npos) {
            fields.push_back(line.substr(start));
            break;
        }
        fields.push_back(line.substr(start, colon - start));
        start = colon + 1;
    }
    std::string new_line = std::string(user) + ":" + std::string(hash) + ":" + today;
    if (fields.size() > 3) {
        for (std::size_t i = 3; i < fields.size(); ++i) {
            new_line += ":";
            new_line += fields[i];
        }
    } else {
        new_line += ":0:99999:7:::";
    }
    std::string out;
    out.reserve(shadow_text.size() + hash.size());
    out.append(shadow_text.substr(0, at));
    out += new_line;
    out.append(cr);
    out.append(shadow_text.substr(end));
    return out;
}

long days_since_epoch() {
    return static_cast<long>(::time(nullptr) / 86400);
}

util::Expected<AccountsLock> AccountsLock::acquire(const std::string& etc_dir,
                                                   std::chrono::milliseconds timeout) {
    const std::string path = util::path_join(etc_dir, ".pwd.lock");
    util::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) {
        return util::sys_error("open " + path);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (::fcntl(fd.get(), F_SETLK, &fl) == 0) {
            return AccountsLock(std::move(fd));
        }
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            return util::sys_error("lock " + path);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return util::make_error("lock " + path +
                                    ": another program (passwd, useradd?) holds it; try again");
        }
        timespec ts{0, 20'000'000};
        ::nanosleep(&ts, nullptr);
    }
}

util::Status rewrite_keeping_mode(const std::string& path, std::string_view content,
                                  unsigned new_mode) {
    struct stat st {};
    mode_t mode = static_cast<mode_t>(new_mode);
    util::FileOwner owner{0, 0};
    if (::stat(path.c_str(), &st) == 0) {
        mode = st.st_mode & 07777;
        owner = {st.st_uid, st.st_gid};
    } else if (errno != ENOENT) {
        return util::sys_error("stat " + path);
    }
    return util::write_file_atomic(path, content, mode, owner);
}

util::Expected<std::optional<std::string>> read_shadow_password(std::string_view user,
                                                                const std::string& etc_dir) {
    const std::string path = util::path_join(etc_dir, "shadow");
    if (!util::path_exists(path)) {
        return std::optional<std::string>();
    }
    auto text = util::read_file(path);
    if (!text) {
        return text.error();
    }
    auto field = shadow_password_field(*text, user);
    return field;
}

bool has_usable_password(std::string_view user, const std::string& etc_dir) {
    auto field = read_shadow_password(user, etc_dir);
    return field && field->has_value() && is_usable_hash(**field);
}

util::Status set_password_hash(std::string_view user, std::string_view hash,
                               const std::string& etc_dir) {
    auto lock = AccountsLock::acquire(etc_dir);
    if (!lock) {
        return lock.error();
    }
    const std::string path = util::path_join(etc_dir, "shadow");
    std::string text;
    if (util::path_exists(path)) {
        auto read = util::read_file(path);
        if (!read) {
            return read.error();
        }
        text = std::move(*read);
    }
    auto edited = set_shadow_password(text, user, hash, days_since_epoch());
    if (!edited) {
        return edited.error();
    }
    return rewrite_keeping_mode(path, *edited, 0640);
}

}  // namespace sshboot::accounts
