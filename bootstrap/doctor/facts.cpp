#include "doctor/facts.hpp"

#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>

#include "accounts/shadow.hpp"
#include "keys/parse.hpp"
#include "session_env/export.hpp"
#include "sshd/config.hpp"
#include "sshd/listen.hpp"
#include "sshd/server.hpp"
#include "tunnel/server.hpp"
#include "util/fs.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"

namespace sshboot::doctor {
namespace {

constexpr const char* k_default_config = "/etc/ssh/sshd_config";

std::string owner_name_of(uid_t uid, std::string_view passwd_text) {
    std::size_t start = 0;
    while (start < passwd_text.size()) {
        auto end = passwd_text.find('\n', start);
        if (end == std::string_view::npos) {
            end = passwd_text.size();
        }
        if (auto e = accounts::parse_passwd_line(passwd_text.substr(start, end - start));
            e && e->uid == uid) {
            return e->name;
        }
        start = end + 1;
    }
    return {};
}

std::string real_path(const std::string& path) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) != nullptr) {
        return buf;
    }
    return path;
}

std::string read_or_empty(const std::string& path) {
    auto text = util::read_file(path, 1 << 20);
    return text ? *text : std::string();
}

// Reads a /proc file of unknown size (read_file refuses non-regular files on
// some kernels; /proc files are regular with size 0).
std::string read_proc(const std::string& path) {
    return read_or_empty(path);
}

std::vector<pid_t> list_pids(const std::string& proc_dir) {
    std::vector<pid_t> out;
    DIR* dir = ::opendir(proc_dir.c_str());
    if (dir == nullptr) {
        return out;
    }
    while (const dirent* entry = ::readdir(dir)) {
        pid_t pid = 0;
        const char* name = entry->d_name;
        const auto len = std::strlen(name);
        auto r = std::from_chars(name, name + len, pid);
        if (r.ec == std::errc{} && r.ptr == name + len && pid > 0) {
            out.push_back(pid);
        }
    }
    ::closedir(dir);
    return out;
}

std::set<unsigned long> socket_inodes(const std::string& proc_dir, pid_t pid) {
    std::set<unsigned long> out;
    const std::string fd_dir = proc_dir + "/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(fd_dir.c_str());
    if (dir == nullptr) {
        return out;
    }
    char target[64];
    while (const dirent* entry = ::readdir(dir)) {
        const std::string link = fd_dir + "/" + entry->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 8 || std::strncmp(target, "socket:[", 8) != 0) {
            continue;
        }
        unsigned long inode = 0;
        std::from_chars(target + 8, target + n, inode);
        out.insert(inode);
    }
    ::closedir(dir);
    return out;
}

void gather_processes(const GatherOptions& o, Facts& f) {
    const auto sockets = sshd::listening_sockets();
    for (const auto& s : sockets) {
        f.port_listening = f.port_listening || s.port == f.port;
    }
    for (pid_t pid : list_pids(o.proc_dir)) {
        const std::string base = o.proc_dir + "/" + std::to_string(pid);
        std::string comm = read_proc(base + "/comm");
        while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' ')) {
            comm.pop_back();
        }
        if (comm.empty()) {
            continue;
        }
        ProcessInfo p;
        p.pid = pid;
        p.comm = comm;
        const auto inodes = socket_inodes(o.proc_dir, pid);
        for (const auto& s : sockets) {
            if (inodes.contains(s.inode) && std::find(p.listen_ports.begin(), p.listen_ports.end(),
                                                      s.port) == p.listen_ports.end()) {
                p.listen_ports.push_back(s.port);
            }
        }
        if (comm == "sshd") {
            p.config_path = config_from_cmdline(read_proc(base + "/cmdline"));
        }
        bool on_port = false;
        for (auto port : p.listen_ports) {
            on_port = on_port || port == f.port;
        }
        if (on_port) {
            f.port_owners.push_back(p);
        }
        if (comm == "sshd") {
            f.sshd_processes.push_back(std::move(p));
        }
    }
}

