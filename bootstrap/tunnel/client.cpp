#include "tunnel/client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "util/log.hpp"
#include "util/parse.hpp"

namespace sshboot::tunnel {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// The setup (name lookup, connect, proxy, TLS, upgrade) must finish within
// this; a silent firewall otherwise leaves ssh waiting forever.
constexpr std::chrono::seconds k_setup_deadline{30};
// One read from stdin or the WebSocket at a time, at most this much: the
// bound on what the client holds in each direction.
constexpr std::size_t k_chunk = 256 * 1024;
// The size asked for ssh's pipes: the most an unprivileged process may set
// by default (/proc/sys/fs/pipe-max-size).
constexpr int k_pipe_bytes = 1 << 20;
constexpr std::size_t k_max_hosts_file = 1 << 20;
// How long a close we started may wait for the server's close frame.
constexpr std::chrono::seconds k_close_deadline{5};

// The one line a failure prints.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Ends the process with a clear line when the setup takes too long. The
// blocking setup calls have no deadline of their own; this is it.
class Watchdog {
  public:
    explicit Watchdog(std::chrono::seconds limit) : m_thread([this, limit] { watch(limit); }) {}
    ~Watchdog() { stop(); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void phase(std::string what) {
        std::lock_guard lock(m_mutex);
        m_phase = std::move(what);
    }
    void stop() {
        {
            std::lock_guard lock(m_mutex);
            m_done = true;
        }
        m_cv.notify_all();
        if (m_thread.joinable()) {
            m_thread.join();
        }
    }

  private:
    void watch(std::chrono::seconds limit) {
        std::unique_lock lock(m_mutex);
        if (!m_cv.wait_for(lock, limit, [this] { return m_done; })) {
            log::error("timed out after {} s {}", limit.count(), m_phase);
            std::fflush(stderr);
            ::_exit(1);
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_done = false;
    std::string m_phase = "connecting";
    std::thread m_thread;
};

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text;
    if (in) {
        text.resize(k_max_hosts_file);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
    }
    return text;
}

// Addresses for `host`: IP literals as they are; localhost without asking
// anyone (RFC 6761); then /etc/hosts read here; then getaddrinfo. The static
// binary's getaddrinfo needs the system's NSS modules, which may not fit its
// glibc; the first three steps never load them.
std::vector<tcp::endpoint> resolve(const std::string& host, std::uint16_t port) {
    std::vector<tcp::endpoint> out;
    boost::system::error_code ec;
    if (auto addr = net::ip::make_address(host, ec); !ec) {
        out.emplace_back(addr, port);
        return out;
    }
    if (is_localhost_name(host)) {
        out.emplace_back(net::ip::address_v4::loopback(), port);
        out.emplace_back(net::ip::address_v6::loopback(), port);
        return out;
    }
    for (const auto& text : hosts_file_lookup(read_small_file("/etc/hosts"), host)) {
        if (auto addr = net::ip::make_address(text, ec); !ec) {
            out.emplace_back(addr, port);
        }
    }
    if (!out.empty()) {
        return out;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
        std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        throw Failure("cannot resolve " + util::quoted_for_log(host) + ": " + why +
                      " (check the host name in the URL, or your DNS)");
    }
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        tcp::endpoint ep;
        if (ai->ai_addrlen <= ep.capacity()) {
            std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
            ep.resize(ai->ai_addrlen);
            ep.port(port);
            out.push_back(ep);
        }
    }
    ::freeaddrinfo(list);
    if (out.empty()) {
        throw Failure("cannot resolve " + util::quoted_for_log(host) + ": no address");
    }
    return out;
}

tcp::socket connect_to(net::io_context& ioc, const std::string& host, std::uint16_t port,
                       std::string_view what) {
    const auto endpoints = resolve(host, port);
    tcp::socket socket(ioc);
    boost::system::error_code last;
    for (const auto& ep : endpoints) {
        boost::system::error_code ec;
        socket.close(ec);
        socket.connect(ep, ec);
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            return socket;
        }
        last = ec;
    }
    throw Failure("cannot connect to " + std::string(what) + " " + authority(host, port) + ": " +
                  last.message());
}

// Asks the HTTP proxy for a tunnel to the server with CONNECT.
void proxy_connect(tcp::socket& socket, const ProxySetting& setting, const ProxyUrl& proxy,
                   const TunnelUrl& url) {
    const std::string request = connect_request(url.host, url.port, proxy);
    boost::system::error_code ec;
    net::write(socket, net::buffer(request), ec);
    const std::string where =
        "the proxy " + authority(proxy.host, proxy.port) + " (from " + setting.variable + ")";
    if (ec) {
        throw Failure(where + " closed the connection: " + ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the answer to CONNECT has no body
    parser.header_limit(16 * 1024);
    http::read_header(socket, buffer, parser, ec);
    if (ec) {
        throw Failure(where + " gave no valid answer to CONNECT " + authority(url.host, url.port) +
                      ": " + ec.message());
    }
    const auto& res = parser.get();
    const unsigned status = res.result_int();
    if (status == 407) {
        throw Failure(where +
                      (proxy.has_credentials ? " refused the user name and password"
                                             : " needs a user name and password") +
                      " (HTTP 407): put them in " + setting.variable +
                      ", as http://USER:PASSWORD@HOST:PORT (%-escape @ and :)");
    }
    if (status / 100 != 2) {
        throw Failure(where + " refused CONNECT " + authority(url.host, url.port) + ": HTTP " +
                      std::to_string(status) + " " +
                      util::printable(std::string_view(res.reason().data(), res.reason().size())));
    }
    if (buffer.size() != 0) {
        throw Failure(where + " sent data before the tunnel began");
    }
}

std::string ssl_error_text() {
    const unsigned long err = ERR_get_error();
    if (err == 0) {
        return "";
    }
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    return buf;
}

void load_ca(ssl::context& ctx, const ClientOptions& options) {
    if (!options.cacert.empty()) {
        struct stat st {};
        if (::stat(options.cacert.c_str(), &st) != 0) {
            throw Failure("cannot read --cacert " + util::quoted_for_log(options.cacert) + ": " +
                          std::strerror(errno));
        }
        if (SSL_CTX_load_verify_locations(ctx.native_handle(), options.cacert.c_str(), nullptr) !=
            1) {
            throw Failure("--cacert " + util::quoted_for_log(options.cacert) +
                          " holds no PEM certificate (" + ssl_error_text() + ")");
        }
        return;
    }
    const auto candidates = ca_bundle_candidates(options.env);
    for (const auto& path : candidates) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (SSL_CTX_load_verify_locations(ctx.native_handle(), path.c_str(), nullptr) == 1) {
            return;
        }
        throw Failure("the CA bundle " + util::quoted_for_log(path) + " could not be loaded (" +
                      ssl_error_text() + "); give one with --cacert FILE");
    }
    std::string list;
    for (const auto& path : candidates) {
        list += (list.empty() ? "" : ", ") + path;
    }
    throw Failure("no CA bundle found (looked at " + list +
                  "): install ca-certificates, set SSL_CERT_FILE or give --cacert FILE");
}

// TLS with the server's name checked against its certificate and sent as SNI.
void tls_handshake(beast::ssl_stream<tcp::socket>& stream, const TunnelUrl& url,
                   const ClientOptions& options) {
    SSL* ssl = stream.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(url.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
    } else {
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
        SSL_set_tlsext_host_name(ssl, url.host.c_str());
    }
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::client, ec);
    if (!ec) {
        return;
    }
    const long verify = SSL_get_verify_result(ssl);
    const std::string who = authority(url.host, url.port);
    if (verify != X509_V_OK) {
        const std::string ca =
            options.cacert.empty() ? "the system's CA bundle" : "--cacert " + options.cacert;
        throw Failure("the certificate of " + who + " is not trusted: " +
                      X509_verify_cert_error_string(verify) + " (checked against " + ca + ")");
    }
    std::string why = ec.message();
    if (why.find("wrong version number") != std::string::npos ||
        why.find("packet length too long") != std::string::npos) {
        why += " (the server does not speak TLS: for a plain HTTP port use ws://)";
    }
    throw Failure("TLS handshake with " + who + " failed: " + why);
}

std::string shown_url(const TunnelUrl& url) {
    return std::string(url.tls ? "wss://" : "ws://") + authority(url.host, url.port) +
           url.target.substr(0, url.target.find('?'));
}

template <class Ws>
void websocket_handshake(net::io_context& ioc, Ws& ws, const TunnelUrl& url,
                         const ClientOptions& options) {
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
        req.set(http::field::user_agent, "sshboot-tunnel/" SSHBOOT_VERSION);
        if (!options.token.empty()) {
            req.set(http::field::authorization, "Bearer " + options.token);
        }
    }));
    const bool default_port = url.port == (url.tls ? 443 : 80);
    const std::string host_header =
        default_port ? (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host)
                     : authority(url.host, url.port);
    websocket::response_type res;
    boost::system::error_code ec;
    // The asynchronous form, because only it hands over the response of a
    // declined upgrade (its status is what the error line reports).
    ws.async_handshake(res, host_header, url.target,
                       [&ec](boost::system::error_code result) { ec = result; });
    ioc.run();
    ioc.restart();
    if (!ec) {
        return;
    }
    if (ec == websocket::error::upgrade_declined || res.result_int() != 0) {
        throw Failure(status_message(res.result_int(),
                                     std::string_view(res.reason().data(), res.reason().size()),
                                     shown_url(url), !options.token.empty()));
    }
    throw Failure("the tunnel at " + shown_url(url) +
                  " closed the connection during the WebSocket upgrade: " + ec.message());
}

