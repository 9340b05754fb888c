// The tunnel server's decisions, as pure functions: which answer a request
// gets (route), the bearer-token check, whether a client wants HTML, the
// public URL checks, the page, and the settings PID 1 hands to the server
// child. server.cpp does the I/O with Boost.Beast; nothing here does any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::tunnel {

// The path a WebSocket upgrade must ask for.
inline constexpr std::string_view k_tunnel_path = "/ssh";

enum class Route {
    Tunnel,            // GET /ssh with an upgrade and the right token (or none needed)
    Page,              // GET or HEAD / : the connect instructions
    UpgradeRequired,   // /ssh without an upgrade (a browser): 426 and a pointer to /
    Unauthorized,      // /ssh upgrade without the right token: 401
    NotFound,          // any other path: 404
    MethodNotAllowed,  // not GET or HEAD: 405
};

struct RequestView {
    std::string_view method;         // "GET"
    std::string_view target;         // "/ssh?x=1"
    bool websocket_upgrade = false;  // Connection: upgrade + Upgrade: websocket
    std::string_view authorization;  // the Authorization header, "" when absent
};

// The answer for a request; `token` empty means no token is needed.
Route route_request(const RequestView& request, std::string_view token);

// The path of a request target: without query or fragment ("/ssh?a" -> "/ssh").
std::string_view target_path(std::string_view target);

// Whether `authorization` is "Bearer <token>" (scheme case-insensitive,
// spaces around the credentials ignored). The comparison of the token takes
// the same time wherever the first difference is.
bool bearer_matches(std::string_view authorization, std::string_view token);

// Equality in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// Whether an Accept header asks for HTML before plain text (a browser does;
// curl sends "*/*" and gets text).
bool prefers_html(std::string_view accept);

// The page as HTML: the text, escaped, in <pre>.
std::string render_page_html(std::string_view text);

// SSHBOOT_TUNNEL_URL: a ws://, wss://, http:// or https:// URL whose host,
// port and path hold only letters, digits and . - _ ~ % / : (so it can be
// pasted into a shell and into ProxyCommand as it is). Returns the URL with
// an http(s) scheme turned into ws(s) and /ssh added when there is no path;
// an error that says what is wrong otherwise.
util::Expected<std::string> normalize_public_url(std::string_view url);

// RunPod's proxy URL for an HTTP port: wss://<pod id>-<port>.proxy.runpod.net/ssh;
// nullopt when the pod id is not a plain host label.
std::optional<std::string> runpod_tunnel_url(std::string_view pod_id, std::uint16_t port);

// What PID 1 hands to the server child (through a sealed memory file, never
// argv or the environment).
struct ServeConfig {
    std::uint16_t ssh_port = 22;
    std::string token;  // empty: no token needed
    int ping_seconds = 25;
    int max_tunnels = 64;
    bool verbose = false;
    std::string page_text;
};

// A line-framed encoding: "<name> <length>\n<bytes>\n" per field.
std::string encode_serve_config(const ServeConfig& config);
util::Expected<ServeConfig> decode_serve_config(std::string_view text);

}  // namespace sshboot::tunnel
