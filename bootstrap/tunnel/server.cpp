#include "tunnel/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "util/idle_memory.hpp"
#include "util/log.hpp"

namespace sshboot::tunnel {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

struct Shared {
    Shared(ServeConfig c, asio::io_context::executor_type e) : config(std::move(c)), executor(e) {}

    // With no connection left, the process gives back the pages it no longer
    // needs, once the handlers now running are done (it then sleeps until
    // the next connection; nothing wakes it before).
    void release_when_idle() {
        if (idle()) {
            asio::post(executor, [this] {
                if (idle()) {
                    idle_memory.release();
                }
            });
        }
    }
    bool idle() const { return open_tunnels == 0 && pending == 0; }

    ServeConfig config;
    asio::io_context::executor_type executor;
    util::IdleMemory idle_memory = util::IdleMemory::of_this_program();
    std::string page_html;
    int open_tunnels = 0;
    int pending = 0;
    unsigned long long next_id = 1;
};

std::string peer_of(const tcp::socket& socket) {
    error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// One open tunnel: a WebSocket on one side, a TCP connection to sshd on the
// other, one read outstanding per direction, each next read only after the
// previous chunk was written (so a slow side slows the other; nothing grows).
class Tunnel : public std::enable_shared_from_this<Tunnel> {
  public:
    using Stream = websocket::stream<beast::tcp_stream>;

    // Counts as open from here: the limit holds while handshakes are under way.
    Tunnel(std::shared_ptr<Shared> shared, std::shared_ptr<Stream> ws, std::string peer)
        : m_shared(std::move(shared)),
          m_ws(std::move(ws)),
          m_sshd(m_ws->get_executor()),
          m_peer(std::move(peer)),
          m_id(m_shared->next_id++) {
        ++m_shared->open_tunnels;
    }
    ~Tunnel() {
        --m_shared->open_tunnels;
        if (m_open) {
            log::info("tunnel {} from {} closed ({} bytes in, {} out)", m_id, m_peer, m_bytes_in,
                      m_bytes_out);
        }
        m_shared->release_when_idle();
    }

    // Finishes the WebSocket handshake for `request`, then connects to sshd.
    void accept(http::request<http::empty_body> request) {
        // The request is kept here until the handshake ends.
        m_request = std::move(request);
        m_ws->async_accept(m_request, [self = shared_from_this()](error_code ec) {
            if (ec) {
                log::info("tunnel handshake from {} failed: {}", self->m_peer, ec.message());
                return;
            }
            self->m_open = true;
            log::info("tunnel {} from {} open ({} of at most {})", self->m_id, self->m_peer,
                      self->m_shared->open_tunnels, self->m_shared->config.max_tunnels);
            beast::get_lowest_layer(*self->m_ws).expires_never();
            self->start_keepalive();
            self->connect_sshd();
        });
    }

  private:
    using Clock = std::chrono::steady_clock;

    // The pings: one timer per tunnel, armed for when the client will have
    // been quiet for ping_seconds, and moved only when it fires (a busy
    // tunnel re-arms nothing per read; reads just note the time). A quiet
    // client gets a ping every ping_seconds; one that answers nothing for
    // twice that is cut off.
    void start_keepalive() {
        m_heard = Clock::now();
        // Pongs (and pings) from the client count as hearing from it. Only a
        // read, which holds the tunnel, runs this.
        m_ws->control_callback(
            [this](websocket::frame_type, beast::string_view) { m_heard = Clock::now(); });
        arm_keepalive(m_heard + period());
    }
    std::chrono::seconds period() const {
        return std::chrono::seconds(m_shared->config.ping_seconds);
    }
    void arm_keepalive(Clock::time_point when) {
        m_keepalive.expires_at(when);
        m_keepalive.async_wait([weak = weak_from_this()](error_code ec) {
            if (auto self = weak.lock(); self && !ec) {
                self->on_keepalive();
            }
        });
    }
    void on_keepalive() {
        if (m_closing) {
            return;
        }
        const auto now = Clock::now();
        const auto quiet = now - m_heard;
        if (quiet >= 2 * period()) {
            log::info("tunnel {} from {}: no answer to a ping within {} s; closing it", m_id,
                      m_peer, m_shared->config.ping_seconds);
            error_code ignored;
            beast::get_lowest_layer(*m_ws).socket().close(ignored);
            m_sshd.close(ignored);
            return;
        }
        if (quiet < period()) {
            arm_keepalive(m_heard + period());
            return;
        }
        if (!m_pinging) {
            m_pinging = true;
            m_ws->async_ping({},
                             [self = shared_from_this()](error_code) { self->m_pinging = false; });
        }
        arm_keepalive(now + period());
    }

    void connect_sshd() {
        const tcp::endpoint sshd(asio::ip::make_address_v4("127.0.0.1"), m_shared->config.ssh_port);
        m_sshd.async_connect(sshd, [self = shared_from_this()](error_code ec) {
            if (ec) {
                log::warn("tunnel {}: cannot connect to sshd on 127.0.0.1:{}: {}", self->m_id,
                          self->m_shared->config.ssh_port, ec.message());
                self->close_client();
                return;
            }
            error_code ignored;
            self->m_sshd.set_option(tcp::no_delay(true), ignored);
            self->read_client();
            self->read_sshd();
        });
    }

  private:
    // client -> sshd
    void read_client() {
        m_ws->async_read_some(asio::buffer(m_from_client.get(), k_relay_chunk),
                              [self = shared_from_this()](error_code ec, std::size_t n) {
                                  if (ec) {
                                      // A close frame from the client (answered by Beast), or
                                      // the connection gone: sshd sees the end of its input.
                                      error_code ignored;
                                      self->m_sshd.shutdown(tcp::socket::shutdown_send, ignored);
                                      if (ec != websocket::error::closed) {
                                          self->m_sshd.close(ignored);
                                      }
                                      return;
                                  }
                                  self->m_bytes_in += n;
                                  self->m_heard = Clock::now();
                                  asio::async_write(self->m_sshd,
                                                    asio::buffer(self->m_from_client.get(), n),
                                                    [self](error_code wec, std::size_t) {
                                                        if (wec) {
                                                            // read_sshd fails next and closes the
                                                            // client side.
                                                            error_code ignored;
                                                            self->m_sshd.close(ignored);
                                                            return;
                                                        }
                                                        self->read_client();
                                                    });
                              });
    }

    // sshd -> client
    void read_sshd() {
        m_sshd.async_read_some(asio::buffer(m_from_sshd.get(), k_relay_chunk),
                               [self = shared_from_this()](error_code ec, std::size_t n) {
                                   if (ec) {
                                       self->close_client();
                                       return;
                                   }
                                   self->m_bytes_out += n;
                                   self->m_ws->async_write(asio::buffer(self->m_from_sshd.get(), n),
                                                           [self](error_code wec, std::size_t) {
                                                               if (wec) {
                                                                   error_code ignored;
                                                                   self->m_sshd.close(ignored);
                                                                   return;
                                                               }
                                                               self->read_sshd();
                                                           });
                               });
    }

    // sshd closed (or a write to it failed): a close frame to the client.
    void close_client() {
        if (m_closing) {
            return;
        }
        m_closing = true;
        m_ws->async_close(websocket::close_code::normal, [self = shared_from_this()](error_code) {
            error_code ignored;
            self->m_sshd.close(ignored);
        });
    }

    std::shared_ptr<Shared> m_shared;
    std::shared_ptr<Stream> m_ws;
    http::request<http::empty_body> m_request;
    tcp::socket m_sshd;
    std::string m_peer;
    unsigned long long m_id;
    bool m_open = false;
    // Not zeroed: a page is only resident once a read has reached it, so an
    // idle tunnel costs little more than its first pages.
    std::unique_ptr<char[]> m_from_client = std::make_unique_for_overwrite<char[]>(k_relay_chunk);
    std::unique_ptr<char[]> m_from_sshd = std::make_unique_for_overwrite<char[]>(k_relay_chunk);
    unsigned long long m_bytes_in = 0;
    unsigned long long m_bytes_out = 0;
    bool m_closing = false;
    asio::steady_timer m_keepalive{m_ws->get_executor()};
    Clock::time_point m_heard;
    bool m_pinging = false;
};

// A connection before its upgrade: reads one request within the deadline and
// the header limit, then answers it or hands it over to a Tunnel.
class Handshake : public std::enable_shared_from_this<Handshake> {
  public:
    Handshake(std::shared_ptr<Shared> shared, tcp::socket socket)
        : m_shared(std::move(shared)), m_stream(std::move(socket)) {
        ++m_shared->pending;
        m_peer = peer_of(m_stream.socket());
    }
    ~Handshake() {
        --m_shared->pending;
        m_shared->release_when_idle();
    }

    void start() {
        m_parser.emplace();
        m_parser->header_limit(static_cast<std::uint32_t>(k_header_limit));
        m_parser->body_limit(0);
        m_stream.expires_after(std::chrono::seconds(k_handshake_seconds));
        http::async_read(
            m_stream, m_buffer, *m_parser,
            [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
    }

  private:
    void on_request(error_code ec) {
        if (ec == http::error::header_limit) {
            log::info("refused a request from {}: headers larger than {} bytes", m_peer,
                      k_header_limit);
            respond(http::status::request_header_fields_too_large, "Request headers too large.\n",
                    "text/plain", false);
            return;
        }
        if (ec == beast::error::timeout) {
            log::debug("closed a connection from {}: no request within {} s", m_peer,
                       k_handshake_seconds);
            return;
        }
        if (ec) {
            if (ec != http::error::end_of_stream && ec != asio::error::eof &&
                ec != asio::error::connection_reset) {
                log::debug("refused a request from {}: {}", m_peer, ec.message());
                respond(http::status::bad_request, "Bad request.\n", "text/plain", false);
            }
            return;
        }
        const auto& req = m_parser->get();
        const auto auth = req[http::field::authorization];
        RequestView view;
        const auto method = req.method_string();
        const auto target = req.target();
        view.method = std::string_view(method.data(), method.size());
        view.target = std::string_view(target.data(), target.size());
        view.websocket_upgrade = websocket::is_upgrade(req);
        view.authorization = std::string_view(auth.data(), auth.size());
        const auto& config = m_shared->config;
        const bool head = req.method() == http::verb::head;
        switch (route_request(view, config.token)) {
            case Route::Tunnel:
                upgrade();
                return;
            case Route::Page: {
                const auto accept = req[http::field::accept];
                if (prefers_html(std::string_view(accept.data(), accept.size()))) {
                    respond(http::status::ok, m_shared->page_html, "text/html; charset=utf-8",
                            head);
                } else {
                    respond(http::status::ok, config.page_text, "text/plain; charset=utf-8", head);
                }
                return;
            }
            case Route::UpgradeRequired:
                respond(http::status::upgrade_required,
                        "This address carries SSH over a WebSocket (ProxyCommand sshboot tunnel "
                        "URL). Open / for how to connect.\n",
                        "text/plain", head, true);
                return;
            case Route::Unauthorized:
                log::warn("refused a tunnel from {}: missing or wrong token", m_peer);
                respond(http::status::unauthorized,
                        "This tunnel needs a token: sshboot tunnel --token TOKEN URL (or "
                        "SSHBOOT_TUNNEL_TOKEN), or websocat -H 'Authorization: Bearer TOKEN'.\n",
                        "text/plain", head);
                return;
            case Route::NotFound:
                respond(http::status::not_found, "Not found. Open / for how to connect.\n",
                        "text/plain", head);
                return;
            case Route::MethodNotAllowed:
                respond(http::status::method_not_allowed, "Only GET is served here.\n",
                        "text/plain", false);
                return;
        }
    }

    void respond(http::status status, const std::string& body, const char* type, bool head,
                 bool upgrade_header = false) {
        auto res = std::make_shared<http::response<http::string_body>>(status, 11);
        res->set(http::field::server, "sshboot");
        res->set(http::field::content_type, type);
        res->set(http::field::cache_control, "no-store");
        res->set("X-Content-Type-Options", "nosniff");
        if (upgrade_header) {
            res->set(http::field::upgrade, "websocket");
        }
        if (status == http::status::method_not_allowed) {
            res->set(http::field::allow, "GET, HEAD");
        }
        res->keep_alive(false);
        res->body() = body;
        res->prepare_payload();
        if (head) {
            res->body().clear();
        }
        m_stream.expires_after(std::chrono::seconds(k_handshake_seconds));
        http::async_write(m_stream, *res,
                          [self = shared_from_this(), res](error_code, std::size_t) {
                              error_code ignored;
                              self->m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                              self->m_stream.cancel();
                          });
    }

    void upgrade() {
        if (m_shared->open_tunnels >= m_shared->config.max_tunnels) {
            log::warn(
                "refused a tunnel from {}: {} tunnels are open, the most allowed "
                "(SSHBOOT_TUNNEL_MAX)",
                m_peer, m_shared->open_tunnels);
            respond(http::status::service_unavailable,
                    "Too many tunnels are open; try again later.\n", "text/plain", false);
            return;
        }
        auto ws = std::make_shared<Tunnel::Stream>(std::move(m_stream));
        websocket::stream_base::timeout timeouts{};
        timeouts.handshake_timeout = std::chrono::seconds(k_handshake_seconds);
        // Beast's idle timer would be moved on every read; the tunnel keeps
        // its own (Tunnel::start_keepalive).
        timeouts.idle_timeout = websocket::stream_base::none();
        timeouts.keep_alive_pings = false;
        ws->set_option(timeouts);
        ws->binary(true);
        ws->auto_fragment(false);
        ws->read_message_max(0);
        ws->set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "sshboot"); }));
        std::make_shared<Tunnel>(m_shared, std::move(ws), m_peer)->accept(m_parser->release());
    }

