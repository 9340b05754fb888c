// What multi-node launchers read: ssh aliases, hostfiles, the environment
// DeepSpeed carries to every node, and the state `cluster wait` reads.
//
// Every launcher reaches a node through its alias node-<rank>: the hostfiles
// name the aliases and ~/.ssh/config maps each to its address, port, user and
// the cluster key, so several nodes can share one address on different ports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "accounts/passwd.hpp"
#include "cluster/topology.hpp"
#include "util/expected.hpp"

namespace sshboot::cluster {

inline constexpr std::string_view k_config_begin =
    "# >>> sshboot cluster nodes: replaced on every start, edit outside this block >>>";
inline constexpr std::string_view k_config_end = "# <<< sshboot cluster nodes <<<";

// Where the files go (tests point them elsewhere).
struct LaunchPaths {
    std::string hostfile = "/job/hostfile";                  // DeepSpeed: host slots=N
    std::string openmpi_hostfile = "/job/hostfile.openmpi";  // OpenMPI: host slots=N
    std::string mpich_hostfile = "/job/hostfile.mpich";      // MPICH, Intel MPI: host:N
    std::string state_file = "/run/sshboot/cluster";         // read by `cluster wait`
    // Where the hostfiles' directory is checked from (util::open_trusted_dir):
    // "/" checks every component of /job; tests pass a private directory.
    std::string trusted_base = "/";
};

// Writes ~/.ssh/config managed block (Host node-<rank> aliases), /job/hostfile
// (DeepSpeed), the OpenMPI and MPICH hostfiles, ~/.deepspeed_env, and the
// state cluster wait reads. `session_env` = NAME=VALUE entries that sessions see
// (secrets already removed). Returns env entries to add to SSH sessions
// (OMPI_MCA_orte_default_hostfile, HYDRA_HOST_FILE, ...).
util::Expected<std::vector<std::string>> write_launch_files(
    const Topology& t, const accounts::PasswdEntry& user, const std::string& identity_file,
    const std::vector<std::string>& session_env);

// The same with other paths.
util::Expected<std::vector<std::string>> write_launch_files(
    const Topology& t, const accounts::PasswdEntry& user, const std::string& identity_file,
    const std::vector<std::string>& session_env, const LaunchPaths& paths);

// The lines of the ~/.ssh/config block: one Host node-<rank> per node, then
// "Host *" so that lines after the block keep applying to every host.
std::vector<std::string> render_ssh_config_block(const Topology& t, const std::string& user,
                                                 const std::string& identity_file);

// `existing` ~/.ssh/config with its managed block replaced by `block_lines`;
// a new block goes first, so that its settings win over the user's
// (ssh_config takes the first value it finds).
std::string merge_ssh_config(std::string_view existing,
                             const std::vector<std::string>& block_lines);

// DeepSpeed's and OpenMPI's hostfile: "node-<rank> slots=N" per node.
std::string render_slots_hostfile(const Topology& t);

// MPICH's and Intel MPI's: "node-<rank>:N" per node.
std::string render_mpich_hostfile(const Topology& t);

// ~/.deepspeed_env: NAME=VALUE lines of the variables a launcher must carry to
// every node (PATH, LD_LIBRARY_PATH, PYTHONPATH, CUDA_*, NCCL_*, MASTER_ADDR,
// ...), sorted by name. Names that look like credentials and values with a
// line break are left out.
std::string render_deepspeed_env(const std::vector<std::string>& session_env);

// Entries for session environments: where the MPI launchers find the
// hostfiles, and OpenMPI's consent to run as root when the user is root.
std::vector<std::string> session_entries(const LaunchPaths& paths, const std::string& user_name);

// Lines for the connect block: the cluster, this node's alias and, on rank 0,
// how to launch (the hostfiles, a deepspeed and an mpirun line).
std::vector<std::string> launch_hint(const Topology& t, const LaunchPaths& paths = {});

// What `cluster wait` needs, written by the entrypoint.
struct ClusterState {
    int rank = 0;
    std::string user;
    std::string identity_file;
    std::string known_hosts;  // the user's, holding the @cert-authority line
    std::vector<Node> nodes;  // in rank order; with RunPod's discovery, those known so far
    int slots = 1;
    int expect = 0;  // nodes in the job when `nodes` may lack some (RunPod); 0 = nodes.size()
    const Node* self() const;
    int node_count() const { return expect > 0 ? expect : static_cast<int>(nodes.size()); }
};

std::string render_state(const ClusterState& s);

// On the primary of a cluster without a node list: rewrites the hostfiles,
// the state and the user's ~/.ssh/config block for `state`'s nodes (the
// ones registered so far). ~/.deepspeed_env is left as the start wrote it.
util::Status rewrite_node_files(const ClusterState& state, const LaunchPaths& paths = {});
util::Expected<ClusterState> parse_state(std::string_view text);

}  // namespace sshboot::cluster
