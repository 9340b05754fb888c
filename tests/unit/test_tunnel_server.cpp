#include <gtest/gtest.h>

#include "cli/settings.hpp"
#include "report/connect.hpp"
#include "tunnel/http_policy.hpp"

using namespace sshboot;
using tunnel::Route;

namespace {

Route route(std::string_view method, std::string_view target, bool upgrade,
            std::string_view authorization = "", std::string_view token = "") {
    return tunnel::route_request({method, target, upgrade, authorization}, token);
}

report::ConnectInput tunnel_input() {
    report::ConnectInput in;
    in.user = "root";
    in.alias = "pod1";
    in.host_keys = {{"ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIDx", "SHA256:abc", 256}};
    in.tunnel_port = 8022;
    in.tunnel_url = "wss://pod1-8022.proxy.runpod.net/ssh";
    return in;
}

}  // namespace

TEST(route_request, upgrade_on_ssh_is_a_tunnel) {
    EXPECT_EQ(route("GET", "/ssh", true), Route::Tunnel);
    EXPECT_EQ(route("GET", "/ssh?x=1", true), Route::Tunnel);
    EXPECT_EQ(route("GET", "/ssh", false), Route::UpgradeRequired);
    EXPECT_EQ(route("HEAD", "/ssh", true), Route::UpgradeRequired);
}

TEST(route_request, page_404_and_methods) {
    EXPECT_EQ(route("GET", "/", false), Route::Page);
    EXPECT_EQ(route("HEAD", "/", false), Route::Page);
    EXPECT_EQ(route("GET", "/index.html", false), Route::Page);
    EXPECT_EQ(route("GET", "/ssh/", true), Route::NotFound);
    EXPECT_EQ(route("GET", "/nope", false), Route::NotFound);
    EXPECT_EQ(route("GET", "", false), Route::NotFound);
    EXPECT_EQ(route("POST", "/ssh", true), Route::MethodNotAllowed);
}

TEST(route_request, token_needed_when_set) {
    EXPECT_EQ(route("GET", "/ssh", true, "", "s3cret"), Route::Unauthorized);
    EXPECT_EQ(route("GET", "/ssh", true, "Bearer wrong", "s3cret"), Route::Unauthorized);
    EXPECT_EQ(route("GET", "/ssh", true, "Bearer s3cret", "s3cret"), Route::Tunnel);
    // The page needs no token: it holds nothing secret.
    EXPECT_EQ(route("GET", "/", false, "", "s3cret"), Route::Page);
}

