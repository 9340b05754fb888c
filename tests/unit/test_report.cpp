#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "report/connect.hpp"
#include "report/endpoint.hpp"

using namespace sshboot;

TEST(detect_endpoint, public_host_wins_over_platforms) {
    report::EndpointSources s;
    s.public_host = "example.org";
    s.public_port = "2200";
    s.runpod_public_ip = "1.2.3.4";
    s.runpod_tcp_port_22 = "40022";
    auto e = report::detect_endpoint(s);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "example.org");
    EXPECT_EQ(e->port, 2200);
}

TEST(detect_endpoint, runpod_then_vast) {
    report::EndpointSources s;
    s.runpod_public_ip = "1.2.3.4";
    s.runpod_tcp_port_22 = "40022";
    s.vast_public_ip = "5.6.7.8";
    s.vast_tcp_port_22 = "41000";
    EXPECT_EQ(report::detect_endpoint(s)->host, "1.2.3.4");
    EXPECT_EQ(report::detect_endpoint(s)->port, 40022);
    s.runpod_public_ip.clear();
    EXPECT_EQ(report::detect_endpoint(s)->host, "5.6.7.8");
    EXPECT_EQ(report::detect_endpoint(s)->port, 41000);
}

TEST(detect_endpoint, runpod_without_port_is_missing) {
    report::EndpointSources s;
    s.runpod_public_ip = "1.2.3.4";
    EXPECT_FALSE(report::detect_endpoint(s));
    EXPECT_FALSE(report::detect_endpoint(report::EndpointSources{}));
}

TEST(detect_endpoint, public_host_without_port_uses_internal_port) {
    report::EndpointSources s;
    s.public_host = "h";
    s.internal_port = 2222;
    EXPECT_EQ(report::detect_endpoint(s)->port, 2222);
}

TEST(missing_endpoint_message, says_what_is_missing_and_what_to_do) {
    const auto m = report::missing_endpoint_message(report::EndpointSources{});
    EXPECT_NE(m.find("RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"), std::string::npos);
    EXPECT_NE(m.find("Expose TCP Ports"), std::string::npos);
    EXPECT_NE(m.find("SSH_PUBLIC_HOST"), std::string::npos);
}

TEST(known_hosts_name, brackets_a_non_standard_port) {
    EXPECT_EQ(report::known_hosts_name("1.2.3.4", 22), "1.2.3.4");
    EXPECT_EQ(report::known_hosts_name("1.2.3.4", 40022), "[1.2.3.4]:40022");
}

TEST(render_connect_block, has_the_exact_command_alone_on_a_line) {
    report::ConnectInput in;
    in.user = "root";
    in.endpoint = {"1.2.3.4", 40022, "RunPod"};
    in.host_keys = {{"ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIA", "SHA256:abc", 256}};
    in.alias = "pod 1!";
    in.remote_dir = "/workspace/";
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    const std::regex command(R"(^\s*ssh root@1\.2\.3\.4 -p 40022$)");
    std::istringstream lines(*block);
    std::string line;
    int commands = 0;
    while (std::getline(lines, line)) {
        commands += std::regex_match(line, command) ? 1 : 0;
    }
    EXPECT_EQ(commands, 1);
    EXPECT_NE(block->find("scp -P 40022 ./file root@1.2.3.4:/workspace/"), std::string::npos);
    EXPECT_NE(block->find("sftp -P 40022 root@1.2.3.4"), std::string::npos);
    EXPECT_NE(block->find("rsync "), std::string::npos);
    EXPECT_NE(block->find("ssh -N -L 8888:localhost:8888"), std::string::npos);
    EXPECT_NE(block->find("256 SHA256:abc (ED25519)"), std::string::npos);
    EXPECT_NE(block->find("\n[1.2.3.4]:40022 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"),
              std::string::npos);
    EXPECT_NE(block->find("Host pod1\n"), std::string::npos);
    EXPECT_EQ(block->find("password"), std::string::npos);
}

