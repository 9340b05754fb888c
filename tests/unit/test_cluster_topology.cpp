#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "cluster/topology.hpp"

using namespace sshboot;
using cluster::TopologyInput;

namespace {

TopologyInput input(std::string rank, std::string hosts) {
    TopologyInput in;
    in.rank = std::move(rank);
    in.hosts = std::move(hosts);
    in.ssh_port = 22;
    in.gpus = 0;
    return in;
}

std::string error_of(const TopologyInput& in) {
    auto t = cluster::resolve_topology(in);
    EXPECT_FALSE(t);
    return t ? std::string() : t.error().message;
}

}  // namespace

TEST(cluster_topology, hosts_list_in_rank_order_with_ports) {
    auto in = input("1", "10.0.0.1,10.0.0.2:2222, node-c.example:2200");
    in.ssh_port = 2022;
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->source, "SSHBOOT_CLUSTER_HOSTS");
    EXPECT_EQ(t->rank, 1);
    ASSERT_EQ(t->nodes.size(), 3u);
    EXPECT_EQ(t->nodes[0].host, "10.0.0.1");
    EXPECT_EQ(t->nodes[0].port, 2022);  // this node's SSH_PORT is the default
    EXPECT_EQ(t->nodes[1].host, "10.0.0.2");
    EXPECT_EQ(t->nodes[1].port, 2222);
    EXPECT_EQ(t->nodes[2].host, "node-c.example");
    EXPECT_EQ(t->nodes[2].port, 2200);
    for (int r = 0; r < 3; ++r) {
        EXPECT_EQ(t->nodes[static_cast<std::size_t>(r)].rank, r);
    }
    EXPECT_EQ(t->self().alias(), "node-1");
    EXPECT_EQ(t->slots, 1);
}

TEST(cluster_topology, several_nodes_share_one_address_on_different_ports) {
    auto t = cluster::resolve_topology(input("2", "127.0.0.1:4000,127.0.0.1:4001,127.0.0.1:4002"));
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->self().host, "127.0.0.1");
    EXPECT_EQ(t->self().port, 4002);
    EXPECT_EQ(t->nodes[0].port, 4000);
}

TEST(cluster_topology, ipv6_in_brackets_and_bare) {
    auto t = cluster::resolve_topology(input("0", "[fd00::1]:2222,[fd00::2],fd00::3"));
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->nodes[0].host, "fd00::1");
    EXPECT_EQ(t->nodes[0].port, 2222);
    EXPECT_EQ(t->nodes[1].host, "fd00::2");
    EXPECT_EQ(t->nodes[1].port, 22);
    EXPECT_EQ(t->nodes[2].host, "fd00::3");
    EXPECT_EQ(t->nodes[2].port, 22);
}

TEST(cluster_topology, bad_hosts_entries_name_the_variable) {
    for (const char* hosts :
         {"a,,b", "a:0", "a:70000", "a:", "a:x", "[fd00::1", "[fd00::1]x", "a b", "-a", "a;rm"}) {
        const std::string msg = error_of(input("0", hosts));
        EXPECT_NE(msg.find("SSHBOOT_CLUSTER_HOSTS"), std::string::npos) << hosts << ": " << msg;
    }
    EXPECT_NE(error_of(input("0", "a:99999")).find("bad port"), std::string::npos);
}