std::string choose_config(const Facts& f) {
    // The one a listening sshd was started with, else sshboot's, else the
    // distribution's.
    for (const auto& p : f.sshd_processes) {
        if (!p.listen_ports.empty() && !p.config_path.empty()) {
            return p.config_path;
        }
    }
    for (const auto& p : f.sshd_processes) {
        if (!p.config_path.empty()) {
            return p.config_path;
        }
    }
    if (util::path_exists(sshd::k_config_path)) {
        return sshd::k_config_path;
    }
    return k_default_config;
}

CommandOutput run_command(const std::vector<std::string>& argv) {
    CommandOutput out;
    auto r = util::run_capture(argv);
    if (!r) {
        out.output = r.error().message;
        return out;
    }
    out.ran = true;
    out.exit_code = r->term_signal != 0 ? -1 : r->exit_code;
    out.output = std::move(r->output);
    return out;
}

bool has_setenv_line(std::string_view text) {
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        auto line = text.substr(start, end - start);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            line.remove_prefix(1);
        }
        if (line.size() > 7 && (line.substr(0, 6) == "SetEnv" || line.substr(0, 6) == "setenv") &&
            (line[6] == ' ' || line[6] == '\t' || line[6] == '=')) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

std::vector<std::string> include_texts(std::string_view pattern) {
    std::string p(pattern);
    if (!p.empty() && p.front() != '/') {
        p = "/etc/ssh/" + p;
    }
    std::vector<std::string> out;
    glob_t g{};
    if (::glob(p.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
            auto text = util::read_file(g.gl_pathv[i], 1 << 20);
            if (text) {
                out.push_back(std::move(*text));
            }
        }
    }
    ::globfree(&g);
    return out;
}

void gather_sshd(const GatherOptions& o, Facts& f, const std::string& passwd_text) {
    if (auto path = sshd::find_sshd(o.path_env)) {
        f.sshd_path = *path;
        const auto v = run_command({f.sshd_path, "-V"});
        f.sshd_version = parse_sshd_version(v.output);
    }
    gather_processes(o, f);
    f.config_path = choose_config(f);
    f.config_exists = util::path_exists(f.config_path);
    if (!f.sshd_path.empty() && f.config_exists) {
        f.config_test = run_command({f.sshd_path, "-t", "-f", f.config_path});
        // The effective settings for this user; sshd -T needs loadable host keys.
        const auto t = run_command({f.sshd_path, "-T", "-f", f.config_path, "-C",
                                    "user=" + f.user_name + ",host=localhost,addr=127.0.0.1"});
        if (t.ran && t.exit_code == 0) {
            f.options = parse_sshd_options(t.output);
            f.options_source = "sshd -T";
        }
    }
    if (f.options_source.empty()) {
        f.options = parse_sshd_options(read_or_empty(f.config_path), include_texts);
        f.options_source = "the config file";
    }
    // HostKey lines from the file itself: sshd -T lists its defaults as if
    // they were configured.
    const auto from_file = parse_sshd_options(read_or_empty(f.config_path), include_texts);
    f.host_keys_configured = !from_file.host_keys.empty();
    const auto key_paths = f.host_keys_configured ? from_file.host_keys : default_host_key_paths();
    for (const auto& path : key_paths) {
        f.host_keys.push_back(inspect_file(path, passwd_text));
    }
    f.privsep_dir = inspect_file("/run/sshd", passwd_text);

    f.session_env.profile = inspect_file(
        util::path_join(session_env::k_profile_dir, session_env::k_profile_name), passwd_text);
    f.session_env.config_has_setenv = has_setenv_line(read_or_empty(f.config_path));
}

void gather_user(const GatherOptions& o, Facts& f, const std::string& passwd_text) {
    if (!f.user) {
        return;
    }
    const auto& user = *f.user;
    f.shell = inspect_file(user.shell, passwd_text);
    f.shell_executable =
        !user.shell.empty() && ::access(user.shell.c_str(), X_OK) == 0 && f.shell.is_regular;
    auto shadow = util::read_file(util::path_join(o.etc_dir, "shadow"), 16 << 20);
    if (!shadow) {
        f.shadow_error = shadow.error().message;
    } else {
        f.shadow_password = accounts::shadow_password_field(*shadow, user.name);
    }
    const std::string home = real_path(user.home);
    for (const auto& pattern : f.options.authorized_keys_files) {
        AuthorizedKeysFacts a;
        a.path = expand_authorized_keys_path(pattern, user.home, user.name);
        a.file = inspect_file(real_path(a.path), passwd_text);
        for (const auto& dir : strict_modes_dirs(a.path, home)) {
            a.dirs.push_back(inspect_file(dir, passwd_text));
        }
        if (a.file.exists) {
            auto text = util::read_file(a.file.path, 16 << 20);
            if (!text) {
                a.read_error = text.error().message;
            } else {
                const auto parsed = keys::parse_keys(*text);
                a.usable_keys = parsed.keys.size();
                a.refused = parsed.refusals.size();
            }
        }
        f.authorized_keys.push_back(std::move(a));
    }
}