TEST(render_connect_block, prints_a_generated_password_once) {
    report::ConnectInput in;
    in.user = "root";
    in.endpoint = {"h", 22, "x"};
    in.password = "Secret-Pass-123";
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    const auto first = block->find("Secret-Pass-123");
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(block->find("Secret-Pass-123", first + 1), std::string::npos);
}

TEST(detect_endpoint, reads_the_platform_variable_for_the_internal_port) {
    report::EndpointSources s;
    s.internal_port = 2310;
    s.runpod_public_ip = "1.2.3.4";
    s.runpod_tcp_port = "40310";
    s.runpod_tcp_port_22 = "40022";
    auto e = report::detect_endpoint(s);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port, 40310);
    EXPECT_EQ(report::endpoint_port_variable(s), "RUNPOD_TCP_PORT_2310");
    // RUNPOD_TCP_PORT_22 alone still works.
    s.runpod_tcp_port.clear();
    EXPECT_EQ(report::detect_endpoint(s)->port, 40022);
    EXPECT_EQ(report::endpoint_port_variable(s), "RUNPOD_TCP_PORT_22");
    report::EndpointSources v;
    v.internal_port = 2310;
    v.vast_public_ip = "5.6.7.8";
    v.vast_tcp_port = "41310";
    EXPECT_EQ(report::detect_endpoint(v)->port, 41310);
    EXPECT_EQ(report::endpoint_port_variable(v), "VAST_TCP_PORT_2310");
}

TEST(missing_endpoint_message, names_the_variable_for_the_internal_port) {
    report::EndpointSources s;
    s.internal_port = 2310;
    s.runpod_public_ip = "1.2.3.4";
    const auto m = report::missing_endpoint_message(s);
    EXPECT_NE(m.find("RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"), std::string::npos);
    EXPECT_NE(m.find("RUNPOD_PUBLIC_IP is set but RUNPOD_TCP_PORT_2310 is not"), std::string::npos);
}

namespace {

report::ConnectInput sample_input() {
    report::ConnectInput in;
    in.user = "root";
    in.endpoint = {"1.2.3.4", 40022, "RunPod"};
    in.host_keys = {{"ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIA", "SHA256:abc", 256}};
    in.alias = "pod1";
    in.remote_dir = "/workspace/";
    return in;
}

}  // namespace

TEST(render_report, without_an_endpoint_prints_the_host_identity_and_a_generated_password) {
    report::ReportInput r;
    r.connect = sample_input();
    r.connect.password = "Secret-Pass-123";
    r.sources.internal_port = 2222;
    r.local_address = "10.0.0.5";
    auto text = report::render_report(r);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"), std::string::npos);
    EXPECT_NE(text->find("\n    256 SHA256:abc (ED25519)\n"), std::string::npos);
    EXPECT_NE(text->find("\n    [10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"),
              std::string::npos);
    EXPECT_NE(text->find("\n    pod1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"), std::string::npos);
    const auto first = text->find("Secret-Pass-123");
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(text->find("Secret-Pass-123", first + 1), std::string::npos);
    // No line looks like the command that connects from outside.
    const std::regex command(R"(^\s*ssh [^ @]+@[^ ]+ -p [0-9]+$)");
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
        EXPECT_FALSE(std::regex_match(line, command)) << line;
    }
}

TEST(render_report, with_an_endpoint_is_the_connect_block) {
    report::ReportInput r;
    r.connect = sample_input();
    r.sources.runpod_public_ip = "1.2.3.4";
    r.sources.runpod_tcp_port_22 = "40022";
    auto text = report::render_report(r);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, *report::render_connect_block(sample_input()));
}