TEST(cluster_topology, rank_out_of_range_names_both_variables) {
    const std::string msg = error_of(input("3", "a,b,c"));
    EXPECT_NE(msg.find("SSHBOOT_CLUSTER_RANK"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SSHBOOT_CLUSTER_HOSTS"), std::string::npos) << msg;
    EXPECT_NE(msg.find("0 to 2"), std::string::npos) << msg;
}

TEST(cluster_topology, bad_rank_is_a_usage_error) {
    for (const char* rank : {"-1", "x", "1.5", "99999"}) {
        const std::string msg = error_of(input(rank, "a,b"));
        EXPECT_NE(msg.find("SSHBOOT_CLUSTER_RANK"), std::string::npos) << rank << ": " << msg;
    }
}

TEST(cluster_topology, rank_from_platform_variables_in_order) {
    auto in = input("", "a,b,c,d");
    in.env["JOB_COMPLETION_INDEX"] = "3";
    EXPECT_EQ(cluster::resolve_topology(in)->rank, 3);
    in.env["SKYPILOT_NODE_RANK"] = "2";
    EXPECT_EQ(cluster::resolve_topology(in)->rank, 2);
    in.env["NODE_RANK"] = "1";
    EXPECT_EQ(cluster::resolve_topology(in)->rank, 1);
    in.rank = "0";
    EXPECT_EQ(cluster::resolve_topology(in)->rank, 0);
    in.rank.clear();
    in.env["NODE_RANK"] = "one";
    EXPECT_NE(error_of(in).find("NODE_RANK"), std::string::npos);
}

TEST(cluster_topology, rank_from_statefulset_ordinal_in_hostname) {
    auto in = input("", "a,b,c");
    in.hostname = "trainer-2";
    EXPECT_EQ(cluster::resolve_topology(in)->rank, 2);
    in.hostname = "trainer-5";
    const std::string msg = error_of(in);
    EXPECT_NE(msg.find("trainer-5"), std::string::npos) << msg;
    in.hostname = "trainer";
    EXPECT_NE(error_of(in).find("set SSHBOOT_CLUSTER_RANK"), std::string::npos);
}

TEST(cluster_topology, skypilot_node_ips_and_rank) {
    auto in = input("", "");
    in.ssh_port = 2222;
    in.env["SKYPILOT_NODE_IPS"] = "10.1.0.5\n10.1.0.6\n\n";
    in.env["SKYPILOT_NODE_RANK"] = "1";
    in.env["SKYPILOT_NUM_GPUS_PER_NODE"] = "8";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->source, "SkyPilot");
    ASSERT_EQ(t->nodes.size(), 2u);
    EXPECT_EQ(t->nodes[1].host, "10.1.0.6");
    EXPECT_EQ(t->nodes[1].port, 2222);
    EXPECT_EQ(t->rank, 1);
    EXPECT_EQ(t->slots, 8);
    in.env["SKYPILOT_NODE_IPS"] = "10.1.0.5\nbad host\n";
    EXPECT_NE(error_of(in).find("SKYPILOT_NODE_IPS"), std::string::npos);
}

TEST(cluster_topology, explicit_hosts_win_over_skypilot) {
    auto in = input("0", "x,y,z");
    in.env["SKYPILOT_NODE_IPS"] = "10.1.0.5\n10.1.0.6";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->nodes.size(), 3u);
}

TEST(cluster_topology, kubernetes_pattern_and_size) {
    auto in = input("", "");
    in.hostname = "trainer-1";
    in.env["SSHBOOT_CLUSTER_PATTERN"] = "trainer-{rank}.trainer-svc";
    in.env["SSHBOOT_CLUSTER_SIZE"] = "3";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->source, "Kubernetes");
    EXPECT_EQ(t->rank, 1);
    ASSERT_EQ(t->nodes.size(), 3u);
    EXPECT_EQ(t->nodes[0].host, "trainer-0.trainer-svc");
    EXPECT_EQ(t->nodes[2].host, "trainer-2.trainer-svc");
    EXPECT_EQ(t->nodes[2].port, 22);

    in.env["SSHBOOT_CLUSTER_PATTERN"] = "w-{rank}.svc:2222";
    EXPECT_EQ(cluster::resolve_topology(in)->nodes[1].port, 2222);
}

TEST(cluster_topology, kubernetes_pattern_errors_name_the_variable) {
    auto in = input("0", "");
    in.env["SSHBOOT_CLUSTER_PATTERN"] = "trainer-{rank}.svc";
    EXPECT_NE(error_of(in).find("SSHBOOT_CLUSTER_SIZE"), std::string::npos);
    in.env["SSHBOOT_CLUSTER_SIZE"] = "0";
    EXPECT_NE(error_of(in).find("SSHBOOT_CLUSTER_SIZE"), std::string::npos);
    in.env["SSHBOOT_CLUSTER_SIZE"] = "2";
    for (const char* pattern :
         {"trainer.svc", "trainer-{index}.svc", "t-{rank}-{rank}", "t {rank}", "t-{rank}:0"}) {
        in.env["SSHBOOT_CLUSTER_PATTERN"] = pattern;
        const std::string msg = error_of(in);
        EXPECT_NE(msg.find("SSHBOOT_CLUSTER_PATTERN"), std::string::npos) << pattern << ": " << msg;
    }
}