// Keeps a descriptor's flags and puts them back: asio makes standard input
// and output non-blocking, which a terminal shares with the shell.
class FlagsGuard {
  public:
    explicit FlagsGuard(int fd) : m_fd(fd), m_flags(::fcntl(fd, F_GETFL)) {}
    ~FlagsGuard() {
        if (m_flags >= 0) {
            ::fcntl(m_fd, F_SETFL, m_flags);
        }
    }
    FlagsGuard(const FlagsGuard&) = delete;
    FlagsGuard& operator=(const FlagsGuard&) = delete;

  private:
    int m_fd;
    int m_flags;
};

// The relay: one read from each side at a time, and the next read only after
// the other side took the data, so a slow reader slows the writer down.
template <class Ws>
class Relay {
  public:
    Relay(net::io_context& ioc, Ws& ws)
        : m_ioc(ioc), m_ws(ws), m_in(ioc), m_out(ioc), m_close_timer(ioc) {}

    int run() {
        const int in_fd = ::dup(STDIN_FILENO);
        const int out_fd = ::dup(STDOUT_FILENO);
        if (in_fd < 0 || out_fd < 0) {
            throw Failure(std::string("dup standard input/output: ") + std::strerror(errno));
        }
        // ssh's pipes hold 64 KiB; with more room ssh writes on while we
        // encrypt, and each read takes a larger piece (not a pipe: ignored).
        ::fcntl(in_fd, F_SETPIPE_SZ, k_pipe_bytes);
        ::fcntl(out_fd, F_SETPIPE_SZ, k_pipe_bytes);
        m_in.assign(in_fd);
        m_out.assign(out_fd);
        m_ws.binary(true);
        m_ws.auto_fragment(false);
        m_ws.write_buffer_bytes(k_chunk);
        m_ws.read_message_max(0);
        read_stdin();
        read_ws();
        m_ioc.run();
        if (!m_error.empty()) {
            log::error("{}", m_error);
            return 1;
        }
        return 0;
    }

