// The pure text side of `sshboot tunnel`: the tunnel URL, the proxy settings
// (HTTPS_PROXY / ALL_PROXY / NO_PROXY), /etc/hosts lookups and the CONNECT
// request. No I/O here; client.cpp does the network part.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace sshboot::tunnel {

// Where the tunnel is: wss:// and https:// mean TLS, ws:// and http:// plain.
struct TunnelUrl {
    bool tls = true;
    std::string host;  // as written, without the brackets of an IPv6 literal
    std::uint16_t port = 443;
    std::string target = "/ssh";  // path and query sent in the GET
};

// The path used when the URL has none (`wss://host` means `wss://host/ssh`).
inline constexpr std::string_view k_default_path = "/ssh";

// Parses `wss://host[:port][/path][?query]` (also ws://, https://, http://).
// Refuses user info, fragments, other schemes and bad ports with a message
// that says what to write instead.
util::Expected<TunnelUrl> parse_tunnel_url(std::string_view url);

// `host:port`, with brackets around an IPv6 literal: the form of a Host
// header and of a CONNECT request's target.
std::string authority(std::string_view host, std::uint16_t port);

// True when `host` is an IPv4 or IPv6 literal (no brackets).
bool is_ip_literal(std::string_view host);

// An HTTP proxy to CONNECT through: `http://[user[:password]@]host[:port]`
// (the scheme may be left off; the port defaults to 1080, as curl's does).
struct ProxyUrl {
    std::string host;
    std::uint16_t port = 1080;
    std::string user;  // percent-decoded
    std::string password;
    bool has_credentials = false;
};
util::Expected<ProxyUrl> parse_proxy_url(std::string_view url);

// True when NO_PROXY's value says `host` (port `port`) is reached directly:
// a comma- or space-separated list of names (`example.com` and `.example.com`
// both match the name and every name under it), IP literals, optional
// `:port`, or `*` for everything.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

// The environment variables sshboot tunnel reads, by name.
using EnvLookup = std::map<std::string, std::string>;

// Which proxy applies to `url`, if any: for TLS https_proxy, HTTPS_PROXY,
// then all_proxy, ALL_PROXY; for plain ws:// http_proxy, HTTP_PROXY, then the
// ALL_PROXY pair. The first non-empty one wins; NO_PROXY / no_proxy can then
// exempt the host. Returns the variable's name and value.
struct ProxySetting {
    std::string variable;
    std::string value;
};
std::optional<ProxySetting> proxy_for(const EnvLookup& env, const TunnelUrl& url);

// The request that asks an HTTP proxy for a tunnel to host:port, with
// Proxy-Authorization: Basic when the proxy URL carried credentials.
std::string connect_request(std::string_view host, std::uint16_t port, const ProxyUrl& proxy);

// Addresses an /etc/hosts text gives `name` (case-insensitive), in file
// order. Comments and malformed lines are skipped.
std::vector<std::string> hosts_file_lookup(std::string_view hosts_text, std::string_view name);

// True for `localhost` and names under `.localhost` (RFC 6761: always the
// loopback address, without asking any resolver).
bool is_localhost_name(std::string_view host);

}  // namespace sshboot::tunnel
