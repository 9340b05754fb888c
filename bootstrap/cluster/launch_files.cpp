#include "cluster/launch_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <tuple>

#include "cluster/user_file.hpp"
#include "keys/authorized_keys.hpp"
#include "session_env/filter.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/parse.hpp"

namespace sshboot::cluster {
namespace {

// Variables a launcher carries to the other nodes: exact names, then prefixes.
constexpr std::string_view k_carried_names[] = {"PATH",
                                                "LD_LIBRARY_PATH",
                                                "LIBRARY_PATH",
                                                "PYTHONPATH",
                                                "VIRTUAL_ENV",
                                                "CONDA_PREFIX",
                                                "CONDA_DEFAULT_ENV",
                                                "MASTER_ADDR",
                                                "MASTER_PORT",
                                                "HF_HOME",
                                                "TRANSFORMERS_CACHE",
                                                "HF_DATASETS_CACHE",
                                                "OMP_NUM_THREADS",
                                                "TOKENIZERS_PARALLELISM"};
constexpr std::string_view k_carried_prefixes[] = {"NCCL_",    "CUDA_",  "NVIDIA_", "TORCH_",
                                                   "PYTORCH_", "UCX_",   "FI_",     "GLOO_",
                                                   "TRITON_",  "HF_HUB_"};

bool carried(std::string_view name) {
    if (std::find(std::begin(k_carried_names), std::end(k_carried_names), name) !=
        std::end(k_carried_names)) {
        return true;
    }
    return std::any_of(std::begin(k_carried_prefixes), std::end(k_carried_prefixes),
                       [name](std::string_view p) { return name.substr(0, p.size()) == p; });
}

// A value for a directive that expands %-tokens (HostName, IdentityFile):
// a literal % (an IPv6 zone, fe80::1%eth0) is written %%.
std::string escape_tokens(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == '%') {
            out += '%';
        }
    }
    return out;
}

// An ssh_config argument: quoted when it holds a space.
std::string config_word(const std::string& value) {
    if (value.find_first_of(" \t") == std::string::npos) {
        return value;
    }
    return "\"" + value + "\"";
}

bool safe_config_value(const std::string& value) {
    return !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == 0x7f;
    });
}

// Hostfiles and the wait state: rendered from the topology on every start, so
// written without fsync (a power loss can only leave them old until the next
// start), and not at all when the content is already there.
util::Status write_system_file(const std::string& path, const std::string& content) {
    if (auto old = util::read_file(path, content.size() + 1); old && *old == content) {
        return util::ok();
    }
    const auto [dir, name] = util::split_path(path);
    if (auto st = util::make_dirs(dir, 0755); !st) {
        return st;
    }
    return util::write_file_atomic(path, content, 0644, std::nullopt,
                                   util::Durability::Regenerated);
}

// A hostfile (/job/...): its directory is opened as the state directory is,
// one component at a time from `trusted_base`, never through a symlink, each
// owned by root and writable only by it (created 0755 when missing); the file
// is then written under that descriptor.
util::Status write_job_file(const std::string& path, const std::string& content,
                            const std::string& trusted_base) {
    const auto [dir, name] = util::split_path(path);
    std::optional<util::PathProblem> problem;
    auto dirfd = util::open_trusted_dir(dir, 0755, &problem, trusted_base);
    if (!dirfd) {
        if (problem) {
            // The fix of open_trusted_dir names SSHBOOT_STATE_DIR for a
            // symlink; here the path is fixed.
            const std::string fix = problem->fix.find("SSHBOOT_STATE_DIR") == std::string::npos
                                        ? problem->fix
                                        : "replace " + problem->path +
                                              " with a directory (or remove it: sshboot creates "
                                              "it)";
            return util::make_error(problem->message +
                                    "; sshboot writes hostfiles only into a directory that only "
                                    "root can change, reached without symlinks (fix: " +
                                    fix + ")");
        }
        return dirfd.error();
    }
    if (auto old = util::read_file_at(dirfd->get(), name, content.size() + 1);
        old && *old == content) {
        return util::ok();
    }
    if (auto st = util::write_file_atomic_at(dirfd->get(), name, content, 0644, std::nullopt,
                                             util::Durability::Regenerated);
        !st) {
        return util::make_error(path + ": " + st.error().message);
    }
    return util::ok();
}

