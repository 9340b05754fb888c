#include <gtest/gtest.h>

#include "cluster/hydra.hpp"

namespace sshboot::cluster {
namespace {

Topology topology(std::vector<std::string> hosts, int rank) {
    Topology t;
    t.rank = rank;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        t.nodes.push_back(Node{static_cast<int>(i), hosts[i], 22});
    }
    return t;
}

const std::vector<Interface> k_interfaces = {
    {"lo", "127.0.0.1"}, {"lo", "::1"}, {"eth0", "10.0.0.2"}, {"eth0", "fe80::1"}};

TEST(hydra_interface, TheInterfaceHoldingThisNodesAddress) {
    EXPECT_EQ(hydra_interface(topology({"10.0.0.1", "10.0.0.2"}, 1), k_interfaces), "eth0");
    // A loopback cluster (every node on 127.0.0.1, one port each).
    EXPECT_EQ(hydra_interface(topology({"127.0.0.1", "127.0.0.1"}, 0), k_interfaces), "lo");
    // The address is not here (a NAT address): no guess.
    EXPECT_EQ(hydra_interface(topology({"10.0.0.1", "192.0.2.9"}, 1), k_interfaces), std::nullopt);
}

TEST(hydra_interface, ANameUsesTheOnlyNetworkInterface) {
    EXPECT_EQ(hydra_interface(topology({"job-0.svc", "job-1.svc"}, 1), k_interfaces), "eth0");
    auto two = k_interfaces;
    two.push_back({"eth1", "10.1.0.2"});
    EXPECT_EQ(hydra_interface(topology({"job-0.svc", "job-1.svc"}, 1), two), std::nullopt);
}

TEST(hydra_session_entry, TheImagesOwnValueWins) {
    EXPECT_EQ(hydra_session_entry(topology({"127.0.0.1"}, 0), {"HYDRA_IFACE=ib0"}), std::nullopt);
}

}  // namespace
}  // namespace sshboot::cluster
