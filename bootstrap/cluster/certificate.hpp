// OpenSSH host certificates (ssh-ed25519-cert-v01@openssh.com, OpenSSH's
// PROTOCOL.certkeys) signed by the cluster host CA.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hostkeys/openssh_key.hpp"

namespace sshboot::cluster {

inline constexpr std::string_view k_ed25519_cert_type = "ssh-ed25519-cert-v01@openssh.com";
inline constexpr std::uint32_t k_cert_type_host = 2;

struct HostCertificateRequest {
    std::array<std::uint8_t, 32> host_public_key{};  // the node's ed25519 host key
    std::string key_id;                              // shown by ssh-keygen -L and in sshd's log
    std::vector<std::string> principals;             // names peers use for this node
    std::uint64_t serial = 0;
    // Validity interval, seconds since the epoch. The defaults make the
    // certificate valid forever, which is what sshboot uses: the nodes of a
    // job often disagree about the time (containers on different hosts, no
    // NTP inside), a certificate that a skewed peer sees as "not yet valid"
    // would break the job, and the trust's real lifetime is the secret's: a
    // new secret is a new CA, and every start issues the certificate again.
    std::uint64_t valid_after = 0;
    std::uint64_t valid_before = UINT64_MAX;
};

// The certificate's wire blob, signed by `ca`. The nonce is a keyed hash
// (BLAKE2b, keyed with the CA's private seed) of the request: unpredictable
// to anyone without the CA, which is what PROTOCOL.certkeys asks of it, and
// the same for the same request, so a restart with unchanged names gives
// the same bytes and the file is not rewritten.
std::vector<std::uint8_t> sign_host_certificate(const HostCertificateRequest& request,
                                                const hostkeys::Ed25519Key& ca);

// Same, with a given nonce (for tests: byte-for-byte reproducible output).
std::vector<std::uint8_t> sign_host_certificate(const HostCertificateRequest& request,
                                                const hostkeys::Ed25519Key& ca,
                                                std::span<const std::uint8_t> nonce);

// The certificate as sshd's HostCertificate file holds it:
// "ssh-ed25519-cert-v01@openssh.com AAAA... comment\n".
std::string certificate_line(std::span<const std::uint8_t> blob, std::string_view comment);

// The known_hosts line trusting `ca` for hosts matching `patterns`
// (comma-separated): "@cert-authority <patterns> ssh-ed25519 AAAA... comment".
std::string cert_authority_line(const hostkeys::Ed25519Key& ca, std::string_view patterns,
                                std::string_view comment);

}  // namespace sshboot::cluster