// Replaces `name` under the user's ~/.ssh-like directory `dirfd` with
// `content`, refusing a symlink; unchanged files are not rewritten.
util::Status write_user_file(int dirfd, const std::string& shown, const std::string& name,
                             const std::string& content, const accounts::PasswdEntry& user) {
    auto old = read_user_file(dirfd, name, shown);
    if (!old) {
        return util::Status(old.error());
    }
    struct stat st {};
    if (*old && **old == content && ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (st.st_mode & 07777) == 0600 && st.st_uid == user.uid) {
        return util::ok();
    }
    if (auto w = util::write_file_atomic_at(dirfd, name, content, 0600,
                                            util::FileOwner{user.uid, user.gid});
        !w) {
        return util::make_error(shown + ": " + w.error().message);
    }
    return util::ok();
}

// Merges this job's node aliases into the managed block of the user's
// ~/.ssh/config, opening ~/.ssh (made 0700 for the user when missing) under
// `home_fd` without following a symlink.
util::Status write_ssh_config(int home_fd, const Topology& t, const accounts::PasswdEntry& user,
                              const std::string& identity_file) {
    const std::string ssh_dir_path = user.home + "/.ssh";
    auto ssh_dir =
        util::open_subdir_nofollow(home_fd, ".ssh", 0700, util::FileOwner{user.uid, user.gid});
    if (!ssh_dir) {
        return util::make_error(user.home + "/" + ssh_dir.error().message);
    }
    std::string existing;
    auto text = read_user_file(ssh_dir->get(), "config", ssh_dir_path + "/config");
    if (!text) {
        return util::Status(text.error());
    }
    if (*text) {
        existing = std::move(**text);
    }
    const std::string config =
        merge_ssh_config(existing, render_ssh_config_block(t, user.name, identity_file));
    return write_user_file(ssh_dir->get(), ssh_dir_path + "/config", "config", config, user);
}

// ~/.ssh/config's managed block and ~/.deepspeed_env, never through a
// symlink under the home.
util::Status write_user_files(const Topology& t, const accounts::PasswdEntry& user,
                              const std::string& identity_file,
                              const std::vector<std::string>& session_env) {
    auto home = util::open_dir(user.home);
    if (!home) {
        return home.error();
    }
    if (auto w = write_ssh_config(home->get(), t, user, identity_file); !w) {
        return w;
    }
    return write_user_file(home->get(), user.home + "/.deepspeed_env", ".deepspeed_env",
                           render_deepspeed_env(session_env), user);
}

}  // namespace

std::vector<std::string> render_ssh_config_block(const Topology& t, const std::string& user,
                                                 const std::string& identity_file) {
    std::vector<std::string> lines;
    lines.push_back("# Nodes of this job (" + t.source + "); this node is " + t.self().alias() +
                    ".");
    for (const Node& n : t.nodes) {
        lines.push_back("Host " + n.alias());
        lines.push_back("    HostName " + escape_tokens(n.host));
        lines.push_back("    Port " + std::to_string(n.port));
        // The host key is checked under the alias (the cluster CA is trusted
        // for node-*, and every node's certificate names its alias), so the
        // alias works whatever address the node has now.
        lines.push_back("    HostKeyAlias " + n.alias());
        lines.push_back("    User " + config_word(user));
        lines.push_back("    IdentityFile " + config_word(escape_tokens(identity_file)));
        lines.push_back("    IdentitiesOnly yes");
        lines.push_back("    BatchMode yes");
        lines.push_back("    StrictHostKeyChecking yes");
        lines.push_back("    ConnectionAttempts 3");
        lines.push_back("    ConnectTimeout 10");
    }
    lines.push_back("Host *");
    return lines;
}

std::string merge_ssh_config(std::string_view existing,
                             const std::vector<std::string>& block_lines) {
    const std::string without =
        keys::merge_managed_block(existing, {}, k_config_begin, k_config_end);
    if (without != existing || block_lines.empty()) {
        // A block is there: replace it where it stands.
        return keys::merge_managed_block(existing, block_lines, k_config_begin, k_config_end);
    }
    std::string out = keys::merge_managed_block("", block_lines, k_config_begin, k_config_end);
    out.append(existing);
    return out;
}

std::string render_slots_hostfile(const Topology& t) {
    std::string out;
    for (const Node& n : t.nodes) {
        out += n.alias() + " slots=" + std::to_string(t.slots) + "\n";
    }
    return out;
}

std::string render_mpich_hostfile(const Topology& t) {
    std::string out;
    for (const Node& n : t.nodes) {
        out += n.alias() + ":" + std::to_string(t.slots) + "\n";
    }
    return out;
}

