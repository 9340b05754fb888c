#include "report/connect.hpp"

#include <cctype>

#include "util/embedded.hpp"
#include "util/template.hpp"

namespace sshboot::report {
namespace {

std::string type_label(const std::string& type) {
    if (type == "ssh-ed25519") {
        return "ED25519";
    }
    if (type.rfind("ecdsa-sha2-", 0) == 0) {
        return "ECDSA";
    }
    if (type == "ssh-rsa") {
        return "RSA";
    }
    return type;
}

}  // namespace

std::string known_hosts_name(const std::string& host, std::uint16_t port) {
    if (port == 22) {
        return host;
    }
    return "[" + host + "]:" + std::to_string(port);
}

std::string fingerprint_line(const HostKeyInfo& key) {
    return std::to_string(key.bits) + " " + key.fingerprint + " (" + type_label(key.type) + ")";
}

std::string sanitize_alias(const std::string& name) {
    std::string out;
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
            out.push_back(static_cast<char>(c));
        }
    }
    return out.empty() ? "sshboot" : out;
}

util::Expected<std::string> render_connect_block(const ConnectInput& in) {
    std::string fingerprints;
    std::string known_hosts;
    std::string known_hosts_alias;
    const std::string host_name = known_hosts_name(in.endpoint.host, in.endpoint.port);
    const std::string alias = sanitize_alias(in.alias);
    for (const auto& key : in.host_keys) {
        fingerprints += "    " + fingerprint_line(key) + "\n";
        known_hosts += host_name + " " + key.type + " " + key.base64 + "\n";
        // The config block's HostKeyAlias makes ssh look the key up by the
        // alias instead of [host]:port.
        known_hosts_alias += alias + " " + key.type + " " + key.base64 + "\n";
    }
    if (!fingerprints.empty()) {
        fingerprints.pop_back();
        known_hosts.pop_back();
        known_hosts_alias.pop_back();
    }
    std::string password_line;
    if (!in.password.empty()) {
        password_line = "    password: " + in.password + "   (shown once; not stored anywhere)\n";
    } else if (in.password_login) {
        password_line = "    (password login is on: use the password set for " + in.user + ")\n";
    }
    return util::render_template(embedded::connect_template,
                                 {
                                     {"USER", in.user},
                                     {"HOST", in.endpoint.host},
                                     {"PORT", std::to_string(in.endpoint.port)},
                                     {"PASSWORD_LINE", password_line},
                                     {"REMOTE_DIR", in.remote_dir},
                                     {"FINGERPRINTS", fingerprints},
                                     {"KNOWN_HOSTS", known_hosts},
                                     {"KNOWN_HOSTS_ALIAS", known_hosts_alias},
                                     {"ALIAS", alias},
                                 });
}

}  // namespace sshboot::report
