#include "tunnel/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "util/base64.hpp"
#include "util/parse.hpp"

namespace sshboot::tunnel {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool has_control_or_space(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

struct HostPort {
    std::string host;
    std::optional<std::uint16_t> port;
};

// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; `what` names the input
// in messages.
util::Expected<HostPort> split_host_port(std::string_view text, std::string_view what) {
    HostPort out;
    std::string_view port_text;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return util::make_error(std::string(what) + ": an IPv6 address needs a closing ]");
        }
        out.host = std::string(text.substr(1, close - 1));
        ::in6_addr addr{};
        if (::inet_pton(AF_INET6, out.host.c_str(), &addr) != 1) {
            return util::make_error(std::string(what) + ": '" + util::printable(out.host) +
                                    "' in brackets is not an IPv6 address");
        }
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return util::make_error(std::string(what) + ": unexpected text after ]");
            }
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        const auto colon = text.rfind(':');
        if (colon != std::string_view::npos) {
            if (text.find(':') != colon) {
                return util::make_error(std::string(what) +
                                        ": write an IPv6 address in brackets, e.g. [::1]:443");
            }
            port_text = text.substr(colon + 1);
            has_port = true;
            text = text.substr(0, colon);
        }
        out.host = std::string(text);
    }
    if (out.host.empty()) {
        return util::make_error(std::string(what) + " has no host name");
    }
    if (has_port) {
        out.port = parse_port(port_text);
        if (!out.port) {
            return util::make_error(std::string(what) + ": port '" + util::printable(port_text) +
                                    "' is not a number from 1 to 65535");
        }
    }
    return out;
}

bool host_chars_ok(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == ':' || c == '%';
    });
}

}  // namespace

bool is_ip_literal(std::string_view host) {
    const std::string h(host);
    ::in_addr v4{};
    ::in6_addr v6{};
    return ::inet_pton(AF_INET, h.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &v6) == 1;
}

std::string authority(std::string_view host, std::uint16_t port) {
    std::string out;
    if (host.find(':') != std::string_view::npos) {
        out = "[" + std::string(host) + "]";
    } else {
        out = std::string(host);
    }
    return out + ":" + std::to_string(port);
}

util::Expected<TunnelUrl> parse_tunnel_url(std::string_view url) {
    const std::string shown = util::quoted_for_log(url);
    if (url.empty()) {
        return util::make_error("the tunnel URL is empty: give it as wss://HOST/ssh");
    }
    if (has_control_or_space(url)) {
        return util::make_error("the tunnel URL " + shown +
                                " contains spaces or control characters");
    }
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        return util::make_error("the tunnel URL " + shown +
                                " has no scheme: write it as wss://HOST/ssh");
    }
    const std::string scheme = lower(url.substr(0, sep));
    TunnelUrl out;
    if (scheme == "wss" || scheme == "https") {
        out.tls = true;
        out.port = 443;
    } else if (scheme == "ws" || scheme == "http") {
        out.tls = false;
        out.port = 80;
    } else {
        return util::make_error("the tunnel URL " + shown + " starts with '" +
                                util::printable(scheme) +
                                "://': use wss:// (or https://; ws:// and http:// without TLS)");
    }
    std::string_view rest = url.substr(sep + 3);
    if (rest.find('#') != std::string_view::npos) {
        return util::make_error("the tunnel URL " + shown +
                                " has a #fragment: leave it off (nothing after #)");
    }
    const auto path_start = rest.find_first_of("/?");
    std::string_view auth = rest.substr(0, path_start);
    std::string_view target =
        path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
    if (auth.find('@') != std::string_view::npos) {
        return util::make_error("the tunnel URL " + shown +
                                " contains user@ or a password: give a token with --token "
                                "(or SSHBOOT_TUNNEL_TOKEN) instead");
    }
    auto hp = split_host_port(auth, "the tunnel URL " + shown);
    if (!hp) {
        return hp.error();
    }
    if (!host_chars_ok(hp->host)) {
        return util::make_error("the tunnel URL " + shown + " has an invalid host name '" +
                                util::printable(hp->host) + "'");
    }
    out.host = hp->host;
    if (hp->port) {
        out.port = *hp->port;
    }
    if (target.empty()) {
        out.target = std::string(k_default_path);
    } else if (target.front() == '?') {
        out.target = std::string(k_default_path) + std::string(target);
    } else {
        out.target = std::string(target);
    }
    return out;
}