std::string render_deepspeed_env(const std::vector<std::string>& session_env) {
    std::vector<std::string> lines;
    for (const auto& entry : session_env) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        const std::string_view name = std::string_view(entry).substr(0, eq);
        if (!session_env::is_shell_name(name) || !carried(name) ||
            session_env::looks_secret(name) || session_env::is_sshboot_secret(name) ||
            entry.find_first_of("\n\r", eq) != std::string::npos) {
            continue;
        }
        lines.push_back(entry);
    }
    std::sort(lines.begin(), lines.end());
    lines.erase(std::unique(lines.begin(), lines.end(),
                            [](const std::string& a, const std::string& b) {
                                return a.substr(0, a.find('=')) == b.substr(0, b.find('='));
                            }),
                lines.end());
    std::string out;
    for (const auto& line : lines) {
        out += line + "\n";
    }
    return out;
}

std::vector<std::string> session_entries(const LaunchPaths& paths, const std::string& user_name) {
    std::vector<std::string> out = {
        "OMPI_MCA_orte_default_hostfile=" + paths.openmpi_hostfile,
        "HYDRA_HOST_FILE=" + paths.mpich_hostfile,
        "OMPI_MCA_plm_rsh_agent=ssh",
        "PDSH_RCMD_TYPE=ssh",
    };
    if (user_name == "root") {
        // Containers log in as root; without these mpirun refuses to start.
        out.push_back("OMPI_ALLOW_RUN_AS_ROOT=1");
        out.push_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
    }
    return out;
}

std::vector<std::string> launch_hint(const Topology& t, const LaunchPaths& paths) {
    const auto n = static_cast<std::size_t>(t.node_count());
    std::vector<std::string> out = {"Cluster: " + std::to_string(n) + " node(s) from " + t.source +
                                    ", this is " + t.self().alias() +
                                    "; peers are node-0 to node-" + std::to_string(n - 1) +
                                    " (ssh node-1 ...)."};
    if (t.rank != 0) {
        return out;
    }
    const std::string procs = std::to_string(n * static_cast<std::size_t>(t.slots));
    out.push_back("Launch from here once all nodes are up:");
    out.push_back("  sshboot cluster wait && deepspeed --hostfile " + paths.hostfile + " train.py");
    out.push_back("  sshboot cluster wait && mpirun --hostfile " + paths.openmpi_hostfile +
                  " -np " + procs + " python3 app.py");
    return out;
}

const Node* ClusterState::self() const {
    for (const Node& n : nodes) {
        if (n.rank == rank) {
            return &n;
        }
    }
    return nullptr;
}

std::string render_state(const ClusterState& s) {
    std::string out = "# sshboot cluster state, read by `sshboot cluster wait`\n";
    out += "rank " + std::to_string(s.rank) + "\n";
    out += "user " + s.user + "\n";
    out += "identity " + s.identity_file + "\n";
    out += "known_hosts " + s.known_hosts + "\n";
    out += "slots " + std::to_string(s.slots) + "\n";
    if (s.expect > 0) {
        out += "expect " + std::to_string(s.expect) + "\n";
    }
    for (const Node& n : s.nodes) {
        out +=
            "node " + std::to_string(n.rank) + " " + std::to_string(n.port) + " " + n.host + "\n";
    }
    return out;
}

util::Expected<ClusterState> parse_state(std::string_view text) {
    ClusterState s;
    bool have_rank = false;
    std::istringstream in{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') {
            continue;
        }
        const auto sp = line.find(' ');
        const std::string key = line.substr(0, sp);
        const std::string value = sp == std::string::npos ? std::string() : line.substr(sp + 1);
        auto bad = [&] {
            return util::make_error("line " + std::to_string(number) + ": " +
                                    util::quoted_for_log(line));
        };
        if (key == "rank") {
            auto r = util::parse_count(value, std::numeric_limits<int>::max());
            if (!r) {
                return bad();
            }
            s.rank = *r;
            have_rank = true;
        } else if (key == "user") {
            s.user = value;
        } else if (key == "identity") {
            s.identity_file = value;
        } else if (key == "known_hosts") {
            s.known_hosts = value;
        } else if (key == "slots" || key == "expect") {
            auto v = util::parse_count(value, std::numeric_limits<int>::max());
            if (!v || *v < 1) {
                return bad();
            }
            (key == "slots" ? s.slots : s.expect) = *v;
        } else if (key == "node") {
            std::istringstream fields(value);
            std::string rank, port, host;
            fields >> rank >> port >> host;
            auto r = util::parse_count(rank, std::numeric_limits<int>::max());
            auto p = util::parse_port(port);
            // Ranks in order; with RunPod's discovery some may be missing.
            if (!r || !p || host.empty() ||
                (s.expect == 0 && *r != static_cast<int>(s.nodes.size())) ||
                (!s.nodes.empty() && *r <= s.nodes.back().rank)) {
                return bad();
            }
            s.nodes.push_back(Node{*r, host, *p});
        }  // unknown keys: written by a newer version
    }
    if (!have_rank || s.user.empty() || s.nodes.empty() || s.self() == nullptr) {
        return util::make_error("incomplete (no rank, user or nodes)");
    }
    return s;
}

