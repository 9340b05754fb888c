// libFuzzer target for the text parsers of `sshboot tunnel`: the tunnel URL,
// the proxy URL, NO_PROXY and /etc/hosts. None may crash; a parsed URL written
// out again parses to the same thing; messages stay on one line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tunnel/url.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

bool one_line(const std::string& text) {
    for (const unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sshboot::tunnel;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto url = parse_tunnel_url(text)) {
        check(!url->host.empty() && url->port != 0 && !url->target.empty());
        check(url->target.front() == '/');
        const std::string again_text = std::string(url->tls ? "wss://" : "ws://") +
                                       authority(url->host, url->port) + url->target;
        auto again = parse_tunnel_url(again_text);
        check(again.has_value());
        check(again->tls == url->tls && again->host == url->host && again->port == url->port &&
              again->target == url->target);
        const std::string request = connect_request(url->host, url->port, ProxyUrl{});
        check(request.find("\r\n\r\n") == request.size() - 4);
    } else {
        check(one_line(url.error().message));
    }

    if (auto proxy = parse_proxy_url(text)) {
        check(!proxy->host.empty() && proxy->port != 0);
    } else {
        check(one_line(proxy.error().message));
    }

    // Split the input: NO_PROXY before the first newline, a host after it.
    const auto nl = text.find('\n');
    const std::string_view list = text.substr(0, nl);
    const std::string_view host = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    (void)no_proxy_matches(list, host, 443);
    if (!host.empty() && host.front() != '.' && host.front() != '[' &&
        host.find_first_of(", \t*:") == std::string_view::npos) {
        // A name always matches itself.
        check(no_proxy_matches(host, host, 443));
    }
    for (const auto& addr : hosts_file_lookup(text, host)) {
        check(is_ip_literal(addr));
    }
    (void)is_localhost_name(text);
    return 0;
}
