#include "cluster/certificate.hpp"

#include <sodium.h>

#include "keys/wire.hpp"
#include "util/base64.hpp"

namespace sshboot::cluster {
namespace {

constexpr std::size_t k_nonce_bytes = 32;

void put_u64(keys::WireWriter& w, std::uint64_t v) {
    w.put_u32(static_cast<std::uint32_t>(v >> 32));
    w.put_u32(static_cast<std::uint32_t>(v & 0xffffffffu));
}

}  // namespace

std::vector<std::uint8_t> sign_host_certificate(const HostCertificateRequest& request,
                                                const hostkeys::Ed25519Key& ca,
                                                std::span<const std::uint8_t> nonce) {
    hostkeys::ensure_sodium();
    keys::WireWriter principals;
    for (const auto& p : request.principals) {
        principals.put_string(p);
    }

    keys::WireWriter w;
    w.put_string(k_ed25519_cert_type);
    w.put_string(nonce);
    w.put_string(std::span<const std::uint8_t>(request.host_public_key));
    put_u64(w, request.serial);
    w.put_u32(k_cert_type_host);
    w.put_string(request.key_id);
    w.put_string(std::span<const std::uint8_t>(principals.bytes()));
    put_u64(w, request.valid_after);
    put_u64(w, request.valid_before);
    w.put_string(std::string_view{});  // critical options: none are defined for host certificates
    w.put_string(std::string_view{});  // extensions: none are defined for host certificates
    w.put_string(std::string_view{});  // reserved
    w.put_string(std::span<const std::uint8_t>(hostkeys::ed25519_public_blob(ca)));

    // The signature covers everything above.
    std::array<std::uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, w.bytes().data(), w.bytes().size(),
                         ca.secret_key.data());
    keys::WireWriter sig_blob;
    sig_blob.put_string(hostkeys::k_ed25519_type);
    sig_blob.put_string(std::span<const std::uint8_t>(sig));
    w.put_string(std::span<const std::uint8_t>(sig_blob.bytes()));
    return w.bytes();
}

std::vector<std::uint8_t> sign_host_certificate(const HostCertificateRequest& request,
                                                const hostkeys::Ed25519Key& ca) {
    hostkeys::ensure_sodium();
    keys::WireWriter what;
    what.put_string(std::span<const std::uint8_t>(request.host_public_key));
    put_u64(what, request.serial);
    what.put_string(request.key_id);
    for (const auto& p : request.principals) {
        what.put_string(p);
    }
    put_u64(what, request.valid_after);
    put_u64(what, request.valid_before);
    std::array<std::uint8_t, k_nonce_bytes> nonce{};
    static_assert(crypto_sign_SEEDBYTES >= crypto_generichash_KEYBYTES_MIN);
    crypto_generichash(nonce.data(), nonce.size(), what.bytes().data(), what.bytes().size(),
                       ca.secret_key.data(), crypto_sign_SEEDBYTES);
    return sign_host_certificate(request, ca, nonce);
}

std::string certificate_line(std::span<const std::uint8_t> blob, std::string_view comment) {
    std::string line(k_ed25519_cert_type);
    line += ' ';
    line += util::base64_encode(blob);
    if (!comment.empty()) {
        line += ' ';
        line += comment;
    }
    line += '\n';
    return line;
}

std::string cert_authority_line(const hostkeys::Ed25519Key& ca, std::string_view patterns,
                                std::string_view comment) {
    std::string line = "@cert-authority ";
    line += patterns;
    line += ' ';
    line += hostkeys::ed25519_public_line(ca, comment);
    while (!line.empty() && line.back() == '\n') {
        line.pop_back();
    }
    return line;
}

}  // namespace sshboot::cluster
