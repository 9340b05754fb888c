#include "keys/parse.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <optional>
#include <span>
#include <unordered_map>

#include "keys/fingerprint.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"
#include "util/parse.hpp"

namespace sshboot::keys {
namespace {

// ---------------------------------------------------------------- key types

enum class Kind { Ed25519, Rsa, Ecdsa, SkEd25519, SkEcdsa, Dss, Cert };

struct TypeInfo {
    std::string_view name;
    Kind kind;
    std::string_view curve;  // ECDSA curve name inside the blob
    unsigned bits;           // fixed size, 0 when it depends on the key
    std::size_t point_size;  // uncompressed ECDSA point length
};

constexpr std::array<TypeInfo, 18> k_types{{
    {"ssh-ed25519", Kind::Ed25519, "", 256, 0},
    {"ssh-rsa", Kind::Rsa, "", 0, 0},
    {"ecdsa-sha2-nistp256", Kind::Ecdsa, "nistp256", 256, 65},
    {"ecdsa-sha2-nistp384", Kind::Ecdsa, "nistp384", 384, 97},
    {"ecdsa-sha2-nistp521", Kind::Ecdsa, "nistp521", 521, 133},
    {"sk-ssh-ed25519@openssh.com", Kind::SkEd25519, "", 256, 0},
    {"sk-ecdsa-sha2-nistp256@openssh.com", Kind::SkEcdsa, "nistp256", 256, 65},
    {"ssh-dss", Kind::Dss, "", 0, 0},
    {"ssh-ed25519-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"ssh-rsa-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"ssh-dss-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"ecdsa-sha2-nistp256-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"ecdsa-sha2-nistp384-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"ecdsa-sha2-nistp521-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"sk-ssh-ed25519-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"rsa-sha2-256-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
    {"rsa-sha2-512-cert-v01@openssh.com", Kind::Cert, "", 0, 0},
}};

const TypeInfo* find_type(std::string_view name) {
    for (const auto& t : k_types) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

// The base64 text every blob of a type starts with: the full base64 groups of
// its length-prefixed type name.
const std::array<std::string, k_types.size()>& blob_prefixes() {
    static const auto prefixes = [] {
        std::array<std::string, k_types.size()> out;
        for (std::size_t i = 0; i < k_types.size(); ++i) {
            WireWriter w;
            w.put_string(k_types[i].name);
            std::vector<std::uint8_t> bytes = w.bytes();
            bytes.resize(bytes.size() / 3 * 3);
            out[i] = util::base64_encode(bytes);
        }
        return out;
    }();
    return prefixes;
}

// The index of the type whose blob prefix `text` starts with.
std::optional<std::size_t> blob_prefix_type(std::string_view text) {
    if (text.substr(0, 4) != "AAAA") {
        return std::nullopt;
    }
    const auto& prefixes = blob_prefixes();
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        if (text.starts_with(prefixes[i])) {
            return i;
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- text helpers

constexpr std::string_view k_blank = " \t";

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

bool is_b64(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(k_blank);
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(k_blank);
    return s.substr(b, e - b + 1);
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    std::size_t pos = 0;
    while (true) {
        const auto hit = s.find(from, pos);
        if (hit == std::string::npos) {
            break;
        }
        out.append(s, pos, hit - pos);
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s, pos);
    s = std::move(out);
}

// A short, printable quote of pasted text for messages.
std::string excerpt(std::string_view s, std::size_t max = 40) {
    return util::printable(s, max);
}

bool is_null_word(std::string_view s) {
    return iequals(s, "null") || iequals(s, "none") || iequals(s, "undefined") || iequals(s, "nil");
}

bool is_quote(char c) {
    return c == '"' || c == '\'';
}

// ---------------------------------------------------------------- options

constexpr std::array<std::string_view, 14> k_flag_options{"agent-forwarding",
                                                          "cert-authority",
                                                          "no-agent-forwarding",
                                                          "no-port-forwarding",
                                                          "no-pty",
                                                          "no-user-rc",
                                                          "no-x11-forwarding",
                                                          "port-forwarding",
                                                          "pty",
                                                          "user-rc",
                                                          "x11-forwarding",
                                                          "restrict",
                                                          "no-touch-required",
                                                          "verify-required"};
constexpr std::array<std::string_view, 8> k_value_options{
    "command",      "environment", "expiry-time", "from",
    "permitlisten", "permitopen",  "principals",  "tunnel"};

bool is_option_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks an options list the way sshd reads one: name or name="value", with
// \" inside quotes, separated by commas. Returns an error phrase, or nothing.
std::optional<std::string> check_options(std::string_view opts) {
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        while (i < opts.size() && is_option_name_char(opts[i])) {
            ++i;
        }
        const std::string_view name = opts.substr(start, i - start);
        if (name.empty()) {
            return std::string("expected an option name");
        }
        const bool is_flag = std::any_of(k_flag_options.begin(), k_flag_options.end(),
                                         [&](std::string_view n) { return iequals(n, name); });
        const bool takes_value = std::any_of(k_value_options.begin(), k_value_options.end(),
                                             [&](std::string_view n) { return iequals(n, name); });
        if (!is_flag && !takes_value) {
            return "unknown option \"" + excerpt(name, 24) + "\"";
        }
        if (i < opts.size() && opts[i] == '=') {
            if (!takes_value) {
                return "option " + std::string(name) + " takes no value";
            }
            ++i;
            if (i >= opts.size() || opts[i] != '"') {
                return "the value of " + std::string(name) + " must be in double quotes";
            }
            ++i;
            bool closed = false;
            while (i < opts.size()) {
                if (opts[i] == '\\' && i + 1 < opts.size() && opts[i + 1] == '"') {
                    i += 2;
                    continue;
                }
                if (opts[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                ++i;
            }
            if (!closed) {
                return "unbalanced quote in the value of " + std::string(name);
            }
        } else if (takes_value) {
            return "option " + std::string(name) + " needs a value (" + std::string(name) +
                   "=\"...\")";
        }
        if (i == opts.size()) {
            return std::nullopt;
        }
        if (opts[i] != ',') {
            return std::string("unexpected text after an option");
        }
        ++i;
    }
}

// Splits text into blank-separated tokens, double quotes protecting blanks.
// nullopt when a quote is left open.
std::optional<std::vector<std::string_view>> quoted_tokens(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_blank(s[i])) {
            ++i;
        }
        if (i == s.size()) {
            break;
        }
        const std::size_t start = i;
        bool quoted = false;
        while (i < s.size() && (quoted || !is_blank(s[i]))) {
            if (quoted && s[i] == '\\' && i + 1 < s.size()) {
                i += 2;
                continue;
            }
            if (s[i] == '"') {
                quoted = !quoted;
            }
            ++i;
        }
        if (quoted) {
            return std::nullopt;
        }
        out.push_back(s.substr(start, i - start));
    }
    return out;
}

// ---------------------------------------------------------------- anchors

// Where a key starts on a line: a type name followed by a blob, or a bare blob
// whose type name was left off.
struct Anchor {
    std::size_t start;       // first character of the type name or blob
    std::size_t blob_begin;  // first character of the base64
    const TypeInfo* named;   // the type name written on the line; null when bare
};

std::optional<Anchor> match_named(std::string_view line, std::size_t i) {
    const char c = line[i];
    if (c != 's' && c != 'e' && c != 'r') {
        return std::nullopt;
    }
    std::optional<Anchor> best;
    for (const auto& t : k_types) {
        if (line.compare(i, t.name.size(), t.name) != 0) {
            continue;
        }
        if (best && best->named->name.size() >= t.name.size()) {
            continue;
        }
        std::size_t j = i + t.name.size();
        while (j < line.size() && is_blank(line[j])) {
            ++j;
        }
        if (blob_prefix_type(line.substr(j))) {
            best = Anchor{i, j, &t};
        }
    }
    return best;
}

// All key starts on a line, left to right. Until the first key start and the
// first blank, double quotes protect their contents, as in an options list.
std::vector<Anchor> find_anchors(std::string_view line, bool options_region = true) {
    std::vector<Anchor> out;
    bool region = options_region;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (region) {
            if (quoted) {
                if (c == '\\') {
                    ++i;
                } else if (c == '"') {
                    quoted = false;
                }
                continue;
            }
            if (c == '"') {
                quoted = true;
                continue;
            }
            if (is_blank(c)) {
                region = false;
                continue;
            }
        }
        std::optional<Anchor> a = match_named(line, i);
        if (!a && c == 'A' && (i == 0 || is_blank(line[i - 1])) &&
            blob_prefix_type(line.substr(i))) {
            a = Anchor{i, i, nullptr};
        }
        if (a) {
            out.push_back(*a);
            region = false;
            // Skip over the type name and the fixed blob prefix: no key can
            // start inside them.
            i = a->blob_begin + 3;
        }
    }
    return out;
}

// ---------------------------------------------------------------- blobs

struct BlobCheck {
    const TypeInfo* type = nullptr;
    unsigned bits = 0;
    std::string error;  // empty when the blob is a well-formed key
};

unsigned mpint_bits(std::span<const std::uint8_t> m) {
    std::size_t i = 0;
    while (i < m.size() && m[i] == 0) {
        ++i;
    }
    if (i == m.size()) {
        return 0;
    }
    return static_cast<unsigned>((m.size() - i - 1) * 8) +
           static_cast<unsigned>(std::bit_width(static_cast<unsigned>(m[i])));
}

bool valid_mpint(std::optional<std::span<const std::uint8_t>> m) {
    // Positive, and non-zero.
    return m && !m->empty() && ((*m)[0] & 0x80) == 0 && mpint_bits(*m) > 0;
}

BlobCheck check_blob(std::span<const std::uint8_t> blob) {
    BlobCheck out;
    WireReader r(blob);
    const auto name = r.read_string_text();
    if (!name) {
        out.error = "the key data is cut short";
        return out;
    }
    out.type = find_type(*name);
    if (!out.type) {
        out.error = "the key data is of an unknown type";
        return out;
    }
    const TypeInfo& t = *out.type;
    out.bits = t.bits;
    bool ok = true;
    switch (t.kind) {
        case Kind::Ed25519:
        case Kind::SkEd25519: {
            const auto key = r.read_string();
            ok = key && key->size() == 32;
            if (ok && t.kind == Kind::SkEd25519) {
                ok = r.read_string().has_value();
            }
            break;
        }
        case Kind::Ecdsa:
        case Kind::SkEcdsa: {
            const auto curve = r.read_string_text();
            const auto point = r.read_string();
            ok = curve && *curve == t.curve && point && point->size() == t.point_size &&
                 (*point)[0] == 0x04;
            if (ok && t.kind == Kind::SkEcdsa) {
                ok = r.read_string().has_value();
            }
            break;
        }
        case Kind::Rsa: {
            const auto e = r.read_string();
            const auto n = r.read_string();
            ok = valid_mpint(e) && valid_mpint(n);
            if (ok) {
                out.bits = mpint_bits(*n);
            }
            break;
        }
        case Kind::Dss: {
            const auto p = r.read_string();
            const auto q = r.read_string();
            const auto g = r.read_string();
            const auto y = r.read_string();
            ok = valid_mpint(p) && valid_mpint(q) && valid_mpint(g) && valid_mpint(y);
            if (ok) {
                out.bits = mpint_bits(*p);
            }
            break;
        }
        case Kind::Cert:
            return out;
    }
    if (!ok) {
        out.error = "the " + std::string(t.name) + " key data is malformed";
    } else if (r.remaining() != 0) {
        out.error = "the " + std::string(t.name) + " key data has extra bytes at its end";
    }
    return out;
}

// ---------------------------------------------------------------- messages

constexpr std::string_view k_paste_this =
    "paste the contents of ~/.ssh/id_ed25519.pub (one line starting with ssh-ed25519)";

bool is_fingerprint_token(std::string_view tok) {
    auto b64_tail = [](std::string_view s) {
        return s.size() >= 20 && std::all_of(s.begin(), s.end(), is_b64);
    };
    for (std::string_view p : {"SHA256:", "SHA384:", "SHA512:", "SHA1:"}) {
        if (tok.size() > p.size() && iequals(tok.substr(0, p.size()), p) &&
            b64_tail(tok.substr(p.size()))) {
            return true;
        }
    }
    if (tok.size() > 4 && iequals(tok.substr(0, 4), "MD5:")) {
        tok.remove_prefix(4);
    }
    // aa:bb:... with 16 or more hex pairs.
    if (tok.size() < 47 || tok.size() % 3 != 2) {
        return false;
    }
    for (std::size_t i = 0; i < tok.size(); ++i) {
        const char c = tok[i];
        if (i % 3 == 2) {
            if (c != ':') {
                return false;
            }
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

// "SSH_PUBLIC_KEY line 3: " / "SSH_PUBLIC_KEY: " / "line 3: " / "".
struct Where {
    std::string_view source;
    bool multiline = false;

    std::string at(std::size_t line_no) const {
        std::string out(source);
        if (multiline) {
            if (!out.empty()) {
                out += ' ';
            }
            out += "line " + std::to_string(line_no);
        }
        if (!out.empty()) {
            out += ": ";
        }
        return out;
    }
};

std::string private_key_message(const std::string& where) {
    return where +
           "a private key was pasted; it was NOT used or stored. Paste the public key instead "
           "(the .pub file, e.g. ~/.ssh/id_ed25519.pub, one line starting with ssh-ed25519), and "
           "consider that private key exposed: make a new one with ssh-keygen -t ed25519";
}

std::string putty_private_message(const std::string& where) {
    return where +
           "a PuTTY private key (.ppk) was pasted; it was NOT used or stored. In PuTTYgen, load "
           "the key and copy the box \"Public key for pasting into OpenSSH authorized_keys "
           "file\"; consider that private key exposed";
}

std::string null_message(const std::string& where, std::string_view word) {
    return where + "the value is the literal \"" + excerpt(word, 12) +
           "\", not a key: the variable is set but empty of keys; " + std::string(k_paste_this) +
           ", or unset it";
}

std::string dsa_message(const std::string& where) {
    return where +
           "ssh-dss (DSA) keys are no longer accepted by OpenSSH; make a new key with "
           "ssh-keygen -t ed25519 and paste its .pub file";
}

std::string cert_message(const std::string& where, std::string_view type) {
    return where + "that is an SSH certificate (" + std::string(type) +
           "), not a plain public key; paste the key it certifies (the .pub file without -cert)";
}

// ---------------------------------------------------------------- private blocks

constexpr std::string_view k_private_marker = "PRIVATE KEY";

// Where a "BEGIN ... PRIVATE KEY" marker starts on a line (its leading dashes
// included), if there is one.
std::optional<std::size_t> private_begin(std::string_view line) {
    std::size_t pos = line.find(k_private_marker);
    while (pos != std::string_view::npos) {
        const auto b = line.rfind("BEGIN", pos);
        if (b != std::string_view::npos) {
            std::size_t s = b;
            while (s > 0 && line[s - 1] == '-') {
                --s;
            }
            return s;
        }
        pos = line.find(k_private_marker, pos + 1);
    }
    return std::nullopt;
}

// What a line that is no key looks like, never quoting it: the line may come
// from any file SSH_PUBLIC_KEY_FILE names (/etc/shadow, a private key, a
// credentials file).
std::string looks_like(std::string_view t) {
    if (private_begin(t) || contains(t, "PRIVATE KEY")) {
        return "looks like a private key";
    }
    if (t.starts_with("-----BEGIN") || t.starts_with("-----END")) {
        return "looks like a PEM block (a certificate or key), not an OpenSSH public key";
    }
    const auto colons = std::count(t.begin(), t.end(), ':');
    const auto first_colon = t.find(':');
    if (colons >= 6 && first_colon != std::string_view::npos && first_colon > 0 &&
        std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(first_colon),
                    [](unsigned char c) {
                        return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.' || c == '$';
                    })) {
        return "looks like a passwd/shadow line";
    }
    if (t.starts_with("$") && std::count(t.begin(), t.end(), '$') >= 3) {
        return "looks like a password hash";
    }
    if (contains(t, "://")) {
        return "looks like a URL";
    }
    if (t.starts_with("{") || t.starts_with("[")) {
        return "looks like JSON or an INI section";
    }
    if (const auto eq = t.find('=');
        eq != std::string_view::npos && eq > 0 &&
        std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(eq), [](unsigned char c) {
            return std::isalnum(c) != 0 || c == '_' || c == ' ' || c == '-' || c == '.';
        })) {
        return "looks like a name=value setting";
    }
    if (const auto colon = t.find(": "); colon != std::string_view::npos && colon > 0) {
        return "looks like a header or a YAML line";
    }
    return "looks like text";
}

// "line 3 (57 bytes) looks like a passwd/shadow line".
std::string non_key_line(std::string_view t, std::size_t line_no) {
    return "line " + std::to_string(line_no) + " (" + std::to_string(t.size()) + " bytes) " +
           looks_like(t);
}

// One past an "END ... PRIVATE KEY-----" marker at or after `from`.
std::optional<std::size_t> private_end(std::string_view line, std::size_t from) {
    std::size_t pos = line.find(k_private_marker, from);
    while (pos != std::string_view::npos) {
        const auto e = line.rfind("END", pos);
        if (e != std::string_view::npos && e >= from) {
            std::size_t end = pos + k_private_marker.size();
            while (end < line.size() && line[end] == '-') {
                ++end;
            }
            return end;
        }
        pos = line.find(k_private_marker, pos + 1);
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- the parser

class Parser {
  public:
    Parser(std::string_view source) { m_where.source = source; }

    ParseResult run(std::string_view input);

  private:
    void parse_line(std::string_view raw, std::size_t line_no);
    void parse_anchored(std::string_view t, const std::vector<Anchor>& anchors, std::size_t line_no,
                        const std::vector<std::string>& line_repairs);
    void refuse_unanchored(std::string_view t, std::size_t line_no);
    std::size_t parse_rfc4716(const std::vector<std::string_view>& lines, std::size_t i);
    void add_key(PublicKey key);
    void refuse(RefusalKind kind, std::string message) {
        m_result.refusals.push_back(Refusal{kind, std::move(message)});
    }

    Where m_where;
    ParseResult m_result;
    std::vector<std::string> m_global_repairs;
    std::unordered_map<std::string, std::size_t> m_seen;  // blob bytes -> index in keys
    std::size_t m_last_base64_junk = 0;                   // line number of the last such refusal
};

ParseResult Parser::run(std::string_view input) {
    std::string text(input);
    if (contains(text, "\\n")) {
        replace_all(text, "\\r\\n", "\n");
        replace_all(text, "\\n", "\n");
        m_global_repairs.emplace_back("turned literal \\n sequences into line breaks");
    }
    if (contains(text, "\r")) {
        replace_all(text, "\r\n", "\n");
        replace_all(text, "\r", "\n");
        m_global_repairs.emplace_back("removed Windows line endings (CRLF)");
    }
    auto strip_outer = [](std::string_view s) {
        const auto b = s.find_first_not_of(" \t\n");
        if (b == std::string_view::npos) {
            return std::string_view{};
        }
        return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
    };
    std::string_view value = strip_outer(text);
    if (value.empty()) {
        return std::move(m_result);
    }
    if (value.size() >= 2 && is_quote(value.front()) && value.back() == value.front()) {
        value = strip_outer(value.substr(1, value.size() - 2));
        m_global_repairs.emplace_back("removed surrounding quotes");
        if (value.empty()) {
            return std::move(m_result);
        }
    }
    if (is_null_word(value)) {
        refuse(RefusalKind::Null, null_message(m_where.at(1), value));
        return std::move(m_result);
    }

    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos <= value.size();) {
        const auto nl = value.find('\n', pos);
        const auto end = nl == std::string_view::npos ? value.size() : nl;
        lines.push_back(value.substr(pos, end - pos));
        pos = end + 1;
    }
    m_where.multiline = lines.size() > 1;

    std::size_t i = 0;
    while (i < lines.size()) {
        std::string_view line = lines[i];
        const std::size_t line_no = i + 1;

        // A private key, possibly starting mid-line: everything before it is
        // still parsed; everything from its BEGIN through its END is dropped.
        if (const auto begin = private_begin(line)) {
            parse_line(line.substr(0, *begin), line_no);
            refuse(RefusalKind::PrivateKey, private_key_message(m_where.at(line_no)));
            std::size_t j = i;
            std::size_t from = line.find(k_private_marker, *begin) + k_private_marker.size();
            std::optional<std::size_t> end;
            while (j < lines.size()) {
                end = private_end(lines[j], std::min(from, lines[j].size()));
                if (end) {
                    break;
                }
                ++j;
                from = 0;
            }
            if (!end) {
                break;
            }
            // Parse what follows the END marker on its line.
            lines[j] = lines[j].substr(*end);
            i = j;
            continue;
        }

        const std::string_view t = trim(line);
        if (t.starts_with("PuTTY-User-Key-File-")) {
            refuse(RefusalKind::PuttyPrivate, putty_private_message(m_where.at(line_no)));
            std::size_t j = i + 1;
            while (j < lines.size()) {
                const std::string_view l = trim(lines[j]);
                ++j;
                if (l.starts_with("Private-MAC:") || l.starts_with("Private-Hash:")) {
                    break;
                }
            }
            i = j;
            continue;
        }
        if (t.starts_with("----") && contains(t, "BEGIN SSH2 PUBLIC KEY")) {
            i = parse_rfc4716(lines, i);
            continue;
        }
        parse_line(line, line_no);
        ++i;
    }
    return std::move(m_result);
}

void Parser::parse_line(std::string_view raw, std::size_t line_no) {
    std::string_view t = trim(raw);
    if (t.empty() || t.front() == '#') {
        return;
    }
    std::vector<std::string> repairs;
    if (t.size() != raw.size()) {
        repairs.emplace_back("removed leading or trailing whitespace");
    }
    if (t.size() >= 2 && is_quote(t.front()) && t.back() == t.front()) {
        t = trim(t.substr(1, t.size() - 2));
        repairs.emplace_back("removed surrounding quotes");
    } else if (t.size() >= 2 && is_quote(t.front()) && !find_anchors(t.substr(1)).empty() &&
               find_anchors(t.substr(1)).front().start == 0) {
        t = trim(t.substr(1));
        repairs.emplace_back("removed surrounding quotes");
    }
    if (t.empty()) {
        return;
    }
    if (is_null_word(t)) {
        refuse(RefusalKind::Null, null_message(m_where.at(line_no), t));
        return;
    }
    const std::vector<Anchor> anchors = find_anchors(t);
    if (anchors.empty()) {
        refuse_unanchored(t, line_no);
        return;
    }
    if (anchors.size() > 1) {
        repairs.emplace_back("split keys that were run together on one line");
    }
    parse_anchored(t, anchors, line_no, repairs);
}

void Parser::parse_anchored(std::string_view t, const std::vector<Anchor>& anchors,
                            std::size_t line_no, const std::vector<std::string>& line_repairs) {
    const std::string where = m_where.at(line_no);
    std::string_view options = trim(t.substr(0, anchors[0].start));
    for (std::size_t k = 0; k < anchors.size(); ++k) {
        const Anchor& a = anchors[k];
        const std::size_t limit = k + 1 < anchors.size() ? anchors[k + 1].start : t.size();
        std::size_t run_end = a.blob_begin;
        while (run_end < limit && is_b64(t[run_end])) {
            ++run_end;
        }
        const std::string_view b64 = t.substr(a.blob_begin, run_end - a.blob_begin);
        std::string_view between = trim(t.substr(run_end, limit - run_end));
        std::string_view comment = between;
        std::string_view next_options;
        if (k + 1 < anchors.size()) {
            // The last word before the next key may be that key's options.
            if (const auto toks = quoted_tokens(between);
                toks && !toks->empty() && !check_options(toks->back())) {
                next_options = toks->back();
                comment = trim(between.substr(
                    0, static_cast<std::size_t>(toks->back().data() - between.data())));
            }
        }
        const std::string_view my_options = options;
        options = next_options;

        const std::string_view written = a.named ? a.named->name : std::string_view{};
        const auto blob = util::base64_decode(b64);
        if (!blob) {
            refuse(RefusalKind::Unparseable,
                   where + "the " + std::string(a.named ? written : "key") + " key \"" +
                       excerpt(b64, 20) +
                       "\" is damaged or cut short (its base64 does not decode); copy the whole "
                       "line of the .pub file again");
            continue;
        }
        const BlobCheck check = check_blob(*blob);
        const std::string_view inside = check.type ? check.type->name : std::string_view{};
        if (a.named && inside != written) {
            refuse(RefusalKind::TypeMismatch,
                   where + "the line says " + std::string(written) +
                       " but the key data inside is " +
                       (inside.empty() ? std::string("of another type") : std::string(inside)) +
                       "; copy the whole line of the .pub file again");
            continue;
        }
        if (!my_options.empty()) {
            if (const auto err = check_options(my_options)) {
                const bool looks_like_type =
                    !a.named && k == 0 && !contains(my_options, "=") &&
                    !contains(my_options, " ") &&
                    (contains(my_options, "ssh") || contains(my_options, "rsa") ||
                     contains(my_options, "ecdsa") || contains(my_options, "ed25519"));
                if (looks_like_type) {
                    refuse(RefusalKind::TypeMismatch,
                           where + "the line says " + excerpt(my_options, 40) +
                               " but the key data inside is " + std::string(inside) + "; write " +
                               std::string(inside) + " before the base64");
                } else {
                    refuse(RefusalKind::BadOptions,
                           where + "the text before the key (\"" + excerpt(my_options) +
                               "\") is not a valid authorized_keys options list (" + *err +
                               "); remove it or fix it, e.g. restrict,command=\"...\"");
                }
                continue;
            }
        }
        if (!check.error.empty()) {
            refuse(RefusalKind::Unparseable, where + check.error + " (\"" + excerpt(b64, 20) +
                                                 "\"); copy the whole line of the .pub file again");
            continue;
        }
        switch (check.type->kind) {
            case Kind::Dss:
                refuse(RefusalKind::Dsa, dsa_message(where));
                continue;
            case Kind::Cert:
                refuse(RefusalKind::Unparseable, cert_message(where, inside));
                continue;
            case Kind::Rsa:
                if (check.bits < 1024) {
                    refuse(RefusalKind::RsaTooShort,
                           where + "this RSA key has " + std::to_string(check.bits) +
                               " bits; OpenSSH refuses RSA keys under 1024 bits. Make a new key "
                               "with ssh-keygen -t ed25519 and paste its .pub file");
                    continue;
                }
                break;
            default:
                break;
        }

        PublicKey key;
        key.options = std::string(my_options);
        key.type = std::string(inside);
        key.blob = *blob;
        key.base64 = util::base64_encode(key.blob);
        key.comment = std::string(comment);
        key.bits = check.bits;
        key.repairs = line_repairs;
        if (!a.named) {
            key.repairs.push_back("added the missing " + key.type + " prefix");
        }
        if (check.type->kind == Kind::Rsa && check.bits < 2048) {
            key.warnings.push_back("this RSA key has only " + std::to_string(check.bits) +
                                   " bits (under 2048 is weak); consider ssh-keygen -t ed25519");
        }
        add_key(std::move(key));
    }
}

void Parser::refuse_unanchored(std::string_view t, std::size_t line_no) {
    const std::string where = m_where.at(line_no);
    const auto toks = quoted_tokens(t);
    std::vector<std::string_view> words;
    if (toks) {
        words = *toks;
    } else {
        for (std::size_t i = 0; i < t.size();) {
            while (i < t.size() && is_blank(t[i])) {
                ++i;
            }
            const std::size_t s = i;
            while (i < t.size() && !is_blank(t[i])) {
                ++i;
            }
            if (i > s) {
                words.push_back(t.substr(s, i - s));
            }
        }
    }
    for (const auto w : words) {
        if (is_fingerprint_token(w)) {
            refuse(RefusalKind::Fingerprint, where + "that is a key fingerprint (\"" +
                                                 excerpt(w, 24) + "\"), not the key; " +
                                                 std::string(k_paste_this));
            return;
        }
    }
    if (contains(t, "b3BlbnNzaC1rZXktdjE")) {  // base64 of "openssh-key-v1"
        refuse(RefusalKind::PrivateKey, private_key_message(where));
        m_last_base64_junk = line_no;  // the rest of its body needs no second message
        return;
    }
    if (!toks) {
        refuse(RefusalKind::BadOptions, where +
                                            "not an SSH public key: " + non_key_line(t, line_no) +
                                            " and has an unbalanced double quote (its text is "
                                            "not shown); an authorized_keys line is [options] "
                                            "type base64 [comment]");
        return;
    }
    // A known type name with nothing usable after it.
    for (const auto w : words) {
        if (const TypeInfo* type = find_type(w)) {
            refuse(RefusalKind::Unparseable,
                   where + "the " + std::string(type->name) +
                       " key's base64 text is missing, damaged or cut short; copy the whole line "
                       "of the .pub file again");
            return;
        }
    }
    if (t.size() >= 16 && std::all_of(t.begin(), t.end(), is_b64)) {
        // Base64 that is no public key may be part of a private key: never
        // quote it, and report a run of such lines once.
        if (m_last_base64_junk + 1 != line_no || m_last_base64_junk == 0) {
            refuse(RefusalKind::Unparseable,
                   where +
                       "base64 text that is not an SSH public key (it was not used or "
                       "stored); " +
                       std::string(k_paste_this));
        }
        m_last_base64_junk = line_no;
        return;
    }
    refuse(RefusalKind::Unparseable, where + "not an SSH public key: " + non_key_line(t, line_no) +
                                         " (its text is not shown); " + std::string(k_paste_this));
}

// Parses an RFC 4716 block (what PuTTYgen saves and ssh-keygen -e prints)
// starting at lines[i]. Returns the index of the first line after it.
std::size_t Parser::parse_rfc4716(const std::vector<std::string_view>& lines, std::size_t i) {
    const std::size_t line_no = i + 1;
    const std::string where = m_where.at(line_no);
    std::string comment;
    std::string b64;
    std::string header;
    bool continuing = false;
    bool in_headers = true;
    bool ended = false;
    auto finish_header = [&] {
        const auto colon = header.find(':');
        if (colon != std::string::npos && iequals(header.substr(0, colon), "Comment")) {
            std::string_view v = trim(std::string_view(header).substr(colon + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                v = v.substr(1, v.size() - 2);
            }
            comment = std::string(trim(v));
        }
        header.clear();
    };
    std::size_t j = i + 1;
    for (; j < lines.size(); ++j) {
        std::string_view l = trim(lines[j]);
        if (l.starts_with("----") && contains(l, "END SSH2 PUBLIC KEY")) {
            ended = true;
            ++j;
            break;
        }
        if (continuing) {
            continuing = l.ends_with('\\');
            header.append(continuing ? l.substr(0, l.size() - 1) : l);
            if (!continuing) {
                finish_header();
            }
            continue;
        }
        const auto colon = l.find(':');
        if (in_headers && colon != std::string_view::npos && colon > 0 &&
            std::all_of(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(colon),
                        is_option_name_char)) {
            continuing = l.ends_with('\\');
            header.assign(continuing ? l.substr(0, l.size() - 1) : l);
            if (!continuing) {
                finish_header();
            }
            continue;
        }
        if (l.empty()) {
            continue;
        }
        if (std::all_of(l.begin(), l.end(), is_b64)) {
            in_headers = false;
            b64.append(l);
            continue;
        }
        break;
    }
    (void)ended;

    const auto blob = util::base64_decode(b64);
    const BlobCheck check = blob ? check_blob(*blob) : BlobCheck{};
    if (!blob || !check.type || !check.error.empty()) {
        refuse(RefusalKind::Unparseable,
               where +
                   "the \"---- BEGIN SSH2 PUBLIC KEY ----\" block does not hold a complete "
                   "public key; copy the whole block again, or " +
                   std::string(k_paste_this));
        return j;
    }
    switch (check.type->kind) {
        case Kind::Dss:
            refuse(RefusalKind::Dsa, dsa_message(where));
            return j;
        case Kind::Cert:
            refuse(RefusalKind::Unparseable, cert_message(where, check.type->name));
            return j;
        case Kind::Rsa:
            if (check.bits < 1024) {
                refuse(RefusalKind::RsaTooShort,
                       where + "this RSA key has " + std::to_string(check.bits) +
                           " bits; OpenSSH refuses RSA keys under 1024 bits. Make a new key with "
                           "ssh-keygen -t ed25519 and paste its .pub file");
                return j;
            }
            break;
        default:
            break;
    }
    // A comment that would read back as something else on a key line is dropped.
    if (!find_anchors(comment, false).empty() || private_begin(comment)) {
        comment.clear();
    }
    PublicKey key;
    key.type = std::string(check.type->name);
    key.blob = *blob;
    key.base64 = util::base64_encode(key.blob);
    key.comment = comment;
    key.bits = check.bits;
    key.repairs.emplace_back("converted an RFC 4716 / PuTTY public key block");
    if (check.type->kind == Kind::Rsa && check.bits < 2048) {
        key.warnings.push_back("this RSA key has only " + std::to_string(check.bits) +
                               " bits (under 2048 is weak); consider ssh-keygen -t ed25519");
    }
    add_key(std::move(key));
    return j;
}

void Parser::add_key(PublicKey key) {
    std::string id(key.blob.begin(), key.blob.end());
    const auto [it, inserted] = m_seen.emplace(std::move(id), m_result.keys.size());
    if (!inserted) {
        auto& first = m_result.keys[it->second].repairs;
        const std::string phrase = "removed a duplicate of this key";
        if (std::find(first.begin(), first.end(), phrase) == first.end()) {
            first.push_back(phrase);
        }
        return;
    }
    key.repairs.insert(key.repairs.begin(), m_global_repairs.begin(), m_global_repairs.end());
    m_result.keys.push_back(std::move(key));
}

}  // namespace

std::string PublicKey::line() const {
    std::string out;
    out.reserve(options.size() + type.size() + base64.size() + comment.size() + 3);
    if (!options.empty()) {
        out += options;
        out += ' ';
    }
    out += type;
    out += ' ';
    out += base64;
    if (!comment.empty()) {
        out += ' ';
        out += comment;
    }
    return out;
}

std::string PublicKey::fingerprint() const {
    return fingerprint_sha256(blob);
}

ParseResult parse_keys(std::string_view text, std::string_view source) {
    return Parser(source).run(text);
}

}  // namespace sshboot::keys
