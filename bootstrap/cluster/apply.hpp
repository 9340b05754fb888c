// Cluster mode on one node: read and check the secret, resolve the topology
// (both before anything is written: a bad value is a usage error, exit 2),
// then write what the node's identity needs: the cluster client key as the
// login user's ~/.ssh/id_ed25519, the @cert-authority line in its
// ~/.ssh/known_hosts, and this node's host certificate signed by the
// cluster CA.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "accounts/passwd.hpp"
#include "cluster/topology.hpp"
#include "hostkeys/store.hpp"
#include "util/expected.hpp"

namespace sshboot::cluster {

inline constexpr std::string_view k_known_hosts_begin =
    "# >>> sshboot cluster CA: replaced on every start, edit outside this block >>>";
inline constexpr std::string_view k_known_hosts_end = "# <<< sshboot cluster CA <<<";
// The comment of every key sshboot derives; marks ~/.ssh/id_ed25519 as its own.
inline constexpr std::string_view k_key_comment = "sshboot-cluster";
// Where the client key goes when ~/.ssh/id_ed25519 is a key of the user's own.
inline constexpr std::string_view k_fallback_key_name = "id_ed25519_sshboot_cluster";

struct ClusterOptions {
    std::string secret;       // SSHBOOT_CLUSTER_SECRET, already validated ("" = unset)
    std::string secret_file;  // SSHBOOT_CLUSTER_SECRET_FILE ("" = unset)
    std::string rank;         // SSHBOOT_CLUSTER_RANK
    std::string hosts;        // SSHBOOT_CLUSTER_HOSTS
    std::uint16_t ssh_port = 22;
    std::string hostname;
    std::map<std::string, std::string> env;
};

// Everything decided before a file is written. Wipes the secret on destruction.
class ClusterPlan {
  public:
    ClusterPlan(std::string secret, Topology topology, std::string hostname);
    ClusterPlan(ClusterPlan&& other) noexcept;
    ClusterPlan& operator=(ClusterPlan&&) = delete;
    ClusterPlan(const ClusterPlan&) = delete;
    ClusterPlan& operator=(const ClusterPlan&) = delete;
    ~ClusterPlan();

    const std::string& secret() const { return m_secret; }
    const Topology& topology() const { return m_topology; }
    const std::string& hostname() const { return m_hostname; }

  private:
    std::string m_secret;
    Topology m_topology;
    std::string m_hostname;
};

// Reads and checks the secret (from the file when one is given: its mode and
// owner are checked first) and resolves the topology. Every error is a usage
// error naming the variable; nothing is written.
util::Expected<ClusterPlan> plan_cluster(const ClusterOptions& options);

// "ssh-ed25519 AAAA... sshboot-cluster": the line for authorized_keys.
std::string client_public_line(const ClusterPlan& plan);

// The host key the certificate is for: the plan's ed25519 host key.
const hostkeys::HostKey* find_ed25519_host_key(const std::vector<hostkeys::HostKey>& keys);

struct ClusterIdentity {
    std::string identity_file;     // the client key's path (~/.ssh/id_ed25519 normally)
    std::string certificate_path;  // for sshd's HostCertificate
    std::string ca_fingerprint;    // SHA256:... of the cluster CA
    std::vector<std::string> principals;
    std::vector<std::string> warnings;
};

// Writes the client key pair under the user's ~/.ssh (private 0600, public
// 0644, owned by the user, atomically, never through a symlink; a
// ~/.ssh/id_ed25519 that is not sshboot's is kept and the key goes to
// k_fallback_key_name instead), the known_hosts managed block, and the
// certificate `<host key>-cert.pub` beside `host_key`.
util::Expected<ClusterIdentity> write_identity(const ClusterPlan& plan,
                                               const accounts::PasswdEntry& user,
                                               const hostkeys::HostKey& host_key);

// The known_hosts block's lines: one @cert-authority line for the cluster CA.
std::vector<std::string> known_hosts_lines(const ClusterPlan& plan);

}  // namespace sshboot::cluster
