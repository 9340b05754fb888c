#include "password/live_sshd.hpp"

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sshd/config.hpp"
#include "sshd/listen.hpp"
#include "util/fs.hpp"

namespace sshboot::password {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\0' ||
                                   line[i] == '=' || line[i] == '\r')) {
            ++i;
        }
        const auto start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\0' &&
               line[i] != '\r' && !(out.empty() && line[i] == '=')) {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
    return out;
}

template <class F>
void for_each_line(std::string_view text, F f) {
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        if (!f(text.substr(start, end - start))) {
            return;
        }
        start = end + 1;
    }
}

void pause_ms(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
    ::nanosleep(&ts, nullptr);
}

}  // namespace

std::string password_directives(bool root, bool per_source_penalties) {
    std::string out =
        "PasswordAuthentication yes\n"
        "PermitEmptyPasswords no\n";
    if (root) {
        out += "PermitRootLogin yes\n";
    }
    return out + sshd::password_limit_lines(per_source_penalties);
}

std::string password_dropin_text(bool root, bool per_source_penalties) {
    return "# Written by `sshboot password`: password login for accounts that have a\n"
           "# password, with limits against guessing. Delete this file and reload sshd\n"
           "# to turn it off.\n" +
           password_directives(root, per_source_penalties);
}

std::optional<std::string> included_dropin_dir(std::string_view config_text,
                                               std::string_view config_dir) {
    std::optional<std::string> out;
    for_each_line(config_text, [&](std::string_view line) {
        const auto w = words(line);
        if (w.empty() || w[0][0] == '#') {
            return true;
        }
        const auto key = lower(w[0]);
        if (key == "match") {
            return false;
        }
        if (key != "include") {
            return true;
        }
        for (std::size_t i = 1; i < w.size(); ++i) {
            std::string_view arg = w[i];
            constexpr std::string_view suffix = "/*.conf";
            if (arg.size() > suffix.size() && arg.substr(arg.size() - suffix.size()) == suffix) {
                std::string dir(arg.substr(0, arg.size() - suffix.size()));
                if (dir[0] != '/') {
                    dir = util::path_join(config_dir, dir);
                }
                out = dir;
                return false;
            }
        }
        return true;
    });
    return out;
}

std::string remove_password_block(std::string_view config_text) {
    std::string out;
    bool inside = false;
    for_each_line(config_text, [&](std::string_view line) {
        if (!inside && line == k_block_begin) {
            inside = true;
        } else if (inside && line == k_block_end) {
            inside = false;
        } else if (!inside) {
            out.append(line);
            out += '\n';
        }
        return true;
    });
    if (!config_text.empty() && config_text.back() != '\n' && !out.empty()) {
        out.pop_back();
    }
    return out;
}

std::string add_password_block(std::string_view config_text, bool root, bool per_source_penalties) {
    return std::string(k_block_begin) +
           "\n# Added by `sshboot password`; the original is in sshd_config.sshboot.bak.\n" +
           password_directives(root, per_source_penalties) + k_block_end + "\n" +
           remove_password_block(config_text);
}

std::string config_path_from_cmdline(std::string_view cmdline) {
    const auto w = words(cmdline);
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (w[i] == "-f" && i + 1 < w.size()) {
            return std::string(w[i + 1]);
        }
        if (w[i].size() > 2 && w[i].substr(0, 2) == "-f" && w[i][2] == '/') {
            return std::string(w[i].substr(2));
        }
    }
    return "/etc/ssh/sshd_config";
}

std::vector<std::string> sshd_t_values(std::string_view sshd_t_output, std::string_view keyword) {
    std::vector<std::string> out;
    for_each_line(sshd_t_output, [&](std::string_view line) {
        const auto sp = line.find(' ');
        if (sp != std::string_view::npos && line.substr(0, sp) == keyword) {
            out.emplace_back(line.substr(sp + 1));
        }
        return true;
    });
    return out;
}

std::set<unsigned long> listening_inodes(pid_t pid) {
    std::set<unsigned long> listening;
    for (const auto& s : sshd::listening_sockets()) {
        listening.insert(s.inode);
    }
    std::set<unsigned long> out;
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(fd_dir.c_str());
    if (dir == nullptr) {
        return out;
    }
    while (dirent* e = ::readdir(dir)) {
        char target[64] = {};
        const std::string link = fd_dir + "/" + e->d_name;
        const auto n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 8 || std::strncmp(target, "socket:[", 8) != 0) {
            continue;
        }
        unsigned long inode = 0;
        std::from_chars(target + 8, target + n, inode);
        if (listening.count(inode) != 0) {
            out.insert(inode);
        }
    }
    ::closedir(dir);
    return out;
}

std::vector<RunningSshd> find_running_sshd() {
    std::vector<RunningSshd> out;
    const auto sockets = sshd::listening_sockets();
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) {
        return out;
    }
    std::vector<pid_t> pids;
    while (dirent* e = ::readdir(proc)) {
        pid_t pid = 0;
        const auto len = std::strlen(e->d_name);
        auto [ptr, ec] = std::from_chars(e->d_name, e->d_name + len, pid);
        if (ec == std::errc{} && ptr == e->d_name + len && pid > 0) {
            pids.push_back(pid);
        }
    }
    ::closedir(proc);
    for (pid_t pid : pids) {
        const std::string base = "/proc/" + std::to_string(pid);
        char exe[4096] = {};
        const auto n = ::readlink((base + "/exe").c_str(), exe, sizeof exe - 1);
        if (n <= 0) {
            continue;
        }
        std::string_view exe_view(exe, static_cast<std::size_t>(n));
        if (exe_view.size() >= 10 && exe_view.substr(exe_view.size() - 10) == " (deleted)") {
            exe_view.remove_suffix(10);
        }
        const auto slash = exe_view.rfind('/');
        if (exe_view.substr(slash == std::string_view::npos ? 0 : slash + 1) != "sshd") {
            continue;
        }
        const auto inodes = listening_inodes(pid);
        if (inodes.empty()) {
            continue;
        }
        RunningSshd r;
        r.pid = pid;
        r.exe = std::string(exe_view);
        auto cmdline = util::read_file(base + "/cmdline");
        r.config_path = config_path_from_cmdline(cmdline ? *cmdline : std::string());
        for (const auto& s : sockets) {
            if (inodes.count(s.inode) != 0 &&
                std::find(r.ports.begin(), r.ports.end(), s.port) == r.ports.end()) {
                r.ports.push_back(s.port);
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

util::Status reload_sshd(pid_t pid, std::uint16_t port, std::chrono::milliseconds timeout) {
    const auto before = listening_inodes(pid);
    if (::kill(pid, SIGHUP) != 0) {
        return util::sys_error("kill -HUP sshd pid " + std::to_string(pid));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    long interval = 2;
    for (;;) {
        if (::kill(pid, 0) != 0) {
            return util::make_error("sshd (pid " + std::to_string(pid) +
                                    ") exited when asked to reload its configuration");
        }
        const auto now_inodes = listening_inodes(pid);
        bool fresh = false;
        for (const auto& s : sshd::listening_sockets()) {
            if (s.port == port && now_inodes.count(s.inode) != 0 && before.count(s.inode) == 0) {
                fresh = true;
            }
        }
        if (fresh) {
            return util::ok();
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return util::make_error("sshd (pid " + std::to_string(pid) +
                                    ") did not listen again on port " + std::to_string(port) +
                                    " after SIGHUP");
        }
        pause_ms(interval);
        interval = std::min(interval * 2, 50L);
    }
}

}  // namespace sshboot::password
