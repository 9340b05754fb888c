// What multi-node launchers read: ssh aliases, hostfiles, the environment
// DeepSpeed carries to every node, and the state `cluster wait` reads.
#pragma once

#include <string>
#include <vector>

#include "accounts/passwd.hpp"
#include "cluster/topology.hpp"
#include "util/expected.hpp"

namespace sshboot::cluster {

// Writes ~/.ssh/config managed block (Host node-<rank> aliases), /job/hostfile
// (DeepSpeed), the OpenMPI and MPICH hostfiles, ~/.deepspeed_env, and the
// state cluster wait reads. `session_env` = NAME=VALUE entries that sessions see
// (secrets already removed). Returns env entries to add to SSH sessions
// (OMPI_MCA_orte_default_hostfile, HYDRA_HOST_FILE, ...).
util::Expected<std::vector<std::string>> write_launch_files(
    const Topology& t, const accounts::PasswdEntry& user, const std::string& identity_file,
    const std::vector<std::string>& session_env);

}  // namespace sshboot::cluster
