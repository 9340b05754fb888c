#include <gtest/gtest.h>

#include "cli/settings.hpp"

using namespace sshboot;

TEST(parse_settings, defaults_to_run_as_root_on_port_22) {
    auto s = cli::parse_settings({}, {}, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->command, cli::Command::Run);
    EXPECT_EQ(s->user, "root");
    EXPECT_EQ(s->port, 22);
    EXPECT_EQ(s->state_dir, "/var/lib/sshboot");
    EXPECT_TRUE(s->command_argv.empty());
}

TEST(parse_settings, state_dir_defaults_to_workspace_when_present) {
    auto s = cli::parse_settings({}, {}, true);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->state_dir, "/workspace/.sshboot");
}

TEST(parse_settings, reads_the_environment) {
    auto s = cli::parse_settings({},
                                 {{"SSH_PORT", "2222"},
                                  {"SSH_USER", "alice"},
                                  {"SSH_PUBLIC_KEY", "ssh-ed25519 AAAA"},
                                  {"RUNPOD_PUBLIC_IP", "1.2.3.4"},
                                  {"RUNPOD_TCP_PORT_22", "40022"},
                                  {"SSHBOOT_KEEP_ALIVE", "1"},
                                  {"SSHBOOT_STOP_TIMEOUT", "3"}},
                                 false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->port, 2222);
    EXPECT_EQ(s->user, "alice");
    EXPECT_EQ(s->ssh_public_key, "ssh-ed25519 AAAA");
    EXPECT_EQ(s->runpod_public_ip, "1.2.3.4");
    EXPECT_EQ(s->runpod_tcp_port_22, "40022");
    EXPECT_TRUE(s->keep_alive);
    EXPECT_EQ(s->stop_timeout_seconds, 3);
}

TEST(parse_settings, reads_the_platform_port_variables_for_ssh_port) {
    auto s = cli::parse_settings({},
                                 {{"SSH_PORT", "2310"},
                                  {"RUNPOD_TCP_PORT_2310", "40310"},
                                  {"RUNPOD_TCP_PORT_22", "40022"},
                                  {"VAST_TCP_PORT_2310", "41310"},
                                  {"VAST_TCP_PORT_22", "41022"}},
                                 false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->runpod_tcp_port, "40310");
    EXPECT_EQ(s->runpod_tcp_port_22, "40022");
    EXPECT_EQ(s->vast_tcp_port, "41310");
    EXPECT_EQ(s->vast_tcp_port_22, "41022");
    auto flag = cli::parse_settings({"--port=2310", "--runpod-tcp-port", "40999"},
                                    {{"RUNPOD_TCP_PORT_2310", "40310"}}, false);
    ASSERT_TRUE(flag);
    EXPECT_EQ(flag->runpod_tcp_port, "40999");
    // The variable follows the port in use.
    auto other = cli::parse_settings({"--port=2311"}, {{"RUNPOD_TCP_PORT_2310", "40310"}}, false);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->runpod_tcp_port, "");
}

TEST(parse_settings, help_lists_every_subcommand) {
    const auto help = cli::help_text();
    for (const char* command :
         {"sshboot [run]", "sshboot password", "sshboot check-key", "sshboot doctor",
          "sshboot cluster secret | wait", "sshboot --version | --help"}) {
        EXPECT_NE(help.find(command), std::string::npos) << command;
    }
}

TEST(parse_settings, a_flag_wins_over_its_variable) {
    auto s = cli::parse_settings({"--port", "2200", "--user=bob"},
                                 {{"SSH_PORT", "2222"}, {"SSH_USER", "alice"}}, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->port, 2200);
    EXPECT_EQ(s->user, "bob");
}

TEST(parse_settings, splits_command_after_double_dash) {
    auto s = cli::parse_settings({"run", "--port", "2200", "--", "python", "-c", "x"}, {}, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->command_argv, (std::vector<std::string>{"python", "-c", "x"}));
}

TEST(parse_settings, command_starts_at_the_first_non_option_word) {
    auto s = cli::parse_settings({"-v", "python", "train.py", "--port", "9"}, {}, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->command_argv, (std::vector<std::string>{"python", "train.py", "--port", "9"}));
    EXPECT_EQ(s->port, 22);
}

