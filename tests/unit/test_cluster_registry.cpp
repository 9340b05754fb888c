#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/registry.hpp"

using namespace sshboot;

TEST(parse_register_args, both_forms_and_help) {
    auto o = cluster::parse_register_args({"--rank", "2", "--addr=10.0.0.3:2222", "--nodes", "3"});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->rank, "2");
    EXPECT_EQ(o->addr, "10.0.0.3:2222");
    EXPECT_EQ(o->num_nodes, "3");
    EXPECT_EQ(o->dir, "/run/sshboot/cluster.d");
    EXPECT_TRUE(cluster::parse_register_args({"--help"})->help);
    EXPECT_FALSE(cluster::parse_register_args({"--bogus", "1"}));
    EXPECT_FALSE(cluster::parse_register_args({"--rank"}));
}

TEST(validate_registration, accepts_workers_with_or_without_port) {
    auto n = cluster::validate_registration("1", "10.65.0.2", "3");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->rank, 1);
    EXPECT_EQ(n->host, "10.65.0.2");
    EXPECT_EQ(n->port, 22);
    n = cluster::validate_registration("2", "[fd00::3]:2200", "3");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->host, "fd00::3");
    EXPECT_EQ(n->port, 2200);
}

TEST(validate_registration, refuses_ranks_outside_num_nodes) {
    for (const char* rank : {"0", "3", "99", "-1", "x", ""}) {
        auto n = cluster::validate_registration(rank, "10.0.0.2", "3");
        EXPECT_FALSE(n) << rank;
    }
    auto n = cluster::validate_registration("3", "10.0.0.2", "3");
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("ranks 1 to 2"), std::string::npos) << n.error().message;
}

TEST(validate_registration, refuses_bad_addresses_and_counts) {
    for (const char* addr :
         {"", "-oProxyCommand=x", "a b", "host:", "host:0", "host:70000", "[fd00::1", "h;rm"}) {
        EXPECT_FALSE(cluster::validate_registration("1", addr, "3")) << addr;
    }
    EXPECT_FALSE(cluster::validate_registration("1", "10.0.0.2", ""));
    EXPECT_FALSE(cluster::validate_registration("1", "10.0.0.2", "0"));
    EXPECT_FALSE(cluster::validate_registration("1", "10.0.0.2", "many"));
}

TEST(registration, renders_and_parses_back) {
    cluster::Node n{2, "10.0.0.3", 2222};
    EXPECT_EQ(cluster::render_registration(n), "2 2222 10.0.0.3\n");
    auto back = cluster::parse_registration(cluster::render_registration(n));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->rank, 2);
    EXPECT_EQ(back->host, "10.0.0.3");
    EXPECT_EQ(back->port, 2222);
    EXPECT_FALSE(cluster::parse_registration("2 2222"));
    EXPECT_FALSE(cluster::parse_registration("2 0 h"));
    EXPECT_FALSE(cluster::parse_registration("2 22 h;x"));
}

TEST(merge_registrations, primary_first_then_ranks_in_order) {
    cluster::Node primary{0, "10.0.0.1", 22};
    auto nodes = cluster::merge_registrations(
        primary, {{2, "10.0.0.3", 22}, {7, "10.0.0.9", 22}, {1, "10.0.0.2", 22}}, 3);
    ASSERT_EQ(nodes.size(), 3u);
    EXPECT_EQ(nodes[0].host, "10.0.0.1");
    EXPECT_EQ(nodes[1].rank, 1);
    EXPECT_EQ(nodes[2].rank, 2);
}

TEST(read_registry, reads_rank_files_and_skips_the_rest) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("sshboot-registry-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "1") << "1 22 10.0.0.2\n";
    std::ofstream(dir / "2") << "1 22 10.0.0.3\n";  // rank does not match the name
    std::ofstream(dir / "3") << "garbage\n";
    std::ofstream(dir / ".tmp") << "4 22 10.0.0.5\n";
    auto nodes = cluster::read_registry(dir.string());
    std::filesystem::remove_all(dir);
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_EQ(nodes[0].rank, 1);
    EXPECT_EQ(nodes[0].host, "10.0.0.2");
}

TEST(register_ssh_command, logs_in_to_the_primary_strictly_and_registers_this_node) {
    cluster::ClusterState worker;
    worker.rank = 2;
    worker.user = "root";
    worker.identity_file = "/root/.ssh/id_ed25519";
    worker.known_hosts = "/root/.ssh/known_hosts";
    const auto argv = cluster::register_ssh_command("/usr/bin/ssh", worker, {0, "10.65.0.2", 22},
                                                    {2, "fd00::4", 2200}, 3);
    ASSERT_GE(argv.size(), 3u);
    EXPECT_EQ(argv.front(), "/usr/bin/ssh");
    EXPECT_NE(std::find(argv.begin(), argv.end(), "StrictHostKeyChecking=yes"), argv.end());
    EXPECT_EQ(argv[argv.size() - 2], "10.65.0.2");
    EXPECT_EQ(argv.back(), "sshboot cluster register --rank 2 --addr [fd00::4]:2200 --nodes 3");
}

TEST(lock_registry, a_root_only_file_and_a_bounded_wait_for_a_holder) {
    char tmpl[] = "/tmp/sshboot-registry-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
    {
        auto held = cluster::lock_registry(dir, std::chrono::milliseconds(0));
        ASSERT_TRUE(held) << held.error().message;
        struct stat st {};
        ASSERT_EQ(::stat((dir + "/.lock").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0600u);
        // Held (by another open file description): the second waits, then
        // gives up with a message naming the lock.
        const auto start = std::chrono::steady_clock::now();
        auto second = cluster::lock_registry(dir, std::chrono::milliseconds(200));
        ASSERT_FALSE(second);
        EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
        EXPECT_NE(second.error().message.find(dir + "/.lock"), std::string::npos)
            << second.error().message;
        // Whoever only can open the directory no longer blocks anyone.
        const int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
        ASSERT_GE(dirfd, 0);
        ASSERT_EQ(::flock(dirfd, LOCK_EX), 0);
        held->reset(-1);
        auto third = cluster::lock_registry(dir, std::chrono::milliseconds(0));
        EXPECT_TRUE(third) << third.error().message;
        ::close(dirfd);
    }
    // A lock planted as a symlink is not followed.
    ::unlink((dir + "/.lock").c_str());
    ASSERT_EQ(::symlink("/etc/passwd", (dir + "/.lock").c_str()), 0);
    EXPECT_FALSE(cluster::lock_registry(dir, std::chrono::milliseconds(0)));
    std::filesystem::remove_all(dir);
}

TEST(registration_environment, keeps_only_harmless_variables) {
    const char* envp[] = {
        "PATH=/usr/bin:/bin",   "HOME=/root",      "SSHBOOT_CLUSTER_SECRET=sshboot-cluster-v1:abc",
        "SSH_PASSWORD=hunter2", "HF_TOKEN=hf_xyz", "LANG=C.UTF-8",
        "PATH=/second",         "NOEQUALS",        nullptr};
    EXPECT_EQ(cluster::registration_environment(envp),
              (std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"}));
    const char* bare[] = {"SSH_PASSWORD=x", nullptr};
    EXPECT_EQ(cluster::registration_environment(bare),
              (std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin"}));
}
