#include "cluster/secret.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "hostkeys/openssh_key.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace sshboot::cluster {
namespace {

constexpr std::size_t k_secret_bytes = 32;
constexpr std::string_view k_how_to_make =
    "make one with `sshboot cluster secret` (or `openssl rand -base64 32`) and give every "
    "node the same value";

// Text from sshboot's own templates and documentation that stands where a
// secret goes (lower case, without k_secret_prefix).
constexpr std::string_view k_placeholders[] = {
    "replace-with-the-output-of-sshboot-cluster-secret",
    "replace-with-sshboot-cluster-secret",
    "<output of sshboot cluster secret>",
    "changeme",
    "change-me",
    "secret",
};

// Estimating longer text costs O(n^2); its start is enough.
constexpr std::size_t k_max_estimated_chars = 1024;
// A repeat of earlier text this long or longer is counted as a repeat.
constexpr std::size_t k_min_repeat = 3;
// Bits for a letter of text that reads like English: a word's first letter
// (any of 26, capital or not), then the letters after it, about what a
// guesser working through words and phrases needs per letter.
constexpr double k_word_first_bits = 5.7;
constexpr double k_word_letter_bits = 1.25;

// The letter pairs most frequent in English text, which make up most of any
// phrase; random letters hit them about one time in seven.
constexpr std::string_view k_common_bigrams =
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io "
    "le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho "
    "pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt "
    "po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry "
    "ay ey ke oo ck ss ff ye qu um mp ps ov og do fo ox az zy wo rd ab ly ck ai ag";

bool common_bigram(unsigned char a, unsigned char b) {
    if (!std::isalpha(a) || !std::isalpha(b)) {
        return false;
    }
    const char pair[2] = {static_cast<char>(std::tolower(a)), static_cast<char>(std::tolower(b))};
    for (std::size_t i = 0; i + 1 < k_common_bigrams.size(); i += 3) {
        if (k_common_bigrams[i] == pair[0] && k_common_bigrams[i + 1] == pair[1]) {
            return true;
        }
    }
    return false;
}

bool is_letter(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Which characters are letters of a text that reads like English words or
// phrases ("correcthorsebattery", "Our-Cluster-Secret"): letters make up
// most of it, at most one in ten is a capital after a letter, and at least
// 55% of its letter pairs are among the most common ones. A word's first letter is
// marked 1, the letters after it 2, the rest 0. Random text (base64, hex) has capitals in about
// half its letters or few letters, and about one common pair in five: the
// chance that a generated secret reads like English is about one in 10^10.
std::vector<std::uint8_t> word_letters(std::string_view text) {
    std::vector<std::uint8_t> out(text.size(), 0);
    std::size_t letters = 0;
    std::size_t inner_capitals = 0;
    std::size_t pairs = 0;
    std::size_t common = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (!is_letter(c)) {
            continue;
        }
        ++letters;
        const bool after_letter = i > 0 && is_letter(static_cast<unsigned char>(text[i - 1]));
        if (after_letter) {
            ++pairs;
            common += common_bigram(static_cast<unsigned char>(text[i - 1]), c) ? 1 : 0;
            inner_capitals += (c >= 'A' && c <= 'Z') ? 1 : 0;
        }
    }
    if (pairs < 4 || 5 * letters < 3 * text.size() || 10 * inner_capitals > letters ||
        20 * common < 11 * pairs) {
        return out;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_letter(static_cast<unsigned char>(text[i]))) {
            out[i] = (i > 0 && is_letter(static_cast<unsigned char>(text[i - 1]))) ? 2 : 1;
        }
    }
    return out;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Decodes the part after k_secret_prefix; nullopt unless it is exactly
// k_secret_bytes of unpadded base64url.
bool decodes_to_secret_bytes(std::string_view body) {
    std::array<unsigned char, k_secret_bytes + 1> bin{};
    std::size_t len = 0;
    const int rc = sodium_base642bin(bin.data(), bin.size(), body.data(), body.size(), nullptr,
                                     &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bin.data(), bin.size());
    return rc == 0 && len == k_secret_bytes;
}

}  // namespace