std::map<std::string, std::string> pid1_environment(const std::string& proc_dir) {
    std::map<std::string, std::string> out;
    const auto text = read_proc(proc_dir + "/1/environ");
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\0', start);
        if (end == std::string::npos) {
            end = text.size();
        }
        const std::string_view entry(text.data() + start, end - start);
        const auto eq = entry.find('=');
        if (eq != std::string_view::npos) {
            const std::string name(entry.substr(0, eq));
            for (const auto& wanted : doctor_variables()) {
                if (wanted == name) {
                    out.emplace(name, std::string(entry.substr(eq + 1)));
                }
            }
        }
        start = end + 1;
    }
    return out;
}

// The tunnel probed as a client would use it, with the token when one is set.
void gather_tunnel(Facts& f, const std::string& port, std::string token,
                   const std::string& token_file) {
    const auto p = util::parse_port(port);
    if (!p) {
        return;
    }
    f.tunnel_port = *p;
    if (token.empty() && !token_file.empty()) {
        if (auto text = util::read_file(token_file, 64 << 10)) {
            token = text->substr(0, text->find_first_of("\r\n"));
        }
    }
    auto banner = tunnel::probe(*p, token);
    if (banner) {
        f.tunnel_banner = *banner;
    } else {
        f.tunnel_error = banner.error().message;
    }
}

}  // namespace

const std::vector<std::string>& doctor_variables() {
    static const std::vector<std::string> names = {"SSH_USER",
                                                   "SSH_PORT",
                                                   "SSH_PUBLIC_HOST",
                                                   "SSH_PUBLIC_PORT",
                                                   "RUNPOD_PUBLIC_IP",
                                                   "RUNPOD_TCP_PORT_22",
                                                   "PUBLIC_IPADDR",
                                                   "VAST_TCP_PORT_22",
                                                   "SSHBOOT_STATE_DIR",
                                                   "SSHBOOT_CLUSTER_SECRET",
                                                   "SSHBOOT_CLUSTER_SECRET_FILE",
                                                   "SSHBOOT_TUNNEL_PORT",
                                                   "SSHBOOT_TUNNEL_TOKEN",
                                                   "SSHBOOT_TUNNEL_TOKEN_FILE"};
    return names;
}

FileInfo inspect_file(const std::string& path, std::string_view passwd_text) {
    FileInfo info;
    info.path = path;
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) {
        info.error = path.empty() || errno == ENOENT || errno == ENOTDIR ? 0 : errno;
        return info;
    }
    info.exists = true;
    info.is_dir = S_ISDIR(st.st_mode);
    info.is_regular = S_ISREG(st.st_mode);
    info.uid = st.st_uid;
    info.gid = st.st_gid;
    info.mode = static_cast<unsigned>(st.st_mode & 07777);
    info.owner_name = owner_name_of(st.st_uid, passwd_text);
    return info;
}

std::vector<std::string> strict_modes_dirs(const std::string& file, const std::string& home) {
    std::vector<std::string> out;
    const std::string real_home = real_path(home);
    std::string dir = util::split_path(real_path(file)).first;
    if (dir.empty()) {
        dir = "/";
    }
    dir = real_path(dir);
    for (int guard = 0; guard < 64; ++guard) {
        out.push_back(dir);
        if (dir == real_home || dir == "/") {
            break;
        }
        dir = util::split_path(dir).first;
        if (dir.empty()) {
            dir = "/";
        }
    }
    return out;
}