TEST(cluster_topology, runpod_primary_knows_itself_and_registered_workers) {
    auto in = input("", "");
    in.ssh_port = 2200;
    in.env["NODE_RANK"] = "0";
    in.env["NUM_NODES"] = "3";
    in.env["NODE_ADDR"] = "10.65.0.2";
    in.env["PRIMARY_ADDR"] = "10.65.0.2";
    in.env["NUM_TRAINERS"] = "4";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->source, "RunPod");
    EXPECT_EQ(t->expected, 3);
    EXPECT_EQ(t->node_count(), 3);
    EXPECT_EQ(t->slots, 4);
    ASSERT_EQ(t->nodes.size(), 1u);
    EXPECT_EQ(t->self().host, "10.65.0.2");
    EXPECT_EQ(t->self().port, 2200);

    // Registered workers, in rank order; ranks outside NUM_NODES left out.
    in.registered = {{2, "10.65.0.4", 22}, {5, "10.65.0.9", 22}, {1, "10.65.0.3", 22}};
    t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(t->nodes.size(), 3u);
    EXPECT_EQ(t->nodes[1].rank, 1);
    EXPECT_EQ(t->nodes[2].host, "10.65.0.4");
}

TEST(cluster_topology, runpod_worker_knows_primary_and_itself) {
    auto in = input("", "");
    in.env["NODE_RANK"] = "2";
    in.env["NUM_NODES"] = "3";
    in.env["NODE_ADDR"] = "10.65.0.4";
    in.env["PRIMARY_ADDR"] = "10.65.0.2";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(t->nodes.size(), 2u);
    EXPECT_EQ(t->nodes[0].host, "10.65.0.2");
    EXPECT_EQ(t->self().rank, 2);
    EXPECT_EQ(t->self().host, "10.65.0.4");
    const auto principals = cluster::host_principals(*t, "");
    EXPECT_NE(std::find(principals.begin(), principals.end(), "10.65.0.4"), principals.end());
}

TEST(cluster_topology, runpod_bad_values_are_named) {
    auto in = input("", "");
    in.env["NODE_RANK"] = "3";
    in.env["NUM_NODES"] = "3";
    in.env["NODE_ADDR"] = "10.65.0.4";
    in.env["PRIMARY_ADDR"] = "10.65.0.2";
    EXPECT_NE(error_of(in).find("NUM_NODES=3"), std::string::npos) << error_of(in);
    in.env["NODE_RANK"] = "1";
    in.env["PRIMARY_ADDR"] = "bad addr";
    EXPECT_NE(error_of(in).find("PRIMARY_ADDR"), std::string::npos) << error_of(in);
    in.env["PRIMARY_ADDR"] = "10.65.0.2";
    in.env["NUM_NODES"] = "x";
    EXPECT_NE(error_of(in).find("NUM_NODES"), std::string::npos) << error_of(in);
    in.env["NUM_NODES"] = "3";
    in.env.erase("NODE_ADDR");
    EXPECT_NE(error_of(in).find("NODE_ADDR"), std::string::npos) << error_of(in);

    // A listed node set still wins.
    in.hosts = "10.65.0.2,10.65.0.3";
    in.env["NODE_ADDR"] = "10.65.0.3";
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->source, "SSHBOOT_CLUSTER_HOSTS");
}