std::string generate_secret() {
    hostkeys::ensure_sodium();
    std::array<unsigned char, k_secret_bytes> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string body(
        sodium_base64_ENCODED_LEN(k_secret_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(body.data(), body.size(), bytes.data(), bytes.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes.data(), bytes.size());
    body.resize(body.find('\0'));
    std::string out(k_secret_prefix);
    out += body;
    sodium_memzero(body.data(), body.size());
    return out;
}

std::string normalize_secret(std::string_view raw) {
    while (!raw.empty() && is_space(raw.front())) {
        raw.remove_prefix(1);
    }
    while (!raw.empty() && is_space(raw.back())) {
        raw.remove_suffix(1);
    }
    return std::string(raw);
}

namespace {

// estimate_text_bits; with `split_repeats`, also bound 3 below.
double estimate_bits(std::string_view text, bool split_repeats) {
    if (text.empty()) {
        return 0.0;
    }
    // Enough text for any real secret; longer text is judged by its start
    // (the estimate stays a lower bound, and the cost stays bounded).
    text = text.substr(0, std::min(text.size(), k_max_estimated_chars));
    const std::size_t n = text.size();

    // Bound 1: a cost per character. A character costs the bits of the
    // character classes the text uses, except where a guesser has it nearly
    // for free: in a repeat of earlier text, in a run or a +-1 sequence
    // ("aaaa", "1234", "abcd"), after a letter it commonly follows in
    // English words, or as a separator used before.
    bool lower = false, upper = false, digit = false, other = false;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 'a' && u <= 'z') {
            lower = true;
        } else if (u >= 'A' && u <= 'Z') {
            upper = true;
        } else if (u >= '0' && u <= '9') {
            digit = true;
        } else {
            other = true;
        }
    }
    const double pool = (lower ? 26 : 0) + (upper ? 26 : 0) + (digit ? 10 : 0) + (other ? 33 : 0);
    const double full = std::log2(std::max(pool, 2.0));
    const std::vector<std::uint8_t> word = word_letters(text);
    double by_cost = word[0] == 1 ? std::min(full, k_word_first_bits) : full;
    std::array<bool, 256> seen{};
    seen[static_cast<unsigned char>(text[0])] = true;
    // What the repeats leave, and what they cost (for bound 3).
    std::string literals(1, text[0]);
    double repeat_bits = 0.0;
    for (std::size_t i = 1; i < n;) {
        // The longest earlier occurrence of the text starting here.
        std::size_t best = 0;
        for (std::size_t j = 0; j < i && best < n - i; ++j) {
            std::size_t len = 0;
            while (i + len < n && text[j + len] == text[i + len]) {
                ++len;
            }
            best = std::max(best, len);
        }
        if (best >= k_min_repeat) {
            // Where it was and how long: a few bits for the whole repeat.
            const double where =
                std::log2(static_cast<double>(i)) + std::log2(static_cast<double>(best));
            by_cost += where;
            repeat_bits += where;
            for (std::size_t k = i; k < i + best; ++k) {
                seen[static_cast<unsigned char>(text[k])] = true;
            }
            i += best;
            continue;
        }
        const auto prev = static_cast<unsigned char>(text[i - 1]);
        const auto cur = static_cast<unsigned char>(text[i]);
        const int step = static_cast<int>(cur) - static_cast<int>(prev);
        if (step >= -1 && step <= 1) {
            by_cost += 1.0;
        } else if (word[i] == 2) {
            by_cost += k_word_letter_bits;
        } else if (word[i] == 1) {
            by_cost += std::min(full, k_word_first_bits);
        } else if (!std::isalnum(cur) && seen[cur]) {
            by_cost += 1.0;
        } else {
            by_cost += full;
        }
        seen[cur] = true;
        literals.push_back(text[i]);
        ++i;
    }

    // Bound 2: the Shannon entropy of the character distribution, times the
    // length. Text made of few distinct characters ("abababab...") or of
    // words (skewed letter frequencies) scores low here.
    std::array<std::size_t, 256> counts{};
    for (char c : text) {
        ++counts[static_cast<unsigned char>(c)];
    }
    double per_char = 0.0;
    const auto total = static_cast<double>(n);
    for (std::size_t k : counts) {
        if (k != 0) {
            const double p = static_cast<double>(k) / total;
            per_char -= p * std::log2(p);
        }
    }
    const double by_distribution = per_char * total;
    double estimate = std::min(by_cost, by_distribution);

    // Bound 3: the text without its repeats, judged on its own, plus what the
    // repeats cost. Bound 1 decides whether the text reads like words from
    // the whole text, so a phrase said again with a capital at the seam
    // ("secretAAAsshboot") would otherwise stop reading like words and score
    // as random characters. One level deep, so the cost stays bounded.
    if (split_repeats && literals.size() < n) {
        estimate = std::min(estimate, estimate_bits(literals, false) + repeat_bits);
    }
    return estimate;
}

}  // namespace

double estimate_text_bits(std::string_view text) {
    return estimate_bits(text, true);
}