  private:
    // While a chunk is written the socket is corked: its TLS records (one
    // per 16 KiB, the frame's header in one of its own) leave in full
    // segments, which wakes the proxy once per segment instead of once per
    // record; uncorking sends the rest at once, so nothing waits.
    void cork(bool on) {
        const int value = on ? 1 : 0;
        ::setsockopt(beast::get_lowest_layer(m_ws).native_handle(), IPPROTO_TCP, TCP_CORK, &value,
                     sizeof value);
    }
    void finish(std::string error = {}) {
        if (m_done) {
            return;
        }
        m_done = true;
        m_error = std::move(error);
        boost::system::error_code ec;
        m_in.close(ec);
        m_out.close(ec);
        m_close_timer.cancel();
        beast::get_lowest_layer(m_ws).close(ec);
        m_ioc.stop();
    }

    void read_stdin() {
        m_in.async_read_some(net::buffer(m_up), [this](boost::system::error_code ec,
                                                       std::size_t n) {
            if (m_done) {
                return;
            }
            if (ec) {
                // End of input (or a broken pipe): close the WebSocket. The
                // close waits for the server's close frame, then the read
                // loop ends the process.
                m_closing = true;
                m_ws.async_close(websocket::close_code::normal,
                                 [this](boost::system::error_code) { finish(); });
                // A server that never answers the close does not keep us.
                m_close_timer.expires_after(k_close_deadline);
                m_close_timer.async_wait([this](boost::system::error_code timer_ec) {
                    if (!timer_ec) {
                        finish();
                    }
                });
                return;
            }
            cork(true);
            m_ws.async_write(net::buffer(m_up.data(), n), [this](boost::system::error_code write_ec,
                                                                 std::size_t) {
                if (m_done) {
                    return;
                }
                cork(false);
                if (write_ec) {
                    finish("the tunnel connection broke while sending: " + write_ec.message());
                    return;
                }
                read_stdin();
            });
        });
    }

