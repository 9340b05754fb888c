#include <gtest/gtest.h>

#include "sshd/config.hpp"
#include "sshd/listen.hpp"

using namespace sshboot;

namespace {

sshd::ConfigParams base_params() {
    sshd::ConfigParams p;
    p.port = 2222;
    p.host_key_paths = {"/var/lib/sshboot/ssh_host_ed25519_key"};
    return p;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST(render_config, key_only_by_default) {
    auto c = sshd::render_config(base_params());
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "Port 2222"));
    EXPECT_TRUE(has_line(*c, "HostKey /var/lib/sshboot/ssh_host_ed25519_key"));
    EXPECT_TRUE(has_line(*c, "PermitRootLogin prohibit-password"));
    EXPECT_TRUE(has_line(*c, "PasswordAuthentication no"));
    EXPECT_TRUE(has_line(*c, "KbdInteractiveAuthentication no"));
    EXPECT_TRUE(has_line(*c, "PermitEmptyPasswords no"));
    EXPECT_TRUE(has_line(*c, "UsePAM no"));
    EXPECT_TRUE(has_line(*c, "Subsystem sftp internal-sftp"));
    EXPECT_TRUE(has_line(*c, "AllowTcpForwarding yes"));
    EXPECT_TRUE(has_line(*c, "ClientAliveInterval 30"));
    EXPECT_TRUE(has_line(*c, "Include /etc/sshboot/sshd_config.d/*.conf"));
}

TEST(render_config, drop_ins_come_before_sshboot_settings) {
    auto c = sshd::render_config(base_params());
    ASSERT_TRUE(c);
    EXPECT_LT(c->find("Include "), c->find("Port "));
}

TEST(render_config, every_host_key_gets_a_line) {
    auto p = base_params();
    p.host_key_paths.push_back("/s/ssh_host_rsa_key");
    auto c = sshd::render_config(p);
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "HostKey /s/ssh_host_rsa_key"));
}

TEST(render_config, pam_when_the_image_has_it) {
    auto p = base_params();
    p.use_pam = true;
    EXPECT_TRUE(has_line(*sshd::render_config(p), "UsePAM yes"));
}

TEST(render_config, root_password_login_only_when_asked_for) {
    auto p = base_params();
    p.password_authentication = true;
    auto c = sshd::render_config(p);
    EXPECT_TRUE(has_line(*c, "PasswordAuthentication yes"));
    EXPECT_TRUE(has_line(*c, "PermitRootLogin prohibit-password"));
    p.root_password_login = true;
    EXPECT_TRUE(has_line(*sshd::render_config(p), "PermitRootLogin yes"));
}

TEST(render_config, refuses_a_path_that_would_inject_a_line) {
    auto p = base_params();
    p.host_key_paths = {"/x\nPermitEmptyPasswords yes"};
    EXPECT_FALSE(sshd::render_config(p));
    p.host_key_paths = {"/a b"};
    EXPECT_FALSE(sshd::render_config(p));
    p.host_key_paths = {};
    EXPECT_FALSE(sshd::render_config(p));
}

TEST(parse_listening, keeps_listen_rows_with_port_and_inode) {
    const std::string text =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 12345 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:0016 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        "
        "0 999 1 0000000000000000 20 4 30 10 -1\n";
    auto rows = sshd::parse_listening(text);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].port, 2222);
    EXPECT_EQ(rows[0].inode, 12345u);
}

TEST(parse_listening, handles_ipv6_rows_and_garbage) {
    const std::string text =
        "header\n"
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n"
        "garbage line\n";
    auto rows = sshd::parse_listening(text);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].port, 22);
    EXPECT_EQ(rows[0].inode, 777u);
}
