// Keys derived from the cluster secret: the same secret gives the same keys
// on every node, and nothing else about a node is needed.
//
//   master     = BLAKE2b-256(key = "sshboot-cluster-v1/master", message = secret)
//   seed(label) = BLAKE2b-256(key = master, message = label)
//
// Each derived key has its own label, so knowing one key (the client key is
// on every node's disk) says nothing about another (the host CA).
#pragma once

#include <string_view>

#include "hostkeys/openssh_key.hpp"

namespace sshboot::cluster {

inline constexpr std::string_view k_label_client_key = "sshboot-cluster-v1/client-key/ed25519";
inline constexpr std::string_view k_label_host_ca = "sshboot-cluster-v1/host-ca/ed25519";

// The Ed25519 key pair whose seed is derived from `secret` under `label`.
hostkeys::Ed25519Key derive_ed25519(std::string_view secret, std::string_view label);

// The key every node logs in to its peers with (the user's ~/.ssh/id_ed25519).
hostkeys::Ed25519Key derive_client_key(std::string_view secret);

// The host certificate authority every node signs its host key with and
// every node trusts (@cert-authority in known_hosts).
hostkeys::Ed25519Key derive_host_ca(std::string_view secret);

}  // namespace sshboot::cluster