std::string expand_authorized_keys_path(const std::string& pattern, const std::string& home,
                                        const std::string& user) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '%' && i + 1 < pattern.size()) {
            const char c = pattern[++i];
            if (c == 'h') {
                out += home;
            } else if (c == 'u') {
                out += user;
            } else if (c == '%') {
                out += '%';
            } else {
                out += '%';
                out += c;
            }
        } else {
            out += pattern[i];
        }
    }
    if (out.empty() || out.front() != '/') {
        out = util::path_join(home, out);
    }
    return out;
}

std::string parse_sshd_version(std::string_view output) {
    const auto pos = output.find("OpenSSH_");
    if (pos == std::string_view::npos) {
        return {};
    }
    auto end = output.find('\n', pos);
    if (end == std::string_view::npos) {
        end = output.size();
    }
    std::string v(output.substr(pos, end - pos));
    while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) {
        v.pop_back();
    }
    return v;
}

std::string config_from_cmdline(std::string_view cmdline) {
    std::vector<std::string_view> args;
    std::size_t start = 0;
    while (start < cmdline.size()) {
        auto end = cmdline.find('\0', start);
        if (end == std::string_view::npos) {
            end = cmdline.size();
        }
        args.push_back(cmdline.substr(start, end - start));
        start = end + 1;
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto a = args[i];
        if (a == "-f" && i + 1 < args.size()) {
            return std::string(args[i + 1]);
        }
        if (a.size() > 2 && a.starts_with("-f")) {
            return std::string(a.substr(2));
        }
    }
    return {};
}

Facts gather(const GatherOptions& o) {
    Facts f;
    auto env = o.env;
    for (auto& [name, value] : pid1_environment(o.proc_dir)) {
        env.try_emplace(name, value);  // ours win
    }
    auto get = [&](const char* name) {
        auto it = env.find(name);
        return it == env.end() ? std::string() : it->second;
    };
    if (!get("SSH_USER").empty()) {
        f.user_name = get("SSH_USER");
    }
    if (auto p = util::parse_port(get("SSH_PORT"))) {
        f.port = *p;
        f.port_from_variable = true;
    }
    f.endpoint = report::EndpointSources{get("SSH_PUBLIC_HOST"),
                                         get("SSH_PUBLIC_PORT"),
                                         get("RUNPOD_PUBLIC_IP"),
                                         get("RUNPOD_TCP_PORT_22"),
                                         get("PUBLIC_IPADDR"),
                                         get("VAST_TCP_PORT_22"),
                                         f.port,
                                         get(report::runpod_port_variable(f.port).c_str()),
                                         get(report::vast_port_variable(f.port).c_str())};

    const std::string passwd_path = util::path_join(o.etc_dir, "passwd");
    std::string passwd_text;
    if (auto text = util::read_file(passwd_path, 16 << 20)) {
        passwd_text = std::move(*text);
        f.user = accounts::find_user(passwd_text, f.user_name);
    } else {
        f.passwd_error = text.error().message;
    }
    gather_sshd(o, f, passwd_text);
    gather_user(o, f, passwd_text);

    // The same default and check as `sshboot run` (cli/settings, hostkeys/store).
    f.state_dir = get("SSHBOOT_STATE_DIR");
    if (f.state_dir.empty()) {
        f.state_dir = util::path_exists("/workspace") ? "/workspace/.sshboot" : "/var/lib/sshboot";
    }
    if (auto dir = util::open_trusted_dir(f.state_dir, std::nullopt, &f.state_dir_problem);
        !dir && !f.state_dir_problem) {
        f.state_dir_error = dir.error().message;
    }
    f.password_hash = accounts::choose_hash_method(accounts::detect_hash_support(f.sshd_path));
    gather_tunnel(f, get("SSHBOOT_TUNNEL_PORT"), get("SSHBOOT_TUNNEL_TOKEN"),
                  get("SSHBOOT_TUNNEL_TOKEN_FILE"));

    ClusterGatherOptions c;
    for (const auto& name : cluster_variables()) {
        if (auto v = get(name.c_str()); !v.empty()) {
            c.env.emplace(name, v);
        }
    }
    c.state_path = o.cluster_state;
    for (const auto& key : f.host_keys) {
        c.host_keys.push_back(key.path);
    }
    c.path_env = o.path_env;
    c.probe = o.probe_peers;
    f.cluster = gather_cluster(c);
    return f;
}

}  // namespace sshboot::doctor