TEST(cluster_topology, no_node_list_says_what_to_set) {
    const std::string msg = error_of(input("0", ""));
    EXPECT_NE(msg.find("SSHBOOT_CLUSTER_HOSTS"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SSHBOOT_CLUSTER_PATTERN"), std::string::npos) << msg;
}

TEST(cluster_topology, slots_from_variables_then_gpus_then_one) {
    auto in = input("0", "a,b");
    in.gpus = 0;
    EXPECT_EQ(cluster::resolve_topology(in)->slots, 1);
    in.gpus = 4;
    EXPECT_EQ(cluster::resolve_topology(in)->slots, 4);
    in.env["SKYPILOT_NUM_GPUS_PER_NODE"] = "2";
    EXPECT_EQ(cluster::resolve_topology(in)->slots, 2);
    in.env["NUM_TRAINERS"] = "3";
    EXPECT_EQ(cluster::resolve_topology(in)->slots, 3);
    in.env["SSHBOOT_CLUSTER_SLOTS"] = "6";
    EXPECT_EQ(cluster::resolve_topology(in)->slots, 6);
    in.env["SSHBOOT_CLUSTER_SLOTS"] = "0";
    EXPECT_NE(error_of(in).find("SSHBOOT_CLUSTER_SLOTS"), std::string::npos);
    in.env.erase("SSHBOOT_CLUSTER_SLOTS");
    in.env["NUM_TRAINERS"] = "many";
    EXPECT_NE(error_of(in).find("NUM_TRAINERS"), std::string::npos);
}

TEST(cluster_topology, count_gpus_counts_nvidia_device_nodes) {
    char tmpl[] = "/tmp/sshboot-gpus-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    for (const char* name : {"nvidia0", "nvidia1", "nvidia7", "nvidiactl", "nvidia-uvm", "null"}) {
        const int fd = ::open((dir + "/" + name).c_str(), O_CREAT | O_WRONLY, 0600);
        ASSERT_GE(fd, 0);
        ::close(fd);
    }
    EXPECT_EQ(cluster::count_gpus(dir), 3);
    EXPECT_EQ(cluster::count_gpus(dir + "/missing"), 0);
    std::filesystem::remove_all(dir);
}

TEST(cluster_topology, host_principals_are_alias_address_and_names) {
    auto in = input("1", "trainer-0.svc,trainer-1.svc,trainer-2.svc");
    auto t = cluster::resolve_topology(in);
    ASSERT_TRUE(t);
    EXPECT_EQ(cluster::host_principals(*t, "trainer-1"),
              (std::vector<std::string>{"node-1", "trainer-1.svc", "trainer-1"}));
    auto ip = cluster::resolve_topology(input("0", "127.0.0.1:2000,127.0.0.1:2001"));
    ASSERT_TRUE(ip);
    EXPECT_EQ(cluster::host_principals(*ip, "box"),
              (std::vector<std::string>{"node-0", "127.0.0.1", "box"}));
}

TEST(cluster_topology, ca_host_patterns_are_the_clusters_own_names_never_a_bare_star) {
    auto ip = cluster::resolve_topology(input("0", "127.0.0.1:2000,10.0.0.2,[fd00::3]:2002"));
    ASSERT_TRUE(ip);
    EXPECT_EQ(cluster::ca_host_patterns(*ip, "box"),
              (std::vector<std::string>{"node-*", "[127.0.0.1]:2000", "10.0.0.2", "[fd00::3]:2002",
                                        "[box]:2000"}));

    auto in = input("", "");
    in.hostname = "trainer-1";
    in.env["SSHBOOT_CLUSTER_PATTERN"] = "trainer-{rank}.trainer-svc.ns.svc.cluster.local";
    in.env["SSHBOOT_CLUSTER_SIZE"] = "2";
    auto k8s = cluster::resolve_topology(in);
    ASSERT_TRUE(k8s) << k8s.error().message;
    EXPECT_EQ(cluster::ca_host_patterns(*k8s, "trainer-1"),
              (std::vector<std::string>{"node-*", "trainer-0.trainer-svc.ns.svc.cluster.local",
                                        "trainer-0", "trainer-1.trainer-svc.ns.svc.cluster.local",
                                        "trainer-1", "trainer-*.trainer-svc.ns.svc.cluster.local",
                                        "*.trainer-svc.ns.svc.cluster.local"}));

    in.env["SSHBOOT_CLUSTER_PATTERN"] = "w-{rank}.svc:2222";
    in.hostname = "w-0";
    auto ported = cluster::resolve_topology(in);
    ASSERT_TRUE(ported) << ported.error().message;
    const auto patterns = cluster::ca_host_patterns(*ported, "w-0");
    for (const char* want : {"[w-0.svc]:2222", "[w-0]:2222", "[w-*.svc]:2222", "[*.svc]:2222"}) {
        EXPECT_NE(std::find(patterns.begin(), patterns.end(), want), patterns.end()) << want;
    }
    for (const auto& p : patterns) {
        EXPECT_NE(p, "*");
        EXPECT_FALSE(p.starts_with("*") && p.find('.') == std::string::npos) << p;
    }
}
