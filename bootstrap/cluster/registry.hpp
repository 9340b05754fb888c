// Peer discovery where the platform gives no node list (RunPod Instant
// Clusters: NODE_RANK, NUM_NODES, NODE_ADDR, PRIMARY_ADDR only). Each worker
// logs in to the primary (rank 0) and runs `sshboot cluster register --rank R
// --addr A[:P]`; the primary keeps one file per registered node under
// k_registry_dir, and the node list is the primary plus the files there.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/launch_files.hpp"
#include "cluster/topology.hpp"
#include "util/expected.hpp"
#include "util/fd.hpp"

namespace sshboot::cluster {

inline constexpr std::string_view k_registry_dir = "/run/sshboot/cluster.d";
// The lock registrations take, in k_registry_dir: a root-only file (0600),
// so no other local user can open it, let alone hold it.
inline constexpr std::string_view k_registry_lock = ".lock";

struct RegisterOptions {
    std::string rank;       // --rank R
    std::string addr;       // --addr host[:port]
    std::string num_nodes;  // --nodes N, else NUM_NODES
    std::string dir = std::string(k_registry_dir);
    std::string state_file = "/run/sshboot/cluster";
    bool help = false;
};

// --rank R, --addr A[:P], --nodes N, --dir DIR, --state FILE, -h/--help (also --x=value).
util::Expected<RegisterOptions> parse_register_args(const std::vector<std::string>& args);

// Checks a registration: rank 1 to num_nodes - 1 (rank 0 is the primary
// itself), an address as SSHBOOT_CLUSTER_HOSTS takes it (port 22 when none).
// Errors are usage errors naming what was wrong.
util::Expected<Node> validate_registration(std::string_view rank, const std::string& addr,
                                           std::string_view num_nodes);

// One registry file's content ("<rank> <port> <host>\n") and back.
std::string render_registration(const Node& node);
util::Expected<Node> parse_registration(std::string_view text);

// The nodes known so far: `primary` (rank 0) and the registered ones, in rank
// order, ranks outside 1 to num_nodes - 1 left out.
std::vector<Node> merge_registrations(const Node& primary, const std::vector<Node>& registered,
                                      int num_nodes);

// The registry files in `dir`, parsed; unreadable or malformed ones skipped.
std::vector<Node> read_registry(const std::string& dir);

std::string register_usage();

// Takes the registry's lock (`dir`/k_registry_lock, created 0600, never
// through a symlink), waiting at most `timeout` for a registration that
// holds it; an error naming the file when it cannot be had in time.
util::Expected<util::UniqueFd> lock_registry(const std::string& dir,
                                             std::chrono::milliseconds timeout);

// The environment of a worker's registration (and of its ssh): PATH, HOME,
// USER, LOGNAME, LANG, LC_ALL and TZ from `envp`, nothing else (a default
// PATH when it has none): PID 1's environment holds SSHBOOT_CLUSTER_SECRET,
// SSH_PASSWORD and the platform's tokens.
std::vector<std::string> registration_environment(const char* const* envp);

// The ssh command a worker runs to register with the primary: the cluster
// key, strict host checking (the primary's certificate names PRIMARY_ADDR),
// and `sshboot cluster register --rank R --addr A:P --nodes N` there.
std::vector<std::string> register_ssh_command(const std::string& ssh, const ClusterState& worker,
                                              const Node& primary, const Node& self, int num_nodes);

// On a worker: a background child that runs register_ssh_command until it
// succeeds, with backoff from 1 s to 30 s, for at most `limit_seconds`; an
// attempt that takes longer than 90 s is killed and counted as failed. The
// child wipes the environment it inherited and gives ssh only
// registration_environment's. It logs its outcome; the caller never waits
// for it (PID 1 reaps it).
void start_registration(const ClusterState& worker, const Node& primary, const Node& self,
                        int num_nodes, int limit_seconds = 1800);

// `sshboot cluster register ...`: writes `dir`/<rank> atomically, then, when
// this node is the primary, rewrites its hostfiles, state and ~/.ssh/config
// block for the nodes registered so far. Exit 0 on success, 2 on a usage
// error, 1 when a file cannot be written.
int register_command(const std::vector<std::string>& args);

}  // namespace sshboot::cluster
