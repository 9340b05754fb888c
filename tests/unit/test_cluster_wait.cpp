#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cluster/wait.hpp"

using namespace sshboot;

TEST(parse_wait_args, defaults_and_timeout_forms) {
    auto o = cluster::parse_wait_args({});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->timeout_seconds, 300);
    EXPECT_EQ(o->state_file, "/run/sshboot/cluster");
    EXPECT_FALSE(o->help);
    EXPECT_EQ(cluster::parse_wait_args({"--timeout", "30"})->timeout_seconds, 30);
    EXPECT_EQ(cluster::parse_wait_args({"--timeout=0"})->timeout_seconds, 0);
    EXPECT_EQ(cluster::parse_wait_args({"--state", "/tmp/s"})->state_file, "/tmp/s");
    EXPECT_TRUE(cluster::parse_wait_args({"--help"})->help);
    EXPECT_TRUE(cluster::parse_wait_args({"-h"})->help);
}

TEST(parse_wait_args, bad_arguments_are_named) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"--timeout"},
                                               {"--timeout", "-1"},
                                               {"--timeout", "1.5"},
                                               {"--timeout", "abc"},
                                               {"--timeout=99999999"},
                                               {"--state="},
                                               {"--bogus"},
                                               {"node-1"}}) {
        auto o = cluster::parse_wait_args(args);
        ASSERT_FALSE(o) << args[0];
        EXPECT_NE(o.error().message.find("cluster wait"), std::string::npos);
    }
    EXPECT_NE(cluster::parse_wait_args({"--timeout", "x"}).error().message.find("--timeout"),
              std::string::npos);
    EXPECT_NE(cluster::parse_wait_args({"--bogus"}).error().message.find("--bogus"),
              std::string::npos);
}

TEST(classify_probe, success_is_ready) {
    EXPECT_TRUE(cluster::classify_probe(0, "").ready);
}

TEST(classify_probe, reasons_from_ssh_messages) {
    struct Case {
        int code;
        const char* output;
        const char* want;
    };
    const Case cases[] = {
        {255, "ssh: Could not resolve hostname trainer-2.svc: Name or service not known\r\n",
         "DNS"},
        {255, "ssh: Could not resolve hostname x: Temporary failure in name resolution\n", "DNS"},
        {255, "ssh: connect to host 127.0.0.1 port 4001: Connection refused\r\n",
         "connection refused"},
        {255, "ssh: connect to host 10.0.0.9 port 22: Connection timed out\r\n", "timed out"},
        {255, "ssh: connect to host 10.0.0.9 port 22: No route to host\r\n", "timed out"},
        {255,
         "No ED25519 host key is known for [127.0.0.1]:4001 and you have requested strict "
         "checking.\r\nHost key verification failed.\r\n",
         "host certificate"},
        {255,
         "Certificate invalid: name is not a listed principal\r\nHost key verification "
         "failed.\r\n",
         "host certificate"},
        {255, "alice@127.0.0.1: Permission denied (publickey).\r\n", "authentication refused"},
        {255,
         "Load key \"/home/alice/.ssh/id_ed25519\": Permission denied\r\nalice@127.0.0.1: "
         "Permission denied (publickey).\r\n",
         "cannot read the cluster key"},
        {255, "kex_exchange_identification: Connection closed by remote host\r\n",
         "closed the connection"},
        {127, "", "cannot run ssh"},
        {3, "something odd\n", "code 3: 'something odd'"},
    };
    for (const auto& c : cases) {
        const auto v = cluster::classify_probe(c.code, c.output);
        EXPECT_FALSE(v.ready) << c.output;
        EXPECT_NE(v.why.find(c.want), std::string::npos) << c.output << " -> " << v.why;
    }
}

TEST(classify_probe, only_a_missing_name_or_a_refusal_is_not_listening) {
    // Tried again soon: nothing listens there yet.
    EXPECT_TRUE(cluster::classify_probe(255,
                                        "ssh: connect to host 10.0.0.2 port 22: Connection "
                                        "refused\r\n")
                    .not_listening);
    EXPECT_TRUE(cluster::classify_probe(255,
                                        "ssh: Could not resolve hostname node-3: Name or "
                                        "service not known\r\n")
                    .not_listening);
    // Backed off longer: the node may be busy with other logins.
    EXPECT_FALSE(cluster::classify_probe(255,
                                         "ssh: connect to host 10.0.0.2 port 22: Connection "
                                         "timed out\r\n")
                     .not_listening);
    EXPECT_FALSE(cluster::classify_probe(255,
                                         "kex_exchange_identification: Connection closed by remote "
                                         "host\r\n")
                     .not_listening);
    EXPECT_FALSE(cluster::classify_probe(255, "user@node-1: Permission denied (publickey).\r\n")
                     .not_listening);
}

TEST(probe_command, strict_batch_login_with_the_cluster_key_and_no_config) {
    cluster::ClusterState s{0,
                            "alice",
                            "/home/alice/.ssh/id_ed25519",
                            "/home/alice/.ssh/known_hosts",
                            {{0, "127.0.0.1", 4000}}};
    const auto argv = cluster::probe_command("/usr/bin/ssh", s, s.nodes[0], 5);
    auto has = [&](const std::string& a) {
        return std::find(argv.begin(), argv.end(), a) != argv.end();
    };
    EXPECT_EQ(argv.front(), "/usr/bin/ssh");
    EXPECT_TRUE(has("none"));
    EXPECT_TRUE(has("BatchMode=yes"));
    EXPECT_TRUE(has("StrictHostKeyChecking=yes"));
    EXPECT_TRUE(has("UserKnownHostsFile=/home/alice/.ssh/known_hosts"));
    EXPECT_TRUE(has("ConnectTimeout=5"));
    // Checked under the alias: the cluster CA is trusted for node-*.
    EXPECT_TRUE(has("HostKeyAlias=node-0"));
    EXPECT_TRUE(has("/home/alice/.ssh/id_ed25519"));
    EXPECT_TRUE(has("4000"));
    EXPECT_TRUE(has("alice"));
    ASSERT_GE(argv.size(), 3u);
    EXPECT_EQ(argv[argv.size() - 3], "--");
    EXPECT_EQ(argv[argv.size() - 2], "127.0.0.1");
    EXPECT_EQ(argv.back(), "true");
}

TEST(wait_command, missing_state_is_a_usage_error) {
    EXPECT_EQ(cluster::wait_command({"--state", "/nonexistent/sshboot-cluster", "--timeout", "0"}),
              2);
    EXPECT_EQ(cluster::wait_command({"--timeout", "soon"}), 2);
    EXPECT_EQ(cluster::wait_command({"--help"}), 0);
}

TEST(wait_command, names_a_refused_node_with_the_real_ssh_client) {
    if (::access("/usr/bin/ssh", X_OK) != 0) {
        GTEST_SKIP() << "no ssh client";
    }
    // A port nobody listens on: bound, not listening, then closed.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const auto port = ntohs(addr.sin_port);
    ::close(fd);

    char tmpl[] = "/tmp/sshboot-wait-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    cluster::ClusterState s{0, "root", dir + "/id", dir + "/known_hosts", {{0, "127.0.0.1", port}}};
    { std::ofstream(dir + "/state") << cluster::render_state(s); }
    testing::internal::CaptureStdout();
    const int code = cluster::wait_command({"--state", dir + "/state", "--timeout", "0"});
    const std::string out = testing::internal::GetCapturedStdout();
    std::filesystem::remove_all(dir);
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("node-0 (127.0.0.1:" + std::to_string(port) + "): connection refused"),
              std::string::npos)
        << out;
}
