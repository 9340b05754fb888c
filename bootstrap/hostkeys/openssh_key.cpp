#include "hostkeys/openssh_key.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "keys/wire.hpp"
#include "util/base64.hpp"

namespace sshboot::hostkeys {
namespace {

constexpr std::string_view k_magic{"openssh-key-v1\0", 15};
constexpr std::string_view k_begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view k_end = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::size_t k_line_width = 70;
// The cipher "none" has a block size of 8; the private section is padded to it.
constexpr std::size_t k_none_block_size = 8;

// Bytes that hold secret material: wiped when they go out of scope.
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::vector<std::uint8_t> v) : m_v(std::move(v)) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes() { sodium_memzero(m_v.data(), m_v.size()); }
    std::vector<std::uint8_t>& get() { return m_v; }

  private:
    std::vector<std::uint8_t> m_v;
};

class SecretText {
  public:
    SecretText() = default;
    SecretText(const SecretText&) = delete;
    SecretText& operator=(const SecretText&) = delete;
    ~SecretText() { sodium_memzero(m_s.data(), m_s.size()); }
    std::string& get() { return m_s; }

  private:
    std::string m_s;
};

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool equal_bytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Number of length-prefixed fields between the key type and the comment in
// the private section, for the key types whose layout is known.
std::optional<int> private_field_count(std::string_view type) {
    if (type == "ssh-ed25519") {
        return 2;  // public key, seed||public key
    }
    if (type == "ssh-rsa") {
        return 6;  // n, e, d, iqmp, p, q
    }
    if (type.starts_with("ecdsa-sha2-nistp")) {
        return 3;  // curve name, public point, private scalar
    }
    if (type == "ssh-dss") {
        return 5;  // p, q, g, y, x
    }
    return std::nullopt;
}

