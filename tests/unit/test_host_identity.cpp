#include <gtest/gtest.h>

#include "report/connect.hpp"
#include "sshd/config.hpp"

using namespace sshboot;

TEST(render_connect_block, config_block_sets_host_key_alias_with_a_matching_known_hosts_line) {
    report::ConnectInput in;
    in.user = "root";
    in.endpoint = {"1.2.3.4", 40022, "RunPod"};
    in.host_keys = {{"ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIA", "SHA256:abc", 256}};
    in.alias = "abc123xyz";
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    EXPECT_NE(block->find("    Host abc123xyz\n"), std::string::npos);
    EXPECT_NE(block->find("        HostName 1.2.3.4\n"), std::string::npos);
    EXPECT_NE(block->find("        Port 40022\n"), std::string::npos);
    EXPECT_NE(block->find("        HostKeyAlias abc123xyz\n"), std::string::npos);
    EXPECT_NE(block->find("        ServerAliveInterval 30\n"), std::string::npos);
    // Both known_hosts lines: by [host]:port for the plain command, by alias
    // for the config block.
    EXPECT_NE(block->find("\n[1.2.3.4]:40022 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"),
              std::string::npos);
    EXPECT_NE(block->find("\nabc123xyz ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"),
              std::string::npos);
}

TEST(render_config, carries_one_set_env_line) {
    sshd::ConfigParams p;
    p.host_key_paths = {"/var/lib/sshboot/ssh_host_ed25519_key"};
    p.set_env = R"(SetEnv "A=1" "B=x \"y\"")";
    auto config = sshd::render_config(p);
    ASSERT_TRUE(config);
    EXPECT_NE(config->find("\nSetEnv \"A=1\" \"B=x \\\"y\\\"\"\n"), std::string::npos);

    p.set_env.clear();
    config = sshd::render_config(p);
    ASSERT_TRUE(config);
    EXPECT_EQ(config->find("SetEnv \""), std::string::npos);

    p.set_env = "SetEnv A=1\nPermitRootLogin yes";
    EXPECT_FALSE(sshd::render_config(p));
    p.set_env = "PermitRootLogin yes";
    EXPECT_FALSE(sshd::render_config(p));
}