    void read_ws() {
        m_ws.async_read_some(net::buffer(m_down), [this](boost::system::error_code ec,
                                                         std::size_t n) {
            if (m_done) {
                return;
            }
            if (m_closing && ec) {
                return;  // our close is under way; its handler ends the relay
            }
            // The server closed; everything before it is written. A close
            // frame received is the end even when the TLS teardown after it
            // fails (a proxy that drops the TCP connection without TLS's
            // close_notify: stream truncated).
            if (ec == websocket::error::closed ||
                m_ws.reason().code != websocket::close_code::none) {
                finish();
                return;
            }
            if (ec) {
                finish("the tunnel connection closed without a WebSocket close: " + ec.message());
                return;
            }
            net::async_write(m_out, net::buffer(m_down.data(), n),
                             [this](boost::system::error_code write_ec, std::size_t) {
                                 if (m_done) {
                                     return;
                                 }
                                 if (write_ec) {
                                     // Whoever read our output is gone (ssh
                                     // exited): nothing left to deliver.
                                     finish();
                                     return;
                                 }
                                 read_ws();
                             });
        });
    }

    net::io_context& m_ioc;
    Ws& m_ws;
    net::posix::stream_descriptor m_in;
    net::posix::stream_descriptor m_out;
    net::steady_timer m_close_timer;
    std::array<char, k_chunk> m_up{};
    std::array<char, k_chunk> m_down{};
    bool m_done = false;
    bool m_closing = false;
    std::string m_error;
};