    std::shared_ptr<Shared> m_shared;
    beast::tcp_stream m_stream;
    beast::flat_buffer m_buffer{k_header_limit};
    std::optional<http::request_parser<http::empty_body>> m_parser;
    std::string m_peer;
};

class Listener : public std::enable_shared_from_this<Listener> {
  public:
    Listener(asio::io_context& io, std::shared_ptr<Shared> shared, tcp::acceptor acceptor)
        : m_io(io), m_shared(std::move(shared)), m_acceptor(std::move(acceptor)) {}

    void accept() {
        m_acceptor.async_accept(m_io,
                                [self = shared_from_this()](error_code ec, tcp::socket socket) {
                                    self->on_accept(ec, std::move(socket));
                                });
    }

  private:
    void on_accept(error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) {
            return;
        }
        if (ec) {
            // EMFILE and the like: logged, and the next accept tried.
            log::warn("accept on the tunnel port: {}", ec.message());
        } else if (m_shared->pending >= k_max_pending) {
            log::warn("closed a connection from {}: {} are already in their handshake",
                      peer_of(socket), k_max_pending);
        } else {
            error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            std::make_shared<Handshake>(m_shared, std::move(socket))->start();
        }
        accept();
    }

    asio::io_context& m_io;
    std::shared_ptr<Shared> m_shared;
    tcp::acceptor m_acceptor;
};

}  // namespace