// Pulls the base64 body out of the armour. Tolerates CRLF line ends, blank
// lines and surrounding whitespace, as ssh-keygen does.
util::Expected<std::string> armour_body(std::string_view text) {
    auto trim = [](std::string_view s) {
        while (!s.empty() &&
               (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
            s.remove_prefix(1);
        }
        while (!s.empty() &&
               (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
            s.remove_suffix(1);
        }
        return s;
    };
    std::string_view rest = trim(text);
    if (!rest.starts_with(k_begin)) {
        if (rest.starts_with("-----BEGIN ") && rest.find("ENCRYPTED") != std::string_view::npos) {
            return util::make_error("is an encrypted PEM private key");
        }
        return util::make_error("is not an OpenSSH private key (no \"" + std::string(k_begin) +
                                "\" line)");
    }
    rest.remove_prefix(k_begin.size());
    std::string body;
    body.reserve(rest.size());
    bool ended = false;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = trim(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (line == k_end) {
            ended = true;
            break;
        }
        body.append(line);
    }
    if (!ended) {
        sodium_memzero(body.data(), body.size());
        return util::make_error("is truncated (no \"" + std::string(k_end) + "\" line)");
    }
    if (!trim(rest).empty()) {
        sodium_memzero(body.data(), body.size());
        return util::make_error("has text after the \"" + std::string(k_end) + "\" line");
    }
    return body;
}

struct Container {
    std::string key_type;
    std::vector<std::uint8_t> public_blob;
    std::size_t private_offset = 0;  // where the private section starts in the decoded bytes
    std::size_t private_size = 0;
};

// Parses the container around the private section. `bytes` is the decoded body.
util::Expected<Container> parse_container(std::span<const std::uint8_t> bytes) {
    const auto corrupt = [](std::string what) {
        return util::make_error("is corrupt (" + std::move(what) + ")");
    };
    if (bytes.size() < k_magic.size() ||
        !equal_bytes(bytes.first(k_magic.size()), as_bytes(k_magic))) {
        return util::make_error("is not in openssh-key-v1 format (bad magic)");
    }
    keys::WireReader r(bytes.subspan(k_magic.size()));
    auto cipher = r.read_string_text();
    auto kdf = r.read_string_text();
    auto kdf_options = r.read_string();
    auto nkeys = r.read_u32();
    if (!cipher || !kdf || !kdf_options || !nkeys) {
        return corrupt("truncated header");
    }
    if (*cipher != "none" || *kdf != "none") {
        return util::make_error("is encrypted with a passphrase (cipher " + *cipher +
                                "); sshd needs an unencrypted host key");
    }
    if (!kdf_options->empty()) {
        return corrupt("kdf options without a kdf");
    }
    if (*nkeys != 1) {
        return corrupt("holds " + std::to_string(*nkeys) + " keys, expected 1");
    }
    auto blob = r.read_string();
    if (!blob) {
        return corrupt("truncated public key");
    }
    keys::WireReader blob_reader(*blob);
    auto type = blob_reader.read_string_text();
    if (!type || type->empty()) {
        return corrupt("public key without a type");
    }
    const std::size_t private_offset = bytes.size() - r.remaining() + 4;
    auto priv = r.read_string();
    if (!priv) {
        return corrupt("truncated private section");
    }
    if (r.remaining() != 0) {
        return corrupt("trailing bytes");
    }
    if (priv->size() % k_none_block_size != 0) {
        return corrupt("private section not padded to the block size");
    }
    Container c;
    c.key_type = std::move(*type);
    c.public_blob.assign(blob->begin(), blob->end());
    c.private_offset = private_offset;
    c.private_size = priv->size();
    return c;
}

struct PrivateSection {
    std::string key_type;
    // The key's fields after the type (spans into the decoded bytes).
    std::vector<std::span<const std::uint8_t>> fields;
};

// Checks the private section: equal check ints, the key type, the known
// number of fields, a comment and the 1,2,3... padding.
util::Expected<PrivateSection> parse_private_section(std::span<const std::uint8_t> section,
                                                     const std::string& header_type) {
    const auto corrupt = [](std::string what) {
        return util::make_error("is corrupt (" + std::move(what) + ")");
    };
    keys::WireReader r(section);
    auto check1 = r.read_u32();
    auto check2 = r.read_u32();
    if (!check1 || !check2 || *check1 != *check2) {
        return corrupt("check values differ");
    }
    auto type = r.read_string_text();
    if (!type) {
        return corrupt("truncated private key");
    }
    if (*type != header_type) {
        return corrupt("private key type " + *type + " does not match public key type " +
                       header_type);
    }
    PrivateSection out;
    out.key_type = *type;
    const auto count = private_field_count(*type);
    if (!count) {
        return out;  // unknown layout: the checks above are all that can be made
    }
    for (int i = 0; i < *count; ++i) {
        auto field = r.read_string();
        if (!field) {
            return corrupt("truncated private key");
        }
        out.fields.push_back(*field);
    }
    if (!r.read_string()) {
        return corrupt("truncated comment");
    }
    const std::size_t pad = r.remaining();
    if (pad >= k_none_block_size) {
        return corrupt("too much padding");
    }
    const auto padding = section.last(pad);
    for (std::size_t i = 0; i < pad; ++i) {
        if (padding[i] != static_cast<std::uint8_t>(i + 1)) {
            return corrupt("bad padding");
        }
    }
    return out;
}

}  // namespace

void ensure_sodium() {
    if (sodium_init() < 0) {
        std::abort();
    }
}

Ed25519Key generate_ed25519() {
    ensure_sodium();
    Ed25519Key key;
    crypto_sign_ed25519_keypair(key.public_key.data(), key.secret_key.data());
    return key;
}

void wipe(Ed25519Key& key) {
    sodium_memzero(key.public_key.data(), key.public_key.size());
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
}

std::vector<std::uint8_t> ed25519_public_blob(const Ed25519Key& key) {
    keys::WireWriter w;
    w.put_string(k_ed25519_type);
    w.put_string(key.public_key);
    return std::move(w.bytes());
}

std::string ed25519_public_line(const Ed25519Key& key, std::string_view comment) {
    std::string line(k_ed25519_type);
    line += ' ';
    line += util::base64_encode(ed25519_public_blob(key));
    if (!comment.empty()) {
        line += ' ';
        line += comment;
    }
    line += '\n';
    return line;
}

std::string ed25519_private_pem(const Ed25519Key& key, std::string_view comment) {
    ensure_sodium();
    const auto blob = ed25519_public_blob(key);

    // The private section, padded to the block size of the cipher "none".
    keys::WireWriter section;
    section.bytes().reserve(4 + 4 + 4 + k_ed25519_type.size() + 4 + 32 + 4 + 64 + 4 +
                            comment.size() + k_none_block_size);
    const std::uint32_t check = randombytes_random();
    section.put_u32(check);
    section.put_u32(check);
    section.put_string(k_ed25519_type);
    section.put_string(key.public_key);
    section.put_string(key.secret_key);
    section.put_string(comment);
    for (std::uint8_t pad = 1; section.bytes().size() % k_none_block_size != 0; ++pad) {
        section.bytes().push_back(pad);
    }
    SecretBytes section_bytes(std::move(section.bytes()));

    keys::WireWriter file;
    file.bytes().reserve(k_magic.size() + 4 + 4 + 4 + 4 + 4 + 4 + blob.size() + 4 +
                         section_bytes.get().size());
    file.put_raw(k_magic);
    file.put_string(std::string_view("none"));
    file.put_string(std::string_view("none"));
    file.put_string(std::string_view(""));
    file.put_u32(1);
    file.put_string(blob);
    file.put_string(section_bytes.get());
    SecretBytes file_bytes(std::move(file.bytes()));

    SecretText encoded;
    encoded.get() = util::base64_encode(file_bytes.get());

    const std::string& b64 = encoded.get();
    std::string out;
    out.reserve(k_begin.size() + k_end.size() + b64.size() + b64.size() / k_line_width + 4);
    out += k_begin;
    out += '\n';
    for (std::size_t pos = 0; pos < b64.size(); pos += k_line_width) {
        out.append(b64, pos, k_line_width);
        out += '\n';
    }
    out += k_end;
    out += '\n';
    return out;
}

util::Expected<OpenSshPrivateInfo> parse_openssh_private(std::string_view text) {
    auto body = armour_body(text);
    if (!body) {
        return body.error();
    }
    SecretText body_text;
    body_text.get() = std::move(*body);
    auto decoded = util::base64_decode(body_text.get());
    if (!decoded) {
        return util::make_error("is corrupt (invalid base64)");
    }
    SecretBytes bytes(std::move(*decoded));
    auto container = parse_container(bytes.get());
    if (!container) {
        return container.error();
    }
    const auto section = std::span<const std::uint8_t>(bytes.get())
                             .subspan(container->private_offset, container->private_size);
    auto priv = parse_private_section(section, container->key_type);
    if (!priv) {
        return priv.error();
    }
    return OpenSshPrivateInfo{std::move(container->key_type), std::move(container->public_blob)};
}

util::Expected<Ed25519Key> parse_ed25519_private_pem(std::string_view text) {
    auto body = armour_body(text);
    if (!body) {
        return body.error();
    }
    SecretText body_text;
    body_text.get() = std::move(*body);
    auto decoded = util::base64_decode(body_text.get());
    if (!decoded) {
        return util::make_error("is corrupt (invalid base64)");
    }
    SecretBytes bytes(std::move(*decoded));
    auto container = parse_container(bytes.get());
    if (!container) {
        return container.error();
    }
    if (container->key_type != k_ed25519_type) {
        return util::make_error("holds a " + container->key_type + " key, not " +
                                std::string(k_ed25519_type));
    }
    keys::WireReader blob_reader(container->public_blob);
    (void)blob_reader.read_string();
    auto header_pk = blob_reader.read_string();
    if (!header_pk || header_pk->size() != 32 || blob_reader.remaining() != 0) {
        return util::make_error("is corrupt (malformed ed25519 public key)");
    }
    const auto section = std::span<const std::uint8_t>(bytes.get())
                             .subspan(container->private_offset, container->private_size);
    auto priv = parse_private_section(section, container->key_type);
    if (!priv) {
        return priv.error();
    }
    const auto pk = priv->fields.at(0);
    const auto sk = priv->fields.at(1);
    if (pk.size() != 32 || sk.size() != 64) {
        return util::make_error("is corrupt (malformed ed25519 private key)");
    }
    ensure_sodium();
    Ed25519Key key;
    std::array<std::uint8_t, 32> derived_pk{};
    std::array<std::uint8_t, 32> seed{};
    std::copy(sk.begin(), sk.begin() + 32, seed.begin());
    crypto_sign_ed25519_seed_keypair(derived_pk.data(), key.secret_key.data(), seed.data());
    sodium_memzero(seed.data(), seed.size());
    const bool consistent = equal_bytes(derived_pk, pk) && equal_bytes(pk, *header_pk) &&
                            equal_bytes(sk.subspan(32), pk);
    if (!consistent) {
        wipe(key);
        return util::make_error("is corrupt (public and private halves do not match)");
    }
    key.public_key = derived_pk;
    return key;
}

}  // namespace sshboot::hostkeys
