// Cluster topology: this node's rank, every node's address and port, and the
// processes per node, resolved from sshboot's variables or the platform's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::cluster {

struct Node {
    int rank = 0;
    std::string host;  // name or address peers use to reach it
    std::uint16_t port = 22;
    std::string alias() const;  // "node-<rank>"
};

struct TopologyInput {
    std::string rank;                        // SSHBOOT_CLUSTER_RANK / --cluster-rank ("" = unset)
    std::string hosts;                       // SSHBOOT_CLUSTER_HOSTS / --cluster-hosts ("" = unset)
    std::uint16_t ssh_port = 22;             // this node's SSH_PORT (default port for peers)
    std::string hostname;                    // this node's hostname (StatefulSet ordinal)
    std::map<std::string, std::string> env;  // whole environment (platform variables)
    int gpus = -1;                           // GPUs on this node; -1 = count /dev/nvidia<N>
    std::vector<Node> registered;            // RunPod primary: workers registered so far
};

struct Topology {
    int rank = 0;
    // In rank order. Every node when the platform lists them; with RunPod's
    // discovery, the nodes known so far: on the primary itself and the
    // workers registered so far, on a worker the primary and itself.
    std::vector<Node> nodes;
    int slots = 1;        // processes per node for hostfiles
    int expected = 0;     // nodes in the job (RunPod's NUM_NODES); 0 = nodes.size()
    std::string source;   // e.g. "SSHBOOT_CLUSTER_HOSTS", "SkyPilot", "Kubernetes", "RunPod"
    std::string pattern;  // SSHBOOT_CLUSTER_PATTERN when the nodes came from it
    const Node& self() const;
    int node_count() const { return expected > 0 ? expected : static_cast<int>(nodes.size()); }
};

// Usage errors (exit 2) name the variable that was wrong.
util::Expected<Topology> resolve_topology(const TopologyInput& in);

// One node address as SSHBOOT_CLUSTER_HOSTS lists it: host, host:port, [v6]
// or [v6]:port (port `default_port` when none). Errors name `variable`.
util::Expected<Node> parse_node_address(const std::string& variable, const std::string& entry,
                                        std::uint16_t default_port);

// GPU devices (/dev/nvidia<N>) in `dev_dir`.
int count_gpus(const std::string& dev_dir = "/dev");

// Names and addresses peers use for this node: node-<rank>, its host, hostname...
std::vector<std::string> host_principals(const Topology& t, const std::string& hostname);

// The known_hosts host patterns the cluster CA is trusted for: the cluster's
// own names only, never "*" (a CA trusted for every name would vouch for a
// certificate naming github.com). node-* (the aliases, which connect with
// HostKeyAlias node-<rank>); every node's host and the first label of a DNS
// name, as [host]:port when the port is not 22; this node's hostname; and
// with SSHBOOT_CLUSTER_PATTERN the names it gives: the pattern with * for
// {rank} and its domain (*.trainer-svc.ns.svc.cluster.local).
std::vector<std::string> ca_host_patterns(const Topology& t, const std::string& hostname);

}  // namespace sshboot::cluster