TEST(laptop_setup_command, is_one_sh_command_without_single_quotes_inside) {
    auto command = report::laptop_setup_command(sample_input());
    ASSERT_TRUE(command);
    const auto open = command->find("sh -c '");
    ASSERT_EQ(open, 4U);
    const auto close = command->find('\'', open + 7);
    EXPECT_EQ(close, command->size() - 2);  // the last character before the newline
    // Nothing the user's shell (sh, bash, zsh, fish) would read inside '...'.
    EXPECT_EQ(command->find("\\\\"), std::string::npos);
    EXPECT_EQ(command->find('!'), std::string::npos);
    EXPECT_NE(command->find("\"    HostName 1.2.3.4\""), std::string::npos);
    EXPECT_NE(command->find("\"pod1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\""), std::string::npos);
}

TEST(laptop_setup_command, is_not_offered_for_values_unsafe_in_a_shell) {
    auto in = sample_input();
    in.endpoint.host = "h$(reboot)";
    EXPECT_FALSE(report::laptop_setup_command(in));
    in = sample_input();
    in.endpoint.host = "it's";
    EXPECT_FALSE(report::laptop_setup_command(in));
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    EXPECT_EQ(block->find("sh -c"), std::string::npos);
}

TEST(config_block_lines, match_the_printed_config_block) {
    const auto in = sample_input();
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    std::string expected;
    for (const auto& line : report::config_block_lines(in)) {
        expected += "    " + line + "\n";
    }
    EXPECT_NE(block->find(expected), std::string::npos);
    EXPECT_EQ(report::config_block_lines(in).front(), "Host pod1");
}

TEST(is_valid_host, dns_names_and_ip_addresses_only) {
    for (const char* h :
         {"example.com", "node-1.cluster.local.", "a", "xn--bcher-kva.example", "my_host.internal",
          "1.2.3.4", "127.0.0.1", "::1", "2001:db8::1", "::ffff:1.2.3.4"}) {
        EXPECT_TRUE(report::is_valid_host(h)) << h;
    }
    for (const char* h : {"1.2.3.4;touch${IFS}/tmp/pwn",
                          "$(id).example.com",
                          "`id`",
                          "a b",
                          "a&&b",
                          "h|nc",
                          "h>x",
                          "a'b",
                          "a\"b",
                          "-oProxyCommand=sh",
                          "host\nname",
                          "",
                          ".",
                          "a..b",
                          "-a.com",
                          "a-.com",
                          "999.1.1.1",
                          "1.2.3",
                          "[::1]",
                          "fe80::1%eth0",
                          "::g",
                          "user@host",
                          "host:22",
                          "h\xc3\xa9.com"}) {
        EXPECT_FALSE(report::is_valid_host(h)) << h;
    }
    EXPECT_TRUE(report::is_valid_host(std::string(63, 'a') + ".com"));
    EXPECT_FALSE(report::is_valid_host(std::string(64, 'a') + ".com"));
}

TEST(validate_endpoint_sources, names_the_variable_that_is_not_a_host_or_a_port) {
    report::EndpointSources s;
    EXPECT_TRUE(report::validate_endpoint_sources(s, "RUNPOD_TCP_PORT_22", "VAST_TCP_PORT_22"));
    s.public_host = "1.2.3.4;touch${IFS}/tmp/pwn";
    auto st = report::validate_endpoint_sources(s, "RUNPOD_TCP_PORT_22", "VAST_TCP_PORT_22");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("SSH_PUBLIC_HOST"), std::string::npos);
    s.public_host = "example.com";
    s.runpod_tcp_port = "22;id";
    st = report::validate_endpoint_sources(s, "RUNPOD_TCP_PORT_2222", "VAST_TCP_PORT_2222");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("RUNPOD_TCP_PORT_2222"), std::string::npos);
    s.runpod_tcp_port = "";
    s.public_port = "0";
    EXPECT_FALSE(report::validate_endpoint_sources(s, "RUNPOD_TCP_PORT_22", "VAST_TCP_PORT_22"));
    s.public_port = "2222";
    s.vast_public_ip = "1.2.3.4 x";
    EXPECT_FALSE(report::validate_endpoint_sources(s, "RUNPOD_TCP_PORT_22", "VAST_TCP_PORT_22"));
}
