#include "tunnel/http_policy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "util/parse.hpp"

namespace sshboot::tunnel {
namespace {

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// The q value of one media range's parameters ("q=0.5"); 1 when absent,
// 0 when malformed.
double quality(std::string_view params) {
    double q = 1.0;
    while (!params.empty()) {
        const auto semi = params.find(';');
        const std::string_view param = trim(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
        if (param.size() >= 2 && lower(param[0]) == 'q' && param[1] == '=') {
            const std::string_view value = param.substr(2);
            // "0", "1", "0.xyz", "1.000": the grammar of RFC 9110's qvalue.
            if (value.empty() || (value[0] != '0' && value[0] != '1')) {
                return 0;
            }
            double v = value[0] == '1' ? 1.0 : 0.0;
            if (value.size() > 1) {
                if (value[1] != '.' || value.size() > 5) {
                    return 0;
                }
                double scale = 0.1;
                for (char c : value.substr(2)) {
                    if (!std::isdigit(static_cast<unsigned char>(c))) {
                        return 0;
                    }
                    v += (c - '0') * scale;
                    scale /= 10;
                }
            }
            q = std::min(v, 1.0);
        }
    }
    return q;
}

bool url_char_ok(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view(".-_~%/:").find(c) != std::string_view::npos;
}

bool host_label_ok(std::string_view label) {
    return !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-' &&
           std::all_of(label.begin(), label.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
           });
}

}  // namespace

std::string_view target_path(std::string_view target) {
    return target.substr(0, target.find_first_of("?#"));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Every byte of `a` is compared, whatever `b` holds: the time depends on
    // the lengths only.
    unsigned diff = a.size() == b.size() ? 0U : 1U;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const unsigned char x = static_cast<unsigned char>(a[i]);
        const unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
        diff |= static_cast<unsigned>(x ^ y);
    }
    return diff == 0;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
    if (token.empty()) {
        return false;
    }
    std::string_view value = trim(authorization);
    constexpr std::string_view k_scheme = "bearer";
    if (value.size() <= k_scheme.size() || !iequals(value.substr(0, k_scheme.size()), k_scheme) ||
        (value[k_scheme.size()] != ' ' && value[k_scheme.size()] != '\t')) {
        return false;
    }
    return constant_time_equal(token, trim(value.substr(k_scheme.size())));
}

Route route_request(const RequestView& request, std::string_view token) {
    if (request.method != "GET" && request.method != "HEAD") {
        return Route::MethodNotAllowed;
    }
    const std::string_view path = target_path(request.target);
    if (path == k_tunnel_path) {
        if (!request.websocket_upgrade || request.method != "GET") {
            return Route::UpgradeRequired;
        }
        if (!token.empty() && !bearer_matches(request.authorization, token)) {
            return Route::Unauthorized;
        }
        return Route::Tunnel;
    }
    if (path == "/" || path == "/index.html") {
        return Route::Page;
    }
    return Route::NotFound;
}

bool prefers_html(std::string_view accept) {
    double html = 0;
    double text = 0;
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        const std::string_view range = trim(accept.substr(0, comma));
        accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
        const auto semi = range.find(';');
        const std::string_view type = trim(range.substr(0, semi));
        const double q =
            quality(semi == std::string_view::npos ? std::string_view() : range.substr(semi + 1));
        if (iequals(type, "text/html") || iequals(type, "application/xhtml+xml")) {
            html = std::max(html, q);
        } else if (iequals(type, "text/plain")) {
            text = std::max(text, q);
        }
    }
    return html > 0 && html >= text;
}

std::string render_page_html(std::string_view text) {
    std::string out =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>SSH to this container</title></head>\n<body><pre>\n";
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out.push_back(c);
        }
    }
    out += "</pre></body></html>\n";
    return out;
}