int serve(const ServeConfig& config, int listen_fd) {
    asio::io_context io(1);
    auto shared = std::make_shared<Shared>(config, io.get_executor());
    shared->page_html = render_page_html(config.page_text);

    error_code ec;
    tcp::acceptor acceptor(io);
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int family = ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0
                           ? addr.ss_family
                           : AF_INET;
    acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), listen_fd, ec);
    if (ec) {
        log::error("tunnel server: cannot use the listening socket: {}", ec.message());
        return 1;
    }
    std::make_shared<Listener>(io, shared, std::move(acceptor))->accept();

    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&io](error_code, int) { io.stop(); });
    // What start-up needed is not needed again.
    shared->release_when_idle();
    io.run();
    return 0;
}

util::Expected<std::string> probe(std::uint16_t port, const std::string& token,
                                  int timeout_seconds) {
    asio::io_context io(1);
    websocket::stream<beast::tcp_stream> ws(io);
    beast::flat_buffer buffer;
    std::string step = "connect";
    error_code result = asio::error::timed_out;
    const std::string host = "127.0.0.1:" + std::to_string(port);
    ws.set_option(websocket::stream_base::decorator([&token](websocket::request_type& req) {
        if (!token.empty()) {
            req.set(http::field::authorization, "Bearer " + token);
        }
    }));
    websocket::response_type response;
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
    beast::get_lowest_layer(ws).async_connect(endpoint, [&](error_code ec) {
        if (ec) {
            result = ec;
            return;
        }
        step = "WebSocket upgrade of /ssh";
        ws.async_handshake(response, host, std::string(k_tunnel_path), [&](error_code hec) {
            if (hec) {
                result = hec;
                return;
            }
            step = "read sshd's banner through the tunnel";
            ws.async_read_some(buffer.prepare(256), [&](error_code rec, std::size_t n) {
                buffer.commit(n);
                result = rec;
            });
        });
    });
    io.run_for(std::chrono::seconds(timeout_seconds));
    if (result) {
        std::string why = result.message();
        if (result == websocket::error::upgrade_declined && response.result_int() != 0) {
            why =
                "HTTP " + std::to_string(response.result_int()) +
                (response.result() == http::status::unauthorized ? " (the token was refused)" : "");
        }
        return util::make_error(step + " on " + host + ": " + why);
    }
    const std::string data = beast::buffers_to_string(buffer.data());
    const std::string line = data.substr(0, data.find_first_of("\r\n"));
    if (line.rfind("SSH-", 0) != 0) {
        return util::make_error("the tunnel on " + host + " relayed no SSH banner (got " +
                                std::to_string(data.size()) + " other bytes)");
    }
    return line;
}

}  // namespace sshboot::tunnel
