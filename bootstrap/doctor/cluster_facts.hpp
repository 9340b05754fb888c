// What `sshboot doctor` looks at in cluster mode: the state the entrypoint
// wrote (/run/sshboot/cluster), the secret's strength (never the secret
// itself), this node's host certificate, the cluster CA in the user's
// known_hosts, a login to every node, the launchers on PATH and the modes of
// the files a Kubernetes Secret volume gets wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/launch_files.hpp"
#include "util/expected.hpp"

namespace sshboot::doctor {

struct FileInfo;

// The fields of an OpenSSH certificate (PROTOCOL.certkeys) doctor checks.
struct CertificateInfo {
    std::string type;             // "ssh-ed25519-cert-v01@openssh.com"
    std::uint32_t cert_type = 0;  // 1 user, 2 host
    std::string key_id;
    std::vector<std::string> principals;
    std::uint64_t valid_after = 0;
    std::uint64_t valid_before = 0;
    std::string ca_fingerprint;  // "SHA256:..." of the signature key
};

// Parses a "<type> <base64> [comment]" certificate line; ed25519 host keys only.
util::Expected<CertificateInfo> parse_certificate_line(std::string_view line);

// The fingerprints of the keys on @cert-authority lines of a known_hosts text.
std::vector<std::string> cert_authority_fingerprints(std::string_view known_hosts);

struct PeerResult {
    cluster::Node node;
    bool ready = false;
    std::string why;  // cluster::classify_probe's reason when not ready
};

struct ClusterFacts {
    bool enabled = false;  // a cluster secret is set, or the entrypoint wrote the state
    std::string state_path;
    std::string state_error;  // unreadable or malformed (empty when parsed)
    std::optional<cluster::ClusterState> state;

    // The secret: where it comes from and what is wrong with it; the secret
    // itself is dropped as soon as it is checked.
    std::string
        secret_source;  // "SSHBOOT_CLUSTER_SECRET", "SSHBOOT_CLUSTER_SECRET_FILE <path>", ""
    std::string secret_problem;                // validate_secret's or read_secret_file's message
    std::optional<unsigned> secret_file_mode;  // permission bits of the secret file
    std::string secret_file;                   // its path

    std::string certificate_path;  // <host key>-cert.pub; empty when no host key has one
    std::string certificate_error;
    std::optional<CertificateInfo> certificate;
    std::vector<std::string> known_ca_fingerprints;  // @cert-authority keys in known_hosts
    std::string known_hosts_error;
    std::uint64_t now = 0;  // seconds since the epoch

    bool peers_probed = false;
    std::string probe_error;  // e.g. no ssh client
    std::vector<PeerResult> peers;

    std::string pdsh_path;    // empty: not on PATH
    std::string mpirun_path;  // empty: not on PATH

    // Private keys ~/.ssh/id_* of the cluster user (mode and path).
    std::vector<std::pair<std::string, unsigned>> client_keys;
};

struct ClusterGatherOptions {
    std::map<std::string, std::string> env;  // SSHBOOT_CLUSTER_SECRET(_FILE)
    std::string state_path = cluster::LaunchPaths{}.state_file;
    std::vector<std::string> host_keys;  // private host key paths
    std::string path_env;
    bool probe = true;
    int probe_timeout_seconds = 5;
};

// Effects: reads the files, checks the secret, logs in to every node.
ClusterFacts gather_cluster(const ClusterGatherOptions& options);

// The names of the variables cluster checks read.
const std::vector<std::string>& cluster_variables();

}  // namespace sshboot::doctor
