// libFuzzer target for the cluster secret's strength check: whatever the
// text, validate_secret does not crash; a secret it accepts has the
// estimated entropy, no control character and is no known placeholder; the
// estimate stays within bounds, and repeating a text adds almost nothing.
//
// Built and run by `bash scripts/test.sh fuzz` (see tests/fuzz/README.md).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cluster/secret.hpp"

namespace cluster = sshboot::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string raw(reinterpret_cast<const char*>(data), size);
    const std::string secret = cluster::normalize_secret(raw);
    const double bits = cluster::estimate_secret_bits(secret);
    if (!std::isfinite(bits) || bits < 0.0 ||
        (secret.starts_with(cluster::k_secret_prefix) && bits > 256.0)) {
        std::abort();
    }
    if (bits != cluster::estimate_secret_bits(secret)) {
        std::abort();
    }
    const auto st = cluster::validate_secret(secret, "SSHBOOT_CLUSTER_SECRET");
    if (st) {
        if (bits < cluster::k_min_secret_bits || cluster::is_known_placeholder(secret)) {
            std::abort();
        }
        for (char c : secret) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u == 0x7f) {
                std::abort();
            }
        }
    } else if (st.error().message.find("sshboot cluster secret") == std::string::npos) {
        // Every refusal says how to make a good secret.
        std::abort();
    }
    // A text said twice is barely stronger than once: the repeat costs where
    // it starts and how long it is (plus, at the seam, a repeat found across
    // it and two characters too few to be a repeat).
    if (!raw.empty() && raw.size() <= 512) {
        const double once = cluster::estimate_text_bits(raw);
        const double twice = cluster::estimate_text_bits(raw + raw);
        const double n = static_cast<double>(raw.size());
        if (twice > 2.0 * once + 4.0 * std::log2(2.0 * n) + 16.0) {
            std::abort();
        }
    }
    return 0;
}
