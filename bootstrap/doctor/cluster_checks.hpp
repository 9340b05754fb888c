// The cluster checks of `sshboot doctor`, present only in cluster mode.
#pragma once

#include <vector>

#include "doctor/checks.hpp"
#include "doctor/cluster_facts.hpp"

namespace sshboot::doctor {

// Nothing when cluster mode is off.
std::vector<CheckResult> check_cluster(const ClusterFacts& facts);

}  // namespace sshboot::doctor