util::Expected<std::string> normalize_public_url(std::string_view url) {
    const auto bad = [&](const std::string& why) {
        return util::make_error("SSHBOOT_TUNNEL_URL: " + util::quoted_for_log(url) + " " + why +
                                " (give the tunnel's public address, e.g. "
                                "wss://ssh.example.com/ssh)");
    };
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        return bad("is not a URL");
    }
    const std::string_view scheme = url.substr(0, sep);
    std::string ws_scheme;
    if (iequals(scheme, "wss") || iequals(scheme, "https")) {
        ws_scheme = "wss";
    } else if (iequals(scheme, "ws") || iequals(scheme, "http")) {
        ws_scheme = "ws";
    } else {
        return bad("does not start with wss://, ws://, https:// or http://");
    }
    std::string_view rest = url.substr(sep + 3);
    if (!std::all_of(rest.begin(), rest.end(), url_char_ok)) {
        return bad("holds a character other than letters, digits and . - _ ~ % / :");
    }
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    std::string path(slash == std::string_view::npos ? "" : rest.substr(slash));
    std::string_view host = authority;
    const auto colon = host.find(':');
    if (colon != std::string_view::npos) {
        if (!util::parse_port(host.substr(colon + 1))) {
            return bad("has a bad port");
        }
        host = host.substr(0, colon);
    }
    if (host.empty()) {
        return bad("has no host");
    }
    if (path.empty() || path == "/") {
        path = std::string(k_tunnel_path);
    }
    return ws_scheme + "://" + std::string(authority) + path;
}

std::optional<std::string> runpod_tunnel_url(std::string_view pod_id, std::uint16_t port) {
    if (!host_label_ok(pod_id)) {
        return std::nullopt;
    }
    std::string id(pod_id);
    std::transform(id.begin(), id.end(), id.begin(), lower);
    return "wss://" + id + "-" + std::to_string(port) + ".proxy.runpod.net" +
           std::string(k_tunnel_path);
}

namespace {

void put_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ' ';
    out += std::to_string(value.size());
    out += '\n';
    out += value;
    out += '\n';
}

std::optional<int> to_int(std::string_view s) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

std::string encode_serve_config(const ServeConfig& c) {
    std::string out;
    put_field(out, "ssh_port", std::to_string(c.ssh_port));
    put_field(out, "token", c.token);
    put_field(out, "ping", std::to_string(c.ping_seconds));
    put_field(out, "max", std::to_string(c.max_tunnels));
    put_field(out, "verbose", c.verbose ? "1" : "0");
    put_field(out, "page", c.page_text);
    return out;
}

util::Expected<ServeConfig> decode_serve_config(std::string_view text) {
    ServeConfig c;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) {
            return util::make_error("tunnel settings: a field header has no end");
        }
        const std::string_view header = text.substr(0, nl);
        const auto space = header.find(' ');
        if (space == std::string_view::npos) {
            return util::make_error("tunnel settings: a field header has no length");
        }
        const std::string_view name = header.substr(0, space);
        const auto length = to_int(header.substr(space + 1));
        text.remove_prefix(nl + 1);
        if (!length || *length < 0 || static_cast<std::size_t>(*length) >= text.size() ||
            text[static_cast<std::size_t>(*length)] != '\n') {
            return util::make_error("tunnel settings: field " + util::quoted_for_log(name) +
                                    " has a bad length");
        }
        const std::string_view value = text.substr(0, static_cast<std::size_t>(*length));
        text.remove_prefix(static_cast<std::size_t>(*length) + 1);
        if (name == "ssh_port") {
            auto port = util::parse_port(value);
            if (!port) {
                return util::make_error("tunnel settings: bad ssh_port");
            }
            c.ssh_port = *port;
        } else if (name == "token") {
            c.token = std::string(value);
        } else if (name == "ping" || name == "max") {
            auto v = to_int(value);
            if (!v || *v < 1 || *v > 100000) {
                return util::make_error("tunnel settings: bad " + std::string(name));
            }
            (name == "ping" ? c.ping_seconds : c.max_tunnels) = *v;
        } else if (name == "verbose") {
            c.verbose = value == "1";
        } else if (name == "page") {
            c.page_text = std::string(value);
        } else {
            return util::make_error("tunnel settings: unknown field " + util::quoted_for_log(name));
        }
    }
    return c;
}

}  // namespace sshboot::tunnel