TEST(parse_settings, rejects_values_that_could_inject_config) {
    EXPECT_FALSE(cli::parse_settings({}, {{"SSH_PORT", "22\nPermitEmptyPasswords yes"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSH_PORT", "70000"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSH_PORT", "0"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSH_USER", "root\nPermitEmptyPasswords yes"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSHBOOT_STATE_DIR", "/a b"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSHBOOT_STATE_DIR", "relative"}}, false));
    EXPECT_FALSE(cli::parse_settings({}, {{"SSHBOOT_KEEP_ALIVE", "maybe"}}, false));
}

TEST(parse_settings, names_the_variable_in_errors) {
    auto s = cli::parse_settings({}, {{"SSH_PORT", "abc"}}, false);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("SSH_PORT"), std::string::npos);
}

TEST(parse_settings, unknown_option_is_an_error) {
    EXPECT_FALSE(cli::parse_settings({"--no-such-option"}, {}, false));
}

TEST(parse_settings, help_and_version) {
    EXPECT_EQ(cli::parse_settings({"--help"}, {}, false)->command, cli::Command::Help);
    EXPECT_EQ(cli::parse_settings({"--version"}, {}, false)->command, cli::Command::Version);
}

TEST(parse_settings, host_key_types_list) {
    auto s = cli::parse_settings({}, {{"SSH_HOST_KEY_TYPES", "ed25519, rsa"}}, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->host_key_types, (std::vector<std::string>{"ed25519", "rsa"}));
    auto algs = cli::parse_settings({}, {{"SSH_HOST_KEY_TYPES", "ssh-ed25519,RSA,rsa"}}, false);
    ASSERT_TRUE(algs);
    EXPECT_EQ(algs->host_key_types, (std::vector<std::string>{"ed25519", "rsa"}));
}

TEST(parse_settings, refuses_values_that_would_inject_a_config_line) {
    const std::pair<const char*, const char*> bad[] = {
        {"SSH_HOST_KEY_TYPES", "ed25519\nPermitEmptyPasswords yes"},
        {"SSH_HOST_KEY_TYPES", "dsa"},
        {"SSH_PORT", "22\nPermitEmptyPasswords yes"},
        {"SSH_PORT", "70000"},
        {"SSH_USER", "root\nPermitEmptyPasswords yes"},
        {"SSHBOOT_STATE_DIR", "/x\nPermitEmptyPasswords yes"},
        {"SSH_PUBLIC_HOST", "1.2.3.4\nPermitEmptyPasswords yes"},
        {"SSH_PUBLIC_HOST",
         "h\xc2\x9b"
         "2J"},  // a C1 CSI in UTF-8
        {"SSH_HOST_KEY_TYPES", "ed25519,\x1b]0;t\x07"},
    };
    for (const auto& [name, value] : bad) {
        auto s = cli::parse_settings({}, {{name, value}}, false);
        ASSERT_FALSE(s) << name;
        EXPECT_NE(
            s.error().message.find(name == std::string("SSH_PUBLIC_HOST") ? "external host" : name),
            std::string::npos)
            << s.error().message;
        EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << s.error().message;
        // Terminal controls are shown escaped, never raw.
        for (char c : s.error().message) {
            const auto u = static_cast<unsigned char>(c);
            EXPECT_TRUE(u >= 0x20 && u < 0x7f) << name << ": " << s.error().message;
        }
    }
}

TEST(is_valid_user_name, follows_useradd_rules) {
    EXPECT_TRUE(cli::is_valid_user_name("root"));
    EXPECT_TRUE(cli::is_valid_user_name("_svc-1"));
    EXPECT_FALSE(cli::is_valid_user_name("1abc"));
    EXPECT_FALSE(cli::is_valid_user_name("Root"));
    EXPECT_FALSE(cli::is_valid_user_name("a b"));
    EXPECT_FALSE(cli::is_valid_user_name(""));
    EXPECT_FALSE(cli::is_valid_user_name(std::string(33, 'a')));
}

TEST(help_text, lists_every_variable) {
    const auto help = cli::help_text();
    for (const char* v : {"SSH_PUBLIC_KEY", "PUBLIC_KEY_FILE", "SSH_PORT", "SSH_USER",
                          "SSHBOOT_STATE_DIR", "RUNPOD_PUBLIC_IP", "SSHBOOT_STOP_TIMEOUT"}) {
        EXPECT_NE(help.find(v), std::string::npos) << v;
    }
}

TEST(parse_settings, reads_the_cluster_variables) {
    const std::string secret = "sshboot-cluster-v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY";
    auto s = cli::parse_settings({},
                                 {{"SSHBOOT_CLUSTER_SECRET", secret + "\n"},
                                  {"SSHBOOT_CLUSTER_RANK", "1"},
                                  {"SSHBOOT_CLUSTER_HOSTS", "a:2201,b:2202"}},
                                 false);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->cluster_mode());
    EXPECT_EQ(s->cluster_secret, secret);
    EXPECT_EQ(s->cluster_rank, "1");
    EXPECT_EQ(s->cluster_hosts, "a:2201,b:2202");
    auto f = cli::parse_settings({"--cluster-secret-file", "/run/secrets/cluster"}, {}, false);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->cluster_mode());
    EXPECT_FALSE(cli::parse_settings({}, {}, false)->cluster_mode());
}

TEST(parse_settings, refuses_a_weak_cluster_secret_without_echoing_it) {
    auto s = cli::parse_settings({}, {{"SSHBOOT_CLUSTER_SECRET", "hunter2hunter2"}}, false);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("SSHBOOT_CLUSTER_SECRET"), std::string::npos);
    EXPECT_NE(s.error().message.find("sshboot cluster secret"), std::string::npos);
    EXPECT_EQ(s.error().message.find("hunter2"), std::string::npos);
}

TEST(parse_settings, cluster_rank_or_hosts_need_a_secret) {
    auto s = cli::parse_settings({}, {{"SSHBOOT_CLUSTER_HOSTS", "a,b"}}, false);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("SSHBOOT_CLUSTER_HOSTS"), std::string::npos);
    auto both =
        cli::parse_settings({"--cluster-secret-file", "/x"},
                            {{"SSHBOOT_CLUSTER_SECRET",
                              "sshboot-cluster-v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY"}},
                            false);
    EXPECT_FALSE(both);
    EXPECT_FALSE(cli::parse_settings({"--cluster-secret-file", "relative"}, {}, false));
}