int connect_and_relay(const ClientOptions& options) {
    auto url = parse_tunnel_url(options.url);
    if (!url) {
        throw Failure(url.error().message);
    }
    std::optional<ProxySetting> setting = proxy_for(options.env, *url);
    std::optional<ProxyUrl> proxy;
    if (setting) {
        auto parsed = parse_proxy_url(setting->value);
        if (!parsed) {
            throw Failure(setting->variable + ": " + parsed.error().message);
        }
        proxy = std::move(*parsed);
    }

    net::io_context ioc;
    Watchdog watchdog(k_setup_deadline);
    tcp::socket socket(ioc);
    if (proxy) {
        watchdog.phase("connecting to the proxy " + authority(proxy->host, proxy->port));
        socket = connect_to(ioc, proxy->host, proxy->port, "the proxy");
        watchdog.phase("waiting for the proxy's answer to CONNECT");
        proxy_connect(socket, *setting, *proxy, *url);
    } else {
        watchdog.phase("connecting to " + authority(url->host, url->port));
        socket = connect_to(ioc, url->host, url->port, "the tunnel at");
    }

    const FlagsGuard in_flags(STDIN_FILENO);
    const FlagsGuard out_flags(STDOUT_FILENO);
    if (url->tls) {
        ssl::context ctx(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.set_verify_mode(ssl::verify_peer);
        load_ca(ctx, options);
        websocket::stream<beast::ssl_stream<tcp::socket>> ws(std::move(socket), ctx);
        watchdog.phase("in the TLS handshake with " + authority(url->host, url->port));
        tls_handshake(ws.next_layer(), *url, options);
        watchdog.phase("waiting for the WebSocket upgrade at " + shown_url(*url));
        websocket_handshake(ioc, ws, *url, options);
        watchdog.stop();
        return Relay(ioc, ws).run();
    }
    websocket::stream<tcp::socket> ws(std::move(socket));
    watchdog.phase("waiting for the WebSocket upgrade at " + shown_url(*url));
    websocket_handshake(ioc, ws, *url, options);
    watchdog.stop();
    return Relay(ioc, ws).run();
}

}  // namespace

std::vector<std::string> client_variables() {
    return {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",   "all_proxy",
            "ALL_PROXY",   "no_proxy",    "NO_PROXY",   "SSL_CERT_FILE"};
}

std::vector<std::string> ca_bundle_candidates(const EnvLookup& env) {
    if (auto it = env.find("SSL_CERT_FILE"); it != env.end() && !it->second.empty()) {
        return {it->second};
    }
    return {
        "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Arch, Gentoo
        "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL, CentOS
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+
        "/etc/ssl/cert.pem",                                  // Alpine, macOS, BSDs
        "/etc/ssl/ca-bundle.pem",                             // openSUSE, SLES
        "/etc/pki/tls/cacert.pem",                            // OpenELEC
    };
}

std::string status_message(unsigned status, std::string_view reason, std::string_view url,
                           bool token_given) {
    const std::string code =
        "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + util::printable(reason));
    const std::string at = " from " + std::string(url);
    switch (status) {
        case 401:
            return token_given ? "the tunnel refused the token (" + code + at +
                                     "): check --token or SSHBOOT_TUNNEL_TOKEN"
                               : "the tunnel needs a token: --token T or SSHBOOT_TUNNEL_TOKEN (" +
                                     code + at + ")";
        case 403:
            return "access to the tunnel was refused (" + code + at +
                   "): the platform's proxy may need you to log in or share the port";
        case 404:
            return "no tunnel at this URL (" + code + at +
                   "): check the path (sshboot serves /ssh) and the port";
        case 502:
        case 503:
        case 504:
            return "the proxy in front of the tunnel could not reach it (" + code + at +
                   "): is the container running with SSHBOOT_TUNNEL_PORT set to the port "
                   "behind this URL?";
        default:
            break;
    }
    if (status == 0) {
        return "no valid HTTP answer to the WebSocket upgrade" + at;
    }
    return "the WebSocket upgrade was declined (" + code + at +
           "): is this the URL the connect block printed?";
}

int run_client(const ClientOptions& options) {
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return connect_and_relay(options);
    } catch (const Failure& e) {
        log::error("{}", e.what());
    } catch (const boost::system::system_error& e) {
        log::error("tunnel: {}", e.what());
    }
    return 1;
}

}  // namespace sshboot::tunnel
