// `sshboot tunnel [--cacert FILE] [--token T] URL`: the laptop side of the
// HTTPS tunnel. It relays standard input and output over one WebSocket
// (binary frames), for ssh's ProxyCommand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tunnel/url.hpp"

namespace sshboot::tunnel {

struct ClientOptions {
    std::string url;
    std::string cacert;  // a PEM file of CA certificates; empty: the system's bundle
    std::string token;   // sent as Authorization: Bearer; empty: none
    EnvLookup env;       // proxy variables, SSL_CERT_FILE
};

// Connects, relays until either side closes and returns the exit code: 0
// when the server closed the WebSocket or standard input ended; 1 after one
// error line on stderr (DNS, connection, proxy, certificate, HTTP status,
// closed).
int run_client(const ClientOptions& options);

// The variables run_client reads from the environment.
std::vector<std::string> client_variables();

// Where a CA bundle is looked for, in order: SSL_CERT_FILE when set (then
// only it), else the paths the common distributions use (a static OpenSSL's
// compiled-in directory does not exist on other systems).
std::vector<std::string> ca_bundle_candidates(const EnvLookup& env);

// The one line for a WebSocket upgrade the server (or a proxy in front of it)
// declined with HTTP `status`.
std::string status_message(unsigned status, std::string_view reason, std::string_view url,
                           bool token_given);

}  // namespace sshboot::tunnel