util::Expected<ProxyUrl> parse_proxy_url(std::string_view url) {
    const std::string shown = util::quoted_for_log(url);
    if (has_control_or_space(url)) {
        return util::make_error("the proxy URL " + shown +
                                " contains spaces or control characters");
    }
    std::string_view rest = url;
    const auto sep = url.find("://");
    if (sep != std::string_view::npos) {
        const std::string scheme = lower(url.substr(0, sep));
        if (scheme != "http") {
            return util::make_error("the proxy URL " + shown + " uses '" + util::printable(scheme) +
                                    "://': only http:// proxies (HTTP CONNECT) are supported");
        }
        rest = url.substr(sep + 3);
    }
    const auto slash = rest.find_first_of("/?#");
    if (slash != std::string_view::npos) {
        const auto tail = rest.substr(slash);
        if (tail != "/") {
            return util::make_error("the proxy URL " + shown +
                                    " has a path: give only http://HOST:PORT");
        }
        rest = rest.substr(0, slash);
    }
    ProxyUrl out;
    const auto at = rest.rfind('@');
    if (at != std::string_view::npos) {
        const auto userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = userinfo.find(':');
        auto user = percent_decode(userinfo.substr(0, colon));
        auto password = percent_decode(
            colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1));
        if (!user || !password) {
            // The message leaves the credentials out: they are secret.
            return util::make_error(
                "the proxy URL's user name or password has a bad %-escape (write %40 for @)");
        }
        out.user = std::move(*user);
        out.password = std::move(*password);
        out.has_credentials = true;
    }
    const std::string shown_host = util::quoted_for_log(rest);
    auto hp = split_host_port(rest, "the proxy address " + shown_host);
    if (!hp) {
        return hp.error();
    }
    if (!host_chars_ok(hp->host)) {
        return util::make_error("the proxy address " + shown_host + " has an invalid host name");
    }
    out.host = hp->host;
    if (hp->port) {
        out.port = *hp->port;
    }
    return out;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    const std::string h = lower(host);
    std::size_t pos = 0;
    while (pos <= no_proxy.size()) {
        auto end = no_proxy.find_first_of(", \t", pos);
        if (end == std::string_view::npos) {
            end = no_proxy.size();
        }
        std::string entry = lower(no_proxy.substr(pos, end - pos));
        pos = end + 1;
        if (entry.empty()) {
            continue;
        }
        if (entry == "*") {
            return true;
        }
        // An optional :port (after a bracketed IPv6 literal or a name / IPv4).
        std::optional<std::uint16_t> entry_port;
        if (entry.front() == '[') {
            const auto close = entry.find(']');
            if (close == std::string::npos) {
                continue;
            }
            if (close + 1 < entry.size() && entry[close + 1] == ':') {
                entry_port = parse_port(std::string_view(entry).substr(close + 2));
                if (!entry_port) {
                    continue;
                }
            }
            entry = entry.substr(1, close - 1);
        } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
            const auto colon = entry.find(':');
            entry_port = parse_port(std::string_view(entry).substr(colon + 1));
            if (!entry_port) {
                continue;
            }
            entry.resize(colon);
        }
        if (entry_port && *entry_port != port) {
            continue;
        }
        if (!entry.empty() && entry.front() == '.') {
            entry.erase(0, 1);
        }
        if (entry.empty()) {
            continue;
        }
        if (h == entry) {
            return true;
        }
        if (!is_ip_literal(h) && h.size() > entry.size() &&
            h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
            h[h.size() - entry.size() - 1] == '.') {
            return true;
        }
    }
    return false;
}

std::optional<ProxySetting> proxy_for(const EnvLookup& env, const TunnelUrl& url) {
    const auto get = [&](const char* name) -> std::optional<ProxySetting> {
        const auto it = env.find(name);
        if (it == env.end() || it->second.empty()) {
            return std::nullopt;
        }
        return ProxySetting{name, it->second};
    };
    std::optional<ProxySetting> found;
    const char* const tls_names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    const char* const plain_names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (const char* name : url.tls ? tls_names : plain_names) {
        if ((found = get(name))) {
            break;
        }
    }
    if (!found) {
        return std::nullopt;
    }
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
        if (const auto setting = get(name)) {
            if (no_proxy_matches(setting->value, url.host, url.port)) {
                return std::nullopt;
            }
            break;
        }
    }
    return found;
}

std::string connect_request(std::string_view host, std::uint16_t port, const ProxyUrl& proxy) {
    const std::string target = authority(host, port);
    std::string out = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
    if (proxy.has_credentials) {
        out += "Proxy-Authorization: Basic " +
               util::base64_encode(proxy.user + ":" + proxy.password) + "\r\n";
    }
    out += "\r\n";
    return out;
}

std::vector<std::string> hosts_file_lookup(std::string_view hosts_text, std::string_view name) {
    std::vector<std::string> out;
    const std::string wanted = lower(name);
    if (wanted.empty()) {
        return out;
    }
    std::size_t pos = 0;
    while (pos < hosts_text.size()) {
        auto end = hosts_text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = hosts_text.size();
        }
        std::string_view line = hosts_text.substr(pos, end - pos);
        pos = end + 1;
        if (const auto hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        std::vector<std::string_view> fields;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
                ++i;
            }
            const auto start = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
                ++i;
            }
            if (i > start) {
                fields.push_back(line.substr(start, i - start));
            }
        }
        if (fields.size() < 2 || !is_ip_literal(fields[0])) {
            continue;
        }
        for (std::size_t f = 1; f < fields.size(); ++f) {
            if (lower(fields[f]) == wanted) {
                const std::string addr(fields[0]);
                if (std::find(out.begin(), out.end(), addr) == out.end()) {
                    out.push_back(addr);
                }
                break;
            }
        }
    }
    return out;
}

bool is_localhost_name(std::string_view host) {
    std::string h = lower(host);
    if (!h.empty() && h.back() == '.') {
        h.pop_back();
    }
    constexpr std::string_view suffix = ".localhost";
    return h == "localhost" || (h.size() > suffix.size() &&
                                h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0);
}

}  // namespace sshboot::tunnel