double estimate_secret_bits(std::string_view secret) {
    if (secret.starts_with(k_secret_prefix)) {
        // The prefix is public: only what follows it counts, and no more
        // than the 256 bits a generated secret carries.
        return std::min(8.0 * k_secret_bytes,
                        estimate_text_bits(secret.substr(k_secret_prefix.size())));
    }
    return estimate_text_bits(secret);
}

bool is_known_placeholder(std::string_view secret) {
    std::string_view body = secret;
    if (body.starts_with(k_secret_prefix)) {
        body.remove_prefix(k_secret_prefix.size());
    }
    std::string lowered;
    for (char c : body) {
        lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return std::any_of(std::begin(k_placeholders), std::end(k_placeholders),
                       [&](std::string_view p) { return lowered == p; });
}

util::Status validate_secret(std::string_view secret, std::string_view source) {
    if (secret.empty()) {
        return util::make_error(std::string(source) + " is empty; " + std::string(k_how_to_make));
    }
    for (char c : secret) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return util::make_error(std::string(source) +
                                    " contains a control character (a secret is one line of "
                                    "text); " +
                                    std::string(k_how_to_make));
        }
    }
    if (is_known_placeholder(secret)) {
        return util::make_error(std::string(source) +
                                " is a placeholder from sshboot's documentation or templates, "
                                "not a secret: anyone who has read them knows it; " +
                                std::string(k_how_to_make));
    }
    if (secret.starts_with(k_secret_prefix) &&
        !decodes_to_secret_bytes(secret.substr(k_secret_prefix.size()))) {
        return util::make_error(std::string(source) + " starts with " +
                                std::string(k_secret_prefix) +
                                " but is not a complete secret (cut off or edited?); copy the "
                                "whole last line `sshboot cluster secret` printed");
    }
    const double bits = estimate_secret_bits(secret);
    if (bits < k_min_secret_bits) {
        return util::make_error(
            std::string(source) + " is too weak for a cluster secret (about " +
            std::to_string(static_cast<int>(bits)) + " bits of entropy estimated from its " +
            std::to_string(secret.size()) + " characters, " +
            std::to_string(static_cast<int>(k_min_secret_bits)) +
            " needed): the cluster CA's public key is in every known_hosts file, so a guessable "
            "secret lets anyone sign host keys and log in; " +
            std::string(k_how_to_make));
    }
    return util::ok();
}

std::string secret_file_problem(mode_t mode, uid_t owner, uid_t euid) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    if (!S_ISREG(mode)) {
        return "is not a regular file; point SSHBOOT_CLUSTER_SECRET_FILE at the file holding the "
               "secret";
    }
    if ((mode & 022) != 0) {
        return std::string("is mode ") + octal +
               ", writable by other users, who could replace the cluster's keys with their own; "
               "make it readable and writable by its owner only (chmod 0400, or defaultMode: "
               "0400 on a Kubernetes Secret volume)";
    }
    if ((mode & 044) != 0) {
        return std::string("is mode ") + octal +
               ", readable by other users of this container, and whoever reads the secret can "
               "log in as root on every node; make it readable by its owner only (chmod 0400, or "
               "defaultMode: 0400 on a Kubernetes Secret volume, without fsGroup)";
    }
    if (owner != 0 && owner != euid) {
        return "is owned by uid " + std::to_string(owner) +
               ", neither root nor the user sshboot runs as (uid " + std::to_string(euid) +
               "); give it to root or to that user (chown)";
    }
    return {};
}

util::Expected<std::string> read_secret_file(const std::string& path) {
    const std::string what = "SSHBOOT_CLUSTER_SECRET_FILE " + path;
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        return util::sys_error(what);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return util::sys_error("fstat " + path);
    }
    if (auto problem = secret_file_problem(st.st_mode, st.st_uid, ::geteuid()); !problem.empty()) {
        return util::make_error(what + " " + problem);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            sodium_memzero(buf, sizeof buf);
            return util::sys_error("read " + path);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > 4096) {
            sodium_memzero(buf, sizeof buf);
            sodium_memzero(text.data(), text.size());
            return util::make_error(what + " is larger than 4 KiB: not a cluster secret");
        }
    }
    sodium_memzero(buf, sizeof buf);
    std::string secret = normalize_secret(text);
    sodium_memzero(text.data(), text.size());
    if (auto st2 = validate_secret(secret, what); !st2) {
        sodium_memzero(secret.data(), secret.size());
        return st2.error();
    }
    return secret;
}

}  // namespace sshboot::cluster