util::Expected<std::vector<std::string>> write_launch_files(
    const Topology& t, const accounts::PasswdEntry& user, const std::string& identity_file,
    const std::vector<std::string>& session_env) {
    return write_launch_files(t, user, identity_file, session_env, LaunchPaths{});
}

util::Expected<std::vector<std::string>> write_launch_files(
    const Topology& t, const accounts::PasswdEntry& user, const std::string& identity_file,
    const std::vector<std::string>& session_env, const LaunchPaths& paths) {
    if (!safe_config_value(user.name) || !safe_config_value(identity_file) || user.home.empty() ||
        user.home[0] != '/') {
        return util::make_error("cluster launch files: user " + util::quoted_for_log(user.name) +
                                " needs an absolute home and a plain identity file path");
    }
    // System files first: they do not depend on the user's home. One that
    // cannot be written (a read-only /job, say) costs only itself and its
    // session variable; the node still serves SSH.
    bool openmpi_written = true;
    bool mpich_written = true;
    for (const auto& [path, content, written] :
         {std::tuple{paths.hostfile, render_slots_hostfile(t), static_cast<bool*>(nullptr)},
          std::tuple{paths.openmpi_hostfile, render_slots_hostfile(t), &openmpi_written},
          std::tuple{paths.mpich_hostfile, render_mpich_hostfile(t), &mpich_written}}) {
        if (auto st = write_job_file(path, content, paths.trusted_base); !st) {
            log::warn(
                "cluster: cannot write the hostfile {}: {}; launchers need --hostfile with "
                "another file",
                path, st.error().message);
            if (written != nullptr) {
                *written = false;
            }
        }
    }
    const std::string ssh_dir_path = user.home + "/.ssh";
    ClusterState state{t.rank,  user.name, identity_file, ssh_dir_path + "/known_hosts",
                       t.nodes, t.slots,   t.expected};
    if (auto st = write_system_file(paths.state_file, render_state(state)); !st) {
        log::warn("cluster: cannot write {}: {}; `sshboot cluster wait` will not work here",
                  paths.state_file, st.error().message);
    }

    // The user's files are the user's to break: a piece refused only costs
    // that piece (said in a warning), never the node.
    if (auto st = write_user_files(t, user, identity_file, session_env); !st) {
        log::warn(
            "cluster: {}; launchers on this node cannot use the node-<rank> aliases until "
            "it is fixed and the container restarts",
            st.error().message);
    }
    std::vector<std::string> entries = session_entries(paths, user.name);
    if (t.source == "RunPod") {
        // A worker knows only the primary and itself: OpenMPI's daemons are
        // all started from here, not by each other.
        entries.push_back("OMPI_MCA_plm_rsh_no_tree_spawn=1");
    }
    std::erase_if(entries, [&](const std::string& e) {
        return (!openmpi_written && e.starts_with("OMPI_MCA_orte_default_hostfile=")) ||
               (!mpich_written && e.starts_with("HYDRA_HOST_FILE="));
    });
    return entries;
}

util::Status rewrite_node_files(const ClusterState& state, const LaunchPaths& paths) {
    Topology t;
    t.rank = state.rank;
    t.nodes = state.nodes;
    t.slots = state.slots;
    t.expected = state.expect;
    t.source = "RunPod";
    for (const auto& [path, content] :
         {std::pair{paths.hostfile, render_slots_hostfile(t)},
          std::pair{paths.openmpi_hostfile, render_slots_hostfile(t)},
          std::pair{paths.mpich_hostfile, render_mpich_hostfile(t)}}) {
        if (auto st = write_job_file(path, content, paths.trusted_base); !st) {
            return util::make_error(path + ": " + st.error().message);
        }
    }
    if (auto st = write_system_file(paths.state_file, render_state(state)); !st) {
        return util::make_error(paths.state_file + ": " + st.error().message);
    }
    auto user = accounts::lookup_user(state.user);
    if (!user || !*user) {
        return util::make_error("user " + util::quoted_for_log(state.user) + " not found");
    }
    const accounts::PasswdEntry& u = **user;
    auto home = util::open_dir(u.home);
    if (!home) {
        return home.error();
    }
    return write_ssh_config(home->get(), t, u, state.identity_file);
}

}  // namespace sshboot::cluster