TEST(bearer_matches, scheme_and_spaces) {
    EXPECT_TRUE(tunnel::bearer_matches("Bearer abc", "abc"));
    EXPECT_TRUE(tunnel::bearer_matches("bearer   abc  ", "abc"));
    EXPECT_TRUE(tunnel::bearer_matches("BEARER\tabc", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Bearerabc", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Basic abc", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Bearer abcd", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Bearer ab", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Bearer ", "abc"));
    EXPECT_FALSE(tunnel::bearer_matches("Bearer abc", ""));
}

TEST(constant_time_equal, equal_only_when_equal) {
    EXPECT_TRUE(tunnel::constant_time_equal("", ""));
    EXPECT_TRUE(tunnel::constant_time_equal("abc", "abc"));
    EXPECT_FALSE(tunnel::constant_time_equal("abc", "abd"));
    EXPECT_FALSE(tunnel::constant_time_equal("abc", ""));
    EXPECT_FALSE(tunnel::constant_time_equal("", "abc"));
    EXPECT_FALSE(tunnel::constant_time_equal("abcabc", "abc"));
}

TEST(prefers_html, browsers_yes_curl_no) {
    EXPECT_TRUE(
        tunnel::prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
    EXPECT_FALSE(tunnel::prefers_html("*/*"));
    EXPECT_FALSE(tunnel::prefers_html(""));
    EXPECT_FALSE(tunnel::prefers_html("text/plain, text/html;q=0.5"));
    EXPECT_FALSE(tunnel::prefers_html("text/html;q=0"));
    EXPECT_TRUE(tunnel::prefers_html("TEXT/HTML ; Q=1.0"));
    EXPECT_FALSE(tunnel::prefers_html("text/html;q=2"));
}

TEST(render_page_html, escapes_the_text) {
    const auto html = tunnel::render_page_html("a <b> & \"c\"");
    EXPECT_NE(html.find("a &lt;b&gt; &amp; &quot;c&quot;"), std::string::npos);
    EXPECT_NE(html.find("<pre>"), std::string::npos);
}

TEST(normalize_public_url, schemes_and_default_path) {
    EXPECT_EQ(*tunnel::normalize_public_url("https://h.example.com"), "wss://h.example.com/ssh");
    EXPECT_EQ(*tunnel::normalize_public_url("http://h:8080/"), "ws://h:8080/ssh");
    EXPECT_EQ(*tunnel::normalize_public_url("wss://h/a/ssh"), "wss://h/a/ssh");
    EXPECT_EQ(*tunnel::normalize_public_url("WS://127.0.0.1:9/ssh"), "ws://127.0.0.1:9/ssh");
}

TEST(normalize_public_url, refuses_what_is_unsafe) {
    for (const char* bad : {"h.example.com", "ftp://h/ssh", "wss://h/ssh;rm", "wss://h/$(id)",
                            "wss://h/ssh?x=1&y", "wss://h:0/ssh", "wss://:80/ssh", "wss:///ssh",
                            "wss://h/ a", "wss://[::1]/ssh", "wss://h/ssh'"}) {
        auto url = tunnel::normalize_public_url(bad);
        EXPECT_FALSE(url) << bad;
        if (!url) {
            EXPECT_NE(url.error().message.find("SSHBOOT_TUNNEL_URL"), std::string::npos);
        }
    }
}

TEST(runpod_tunnel_url, from_pod_id_and_port) {
    EXPECT_EQ(*tunnel::runpod_tunnel_url("AbC123", 8022), "wss://abc123-8022.proxy.runpod.net/ssh");
    EXPECT_FALSE(tunnel::runpod_tunnel_url("a b", 8022));
    EXPECT_FALSE(tunnel::runpod_tunnel_url("", 8022));
}

TEST(decode_serve_config, round_trip) {
    tunnel::ServeConfig c;
    c.ssh_port = 2222;
    c.token = "tok\nwith newline";
    c.ping_seconds = 7;
    c.max_tunnels = 3;
    c.verbose = true;
    c.page_text = "line 1\nline 2\n";
    auto back = tunnel::decode_serve_config(tunnel::encode_serve_config(c));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->ssh_port, 2222);
    EXPECT_EQ(back->token, c.token);
    EXPECT_EQ(back->ping_seconds, 7);
    EXPECT_EQ(back->max_tunnels, 3);
    EXPECT_TRUE(back->verbose);
    EXPECT_EQ(back->page_text, c.page_text);
}

TEST(decode_serve_config, refuses_bad_framing) {
    EXPECT_FALSE(tunnel::decode_serve_config("token 5\nab\n"));
    EXPECT_FALSE(tunnel::decode_serve_config("token -1\n\n"));
    EXPECT_FALSE(tunnel::decode_serve_config("token"));
    EXPECT_FALSE(tunnel::decode_serve_config("nope 0\n\n"));
    EXPECT_FALSE(tunnel::decode_serve_config("ssh_port 1\n0\n"));
    EXPECT_FALSE(tunnel::decode_serve_config("ping 1\n0\n"));
    EXPECT_TRUE(tunnel::decode_serve_config(""));
}

TEST(parse_settings, tunnel_variables) {
    auto s = cli::parse_settings({},
                                 {{"SSHBOOT_TUNNEL_PORT", "8022"},
                                  {"SSHBOOT_TUNNEL_URL", "https://x.example.com"},
                                  {"SSHBOOT_TUNNEL_PING", "10"},
                                  {"SSHBOOT_TUNNEL_MAX", "5"},
                                  {"SSHBOOT_TUNNEL_TOKEN", "abc"}},
                                 false);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->tunnel_enabled());
    EXPECT_EQ(s->tunnel_port, 8022);
    EXPECT_EQ(s->tunnel_url, "wss://x.example.com/ssh");
    EXPECT_EQ(s->tunnel_ping_seconds, 10);
    EXPECT_EQ(s->tunnel_max, 5);
    EXPECT_EQ(s->tunnel_token, "abc");
    auto flag =
        cli::parse_settings({"--tunnel-port", "9000"}, {{"SSHBOOT_TUNNEL_PORT", "8022"}}, false);
    ASSERT_TRUE(flag);
    EXPECT_EQ(flag->tunnel_port, 9000);
    auto off = cli::parse_settings({}, {}, false);
    ASSERT_TRUE(off);
    EXPECT_FALSE(off->tunnel_enabled());
    EXPECT_EQ(off->tunnel_ping_seconds, 25);
    EXPECT_EQ(off->tunnel_max, 64);
}

TEST(parse_settings, tunnel_errors_name_the_variable) {
    const std::vector<std::pair<cli::Environment, std::string>> cases = {
        {{{"SSHBOOT_TUNNEL_PORT", "http"}}, "SSHBOOT_TUNNEL_PORT"},
        {{{"SSHBOOT_TUNNEL_PORT", "22"}}, "SSH_PORT too"},
        {{{"SSHBOOT_TUNNEL_PING", "0"}}, "SSHBOOT_TUNNEL_PING"},
        {{{"SSHBOOT_TUNNEL_MAX", "x"}}, "SSHBOOT_TUNNEL_MAX"},
        {{{"SSHBOOT_TUNNEL_URL", "wss://h/$(id)"}}, "SSHBOOT_TUNNEL_URL"},
        {{{"SSHBOOT_TUNNEL_TOKEN", "a"}, {"SSHBOOT_TUNNEL_TOKEN_FILE", "/t"}}, "one way"},
        {{{"SSHBOOT_TUNNEL_TOKEN_FILE", "rel"}}, "absolute"},
        {{{"SSHBOOT_TUNNEL_TOKEN", "a b"}}, "SSHBOOT_TUNNEL_TOKEN"},
    };
    for (const auto& [env, expected] : cases) {
        auto s = cli::parse_settings({}, env, false);
        ASSERT_FALSE(s) << expected;
        EXPECT_NE(s.error().message.find(expected), std::string::npos) << s.error().message;
    }
}

TEST(render_tunnel_section, config_block_known_hosts_websocat) {
    auto in = tunnel_input();
    in.endpoint = {"1.2.3.4", 40022, "RunPod"};
    const auto text = report::render_tunnel_section(in);
    EXPECT_NE(text.find("Host pod1-tunnel\n"), std::string::npos);
    EXPECT_NE(text.find("    HostKeyAlias pod1\n"), std::string::npos);
    EXPECT_NE(text.find("    ProxyCommand sshboot tunnel wss://pod1-8022.proxy.runpod.net/ssh\n"),
              std::string::npos);
    EXPECT_NE(text.find("pod1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx\n"), std::string::npos);
    EXPECT_NE(text.find("ProxyCommand websocat --binary wss://pod1-8022"), std::string::npos);
    EXPECT_EQ(text.find("token"), std::string::npos);
    in.tunnel_token = true;
    EXPECT_NE(report::render_tunnel_section(in).find("SSHBOOT_TUNNEL_TOKEN"), std::string::npos);
    in.tunnel_port = 0;
    EXPECT_EQ(report::render_tunnel_section(in), "");
}

TEST(render_tunnel_section, without_url_says_how_to_get_one) {
    auto in = tunnel_input();
    in.tunnel_url.clear();
    const auto text = report::render_tunnel_section(in);
    EXPECT_NE(text.find("SSHBOOT_TUNNEL_URL"), std::string::npos);
    EXPECT_EQ(text.find("ProxyCommand"), std::string::npos);
}

TEST(render_report, tunnel_is_the_way_in_without_an_endpoint) {
    report::ReportInput input;
    input.connect = tunnel_input();
    input.sources.internal_port = 22;
    input.local_address = "10.0.0.5";
    auto text = report::render_report(input);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"), std::string::npos);
    EXPECT_NE(text->find("The HTTPS tunnel needs no public IP"), std::string::npos);
    EXPECT_NE(text->find("Host pod1\n"), std::string::npos);
    EXPECT_NE(
        text->find("\"    ProxyCommand sshboot tunnel wss://pod1-8022.proxy.runpod.net/ssh\""),
        std::string::npos);
}

TEST(render_connect_block, one_paste_covers_the_tunnel) {
    auto in = tunnel_input();
    in.endpoint = {"1.2.3.4", 40022, "RunPod"};
    auto cmd = report::laptop_setup_command(in);
    ASSERT_TRUE(cmd);
    EXPECT_NE(cmd->find("\"Host pod1-tunnel\""), std::string::npos);
    EXPECT_NE(cmd->find("\"Host pod1\""), std::string::npos);
    auto block = report::render_connect_block(in);
    ASSERT_TRUE(block);
    EXPECT_NE(block->find("ProxyCommand sshboot tunnel"), std::string::npos);
}

TEST(render_tunnel_page, never_holds_the_password) {
    report::ReportInput input;
    input.connect = tunnel_input();
    input.connect.password = "generated-pw-123";
    input.sources.public_host = "1.2.3.4";
    input.sources.public_port = "40022";
    input.sources.internal_port = 22;
    auto page = report::render_tunnel_page(input);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->find("generated-pw-123"), std::string::npos);
    EXPECT_NE(page->find("ProxyCommand sshboot tunnel"), std::string::npos);
}
