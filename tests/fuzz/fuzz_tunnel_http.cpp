// libFuzzer target for the tunnel server's own parsers around the handshake:
// the request routing, the Authorization header check, the Accept header,
// the public URL check and the settings PID 1 hands to the server child.
// The input is split at the first three NUL bytes into a request target, an
// Authorization value, an Accept value and the rest (used as a URL, as a
// token and as encoded settings).
//
// Built and run by `bash scripts/test.sh fuzz` (see tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/http_policy.hpp"

using namespace sshboot::tunnel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> parts;
    std::string_view rest(input);
    for (int i = 0; i < 3; ++i) {
        const auto nul = rest.find('\0');
        parts.push_back(rest.substr(0, nul));
        rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    }
    const std::string_view target = parts[0];
    const std::string_view authorization = parts[1];
    const std::string_view accept = parts[2];

    // Routing: /ssh never reaches the tunnel without the right token.
    for (bool upgrade : {false, true}) {
        const RequestView request{"GET", target, upgrade, authorization};
        const auto route = route_request(request, rest);
        if (route == Route::Tunnel && (!upgrade || target_path(target) != k_tunnel_path ||
                                       (!rest.empty() && !bearer_matches(authorization, rest)))) {
            std::abort();
        }
        if (route_request({"POST", target, upgrade, authorization}, rest) !=
            Route::MethodNotAllowed) {
            std::abort();
        }
    }
    // The right token always matches; any other never does.
    if (!rest.empty() && rest.find_first_of(" \t") == std::string_view::npos) {
        if (!bearer_matches("Bearer " + std::string(rest), rest) ||
            bearer_matches("Bearer " + std::string(rest) + "x", rest)) {
            std::abort();
        }
    }
    if (constant_time_equal(authorization, rest) != (authorization == rest)) {
        std::abort();
    }
    (void)prefers_html(accept);
    // The page's HTML holds no markup from the text.
    const auto html = render_page_html(target);
    if (html.find("<script") != std::string::npos) {
        std::abort();
    }
    // A URL accepted once is accepted again unchanged, and is shell-safe.
    if (auto url = normalize_public_url(rest)) {
        auto again = normalize_public_url(*url);
        if (!again || *again != *url ||
            url->find_first_of(" \t\n'\"$`;&|<>()*?![]{}\\") != std::string::npos) {
            std::abort();
        }
    }
    // Settings: whatever decodes encodes and decodes to the same.
    if (auto config = decode_serve_config(rest)) {
        auto back = decode_serve_config(encode_serve_config(*config));
        if (!back || back->token != config->token || back->page_text != config->page_text ||
            back->ssh_port != config->ssh_port || back->ping_seconds != config->ping_seconds ||
            back->max_tunnels != config->max_tunnels) {
            std::abort();
        }
    }
    ServeConfig made;
    made.token = std::string(authorization);
    made.page_text = std::string(target);
    auto round = decode_serve_config(encode_serve_config(made));
    if (!round || round->token != made.token || round->page_text != made.page_text) {
        std::abort();
    }
    return 0;
}
