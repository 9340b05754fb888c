#include "cluster/derive.hpp"

#include <sodium.h>

#include <array>

namespace sshboot::cluster {
namespace {

constexpr std::string_view k_master_key = "sshboot-cluster-v1/master";

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

hostkeys::Ed25519Key derive_ed25519(std::string_view secret, std::string_view label) {
    hostkeys::ensure_sodium();
    std::array<unsigned char, crypto_generichash_BYTES> master{};
    crypto_generichash(master.data(), master.size(), bytes_of(secret), secret.size(),
                       bytes_of(k_master_key), k_master_key.size());
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
    static_assert(crypto_sign_SEEDBYTES <= crypto_generichash_BYTES_MAX);
    crypto_generichash(seed.data(), seed.size(), bytes_of(label), label.size(), master.data(),
                       master.size());
    hostkeys::Ed25519Key key;
    crypto_sign_seed_keypair(key.public_key.data(), key.secret_key.data(), seed.data());
    sodium_memzero(master.data(), master.size());
    sodium_memzero(seed.data(), seed.size());
    return key;
}

hostkeys::Ed25519Key derive_client_key(std::string_view secret) {
    return derive_ed25519(secret, k_label_client_key);
}

hostkeys::Ed25519Key derive_host_ca(std::string_view secret) {
    return derive_ed25519(secret, k_label_host_ca);
}

}  // namespace sshboot::cluster
