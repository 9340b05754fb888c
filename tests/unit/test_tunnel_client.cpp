#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tunnel/client.hpp"
#include "tunnel/url.hpp"

namespace sshboot::tunnel {
namespace {

TunnelUrl parse_ok(const std::string& text) {
    auto url = parse_tunnel_url(text);
    EXPECT_TRUE(url.has_value()) << text << ": " << (url ? "" : url.error().message);
    return url ? *url : TunnelUrl{};
}

std::string parse_error(const std::string& text) {
    auto url = parse_tunnel_url(text);
    EXPECT_FALSE(url.has_value()) << text;
    return url ? "" : url.error().message;
}

TEST(tunnel_url, wss_and_https_mean_tls_on_port_443) {
    for (const char* text :
         {"wss://pod-8080.proxy.example.net/ssh", "https://pod-8080.proxy.example.net/ssh",
          "WSS://pod-8080.proxy.example.net/ssh"}) {
        const auto url = parse_ok(text);
        EXPECT_TRUE(url.tls) << text;
        EXPECT_EQ(url.port, 443) << text;
        EXPECT_EQ(url.host, "pod-8080.proxy.example.net") << text;
        EXPECT_EQ(url.target, "/ssh") << text;
    }
}

TEST(tunnel_url, ws_and_http_mean_plain_on_port_80) {
    for (const char* text : {"ws://example.net/ssh", "http://example.net/ssh"}) {
        const auto url = parse_ok(text);
        EXPECT_FALSE(url.tls) << text;
        EXPECT_EQ(url.port, 80) << text;
    }
}

TEST(tunnel_url, path_defaults_to_ssh_and_query_is_kept) {
    EXPECT_EQ(parse_ok("wss://h").target, "/ssh");
    EXPECT_EQ(parse_ok("wss://h/").target, "/");
    EXPECT_EQ(parse_ok("wss://h?x=1").target, "/ssh?x=1");
    EXPECT_EQ(parse_ok("wss://h/proxy/8080/ssh?x=1").target, "/proxy/8080/ssh?x=1");
}

TEST(tunnel_url, port_and_ipv6_literals) {
    auto url = parse_ok("wss://127.0.0.1:8443/ssh");
    EXPECT_EQ(url.host, "127.0.0.1");
    EXPECT_EQ(url.port, 8443);
    url = parse_ok("ws://[::1]:9000/ssh");
    EXPECT_EQ(url.host, "::1");
    EXPECT_EQ(url.port, 9000);
    url = parse_ok("wss://[::1]");
    EXPECT_EQ(url.port, 443);
    EXPECT_EQ(authority("::1", 9000), "[::1]:9000");
    EXPECT_EQ(authority("example.net", 443), "example.net:443");
}

TEST(tunnel_url, bad_urls_are_refused_with_what_to_write) {
    EXPECT_NE(parse_error("").find("wss://HOST/ssh"), std::string::npos);
    EXPECT_NE(parse_error("example.net/ssh").find("no scheme"), std::string::npos);
    EXPECT_NE(parse_error("ftp://example.net/ssh").find("use wss://"), std::string::npos);
    EXPECT_NE(parse_error("wss://user:pw@example.net/ssh").find("--token"), std::string::npos);
    EXPECT_NE(parse_error("wss://example.net:0/ssh").find("port"), std::string::npos);
    EXPECT_NE(parse_error("wss://example.net:70000/ssh").find("port"), std::string::npos);
    EXPECT_NE(parse_error("wss://example.net:x/ssh").find("port"), std::string::npos);
    EXPECT_NE(parse_error("wss://::1/ssh").find("brackets"), std::string::npos);
    EXPECT_NE(parse_error("wss://[::1/ssh").find("]"), std::string::npos);
    EXPECT_NE(parse_error("wss:///ssh").find("no host"), std::string::npos);
    EXPECT_NE(parse_error("wss://exa mple/ssh").find("spaces"), std::string::npos);
    EXPECT_NE(parse_error("wss://h/ssh#x").find("fragment"), std::string::npos);
    EXPECT_NE(parse_error("wss://h\x1b[2J/ssh").find("control"), std::string::npos);
    EXPECT_NE(parse_error("wss://h$(id)/ssh").find("invalid host"), std::string::npos);
}

TEST(proxy_url, host_port_and_credentials) {
    auto proxy = parse_proxy_url("http://proxy.corp:3128");
    ASSERT_TRUE(proxy.has_value());
    EXPECT_EQ(proxy->host, "proxy.corp");
    EXPECT_EQ(proxy->port, 3128);
    EXPECT_FALSE(proxy->has_credentials);

    proxy = parse_proxy_url("proxy.corp");
    ASSERT_TRUE(proxy.has_value());
    EXPECT_EQ(proxy->port, 1080);

    proxy = parse_proxy_url("http://alice:p%40ss%3Aword@10.0.0.1:8080/");
    ASSERT_TRUE(proxy.has_value());
    EXPECT_TRUE(proxy->has_credentials);
    EXPECT_EQ(proxy->user, "alice");
    EXPECT_EQ(proxy->password, "p@ss:word");
    EXPECT_EQ(proxy->host, "10.0.0.1");
}

TEST(proxy_url, unsupported_proxies_are_refused_without_echoing_credentials) {
    EXPECT_FALSE(parse_proxy_url("socks5://proxy:1080").has_value());
    EXPECT_FALSE(parse_proxy_url("https://proxy:443").has_value());
    EXPECT_FALSE(parse_proxy_url("http://proxy:3128/path").has_value());
    auto bad = parse_proxy_url("http://alice:s3cr%zzet@proxy:3128");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message.find("s3cr"), std::string::npos) << bad.error().message;
}

TEST(connect_request, names_the_target_and_sends_basic_auth) {
    ProxyUrl proxy;
    EXPECT_EQ(connect_request("example.net", 443, proxy),
              "CONNECT example.net:443 HTTP/1.1\r\nHost: example.net:443\r\n\r\n");
    proxy.has_credentials = true;
    proxy.user = "Aladdin";
    proxy.password = "open sesame";
    EXPECT_EQ(connect_request("::1", 8443, proxy),
              "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"
              "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST(no_proxy, names_suffixes_ports_and_star) {
    EXPECT_TRUE(no_proxy_matches("example.net", "example.net", 443));
    EXPECT_TRUE(no_proxy_matches("example.net", "pod.example.net", 443));
    EXPECT_TRUE(no_proxy_matches(".example.net", "pod.example.net", 443));
    EXPECT_TRUE(no_proxy_matches(".example.net", "example.net", 443));
    EXPECT_FALSE(no_proxy_matches("example.net", "badexample.net", 443));
    EXPECT_TRUE(no_proxy_matches("localhost, 127.0.0.1", "127.0.0.1", 8443));
    EXPECT_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.10", 8443));
    EXPECT_FALSE(no_proxy_matches("0.0.1", "127.0.0.1", 443));
    EXPECT_TRUE(no_proxy_matches("example.net:443", "example.net", 443));
    EXPECT_FALSE(no_proxy_matches("example.net:8443", "example.net", 443));
    EXPECT_TRUE(no_proxy_matches("[::1]:443", "::1", 443));
    EXPECT_TRUE(no_proxy_matches("::1", "::1", 443));
    EXPECT_TRUE(no_proxy_matches("*", "anything", 1));
    EXPECT_TRUE(no_proxy_matches("EXAMPLE.NET", "Pod.Example.Net", 1));
    EXPECT_FALSE(no_proxy_matches("", "example.net", 443));
    EXPECT_FALSE(no_proxy_matches(",,", "example.net", 443));
}

TEST(proxy_for, picks_the_variable_for_the_scheme_and_honours_no_proxy) {
    const auto tls = parse_ok("wss://pod.example.net/ssh");
    const auto plain = parse_ok("ws://pod.example.net/ssh");
    EXPECT_FALSE(proxy_for({}, tls).has_value());
    EnvLookup env{{"HTTPS_PROXY", "http://p:1"}, {"http_proxy", "http://q:2"}};
    ASSERT_TRUE(proxy_for(env, tls).has_value());
    EXPECT_EQ(proxy_for(env, tls)->variable, "HTTPS_PROXY");
    EXPECT_EQ(proxy_for(env, plain)->value, "http://q:2");
    env["https_proxy"] = "http://lower:3";
    EXPECT_EQ(proxy_for(env, tls)->value, "http://lower:3");
    EXPECT_EQ(proxy_for(EnvLookup{{"ALL_PROXY", "http://all:4"}}, tls)->variable, "ALL_PROXY");
    EXPECT_EQ(proxy_for(EnvLookup{{"HTTPS_PROXY", ""}}, tls), std::nullopt);
    env["NO_PROXY"] = "example.net";
    EXPECT_FALSE(proxy_for(env, tls).has_value());
    env["no_proxy"] = "other.org";  // the lower-case one wins, as curl reads it
    EXPECT_TRUE(proxy_for(env, tls).has_value());
}

TEST(hosts_file, lookup_reads_names_and_aliases_and_skips_junk) {
    const std::string hosts =
        "# comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n"
        "10.1.2.3 pod pod.local # trailing\nnot-an-ip pod\n\n 10.9.9.9 POD\r\n";
    EXPECT_EQ(hosts_file_lookup(hosts, "localhost"),
              (std::vector<std::string>{"127.0.0.1", "::1"}));
    EXPECT_EQ(hosts_file_lookup(hosts, "pod"), (std::vector<std::string>{"10.1.2.3", "10.9.9.9"}));
    EXPECT_EQ(hosts_file_lookup(hosts, "pod.local"), (std::vector<std::string>{"10.1.2.3"}));
    EXPECT_TRUE(hosts_file_lookup(hosts, "trailing").empty());
    EXPECT_TRUE(hosts_file_lookup(hosts, "").empty());
}

TEST(hosts_file, localhost_names_never_need_a_resolver) {
    EXPECT_TRUE(is_localhost_name("localhost"));
    EXPECT_TRUE(is_localhost_name("LOCALHOST."));
    EXPECT_TRUE(is_localhost_name("pod.localhost"));
    EXPECT_FALSE(is_localhost_name("localhost.example.net"));
    EXPECT_FALSE(is_localhost_name("notlocalhost"));
}

TEST(tunnel_client, ca_bundle_candidates_cover_the_common_distributions) {
    const auto paths = ca_bundle_candidates({});
    for (const char* path :
         {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
          "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"}) {
        EXPECT_NE(std::find(paths.begin(), paths.end(), path), paths.end()) << path;
    }
    EXPECT_EQ(ca_bundle_candidates({{"SSL_CERT_FILE", "/my/ca.pem"}}),
              (std::vector<std::string>{"/my/ca.pem"}));
}

TEST(tunnel_client, status_lines_say_what_to_do) {
    EXPECT_NE(status_message(401, "Unauthorized", "wss://h/ssh", false)
                  .find("the tunnel needs a token: --token"),
              std::string::npos);
    EXPECT_NE(status_message(401, "Unauthorized", "wss://h/ssh", true).find("refused the token"),
              std::string::npos);
    EXPECT_NE(status_message(404, "Not Found", "wss://h/x", false).find("/ssh"), std::string::npos);
    EXPECT_NE(status_message(502, "Bad Gateway", "wss://h/ssh", false).find("SSHBOOT_TUNNEL_PORT"),
              std::string::npos);
    const auto other = status_message(418, "I'm a \x1b[31mteapot", "wss://h/ssh", false);
    EXPECT_NE(other.find("HTTP 418"), std::string::npos);
    EXPECT_EQ(other.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace sshboot::tunnel
