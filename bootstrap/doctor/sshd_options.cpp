#include "doctor/sshd_options.hpp"

#include <map>
#include <optional>
#include <set>

#include "util/parse.hpp"

namespace sshboot::doctor {
namespace {

constexpr int k_max_include_depth = 8;

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = lower(c);
    }
    return out;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

// Splits a config line's arguments on blanks, honouring double quotes.
std::vector<std::string> split_args(std::string_view s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) {
            ++i;
        }
        if (i >= s.size()) {
            break;
        }
        std::string arg;
        if (s[i] == '"') {
            ++i;
            while (i < s.size() && s[i] != '"') {
                arg.push_back(s[i++]);
            }
            ++i;
        } else {
            while (i < s.size() && !is_space(s[i])) {
                arg.push_back(s[i++]);
            }
        }
        out.push_back(std::move(arg));
    }
    return out;
}

std::optional<bool> yes_no(const std::string& value) {
    const auto v = lowercase(value);
    if (v == "yes") {
        return true;
    }
    if (v == "no") {
        return false;
    }
    return std::nullopt;
}

class OptionsReader {
  public:
    explicit OptionsReader(const IncludeResolver& include) : m_include(include) {}

    // Returns false when a Match block starts: nothing after it is read.
    bool read(std::string_view text, int depth) {
        std::size_t start = 0;
        while (start < text.size()) {
            auto end = text.find('\n', start);
            if (end == std::string_view::npos) {
                end = text.size();
            }
            if (!line(text.substr(start, end - start), depth)) {
                return false;
            }
            start = end + 1;
        }
        return true;
    }

    SshdOptions finish() {
        SshdOptions o;
        o.ports = m_ports;
        o.host_keys = m_host_keys;
        auto flag = [&](const char* key, bool& out) {
            if (auto it = m_first.find(key); it != m_first.end() && !it->second.empty()) {
                if (auto b = yes_no(it->second.front())) {
                    out = *b;
                }
            }
        };
        flag("passwordauthentication", o.password_authentication);
        flag("pubkeyauthentication", o.pubkey_authentication);
        flag("usepam", o.use_pam);
        flag("strictmodes", o.strict_modes);
        if (auto it = m_first.find("permitrootlogin"); it != m_first.end() && !it->second.empty()) {
            o.permit_root_login = lowercase(it->second.front());
        }
        if (auto it = m_first.find("authorizedkeysfile"); it != m_first.end()) {
            o.authorized_keys_files.clear();
            for (const auto& f : it->second) {
                if (lowercase(f) != "none") {
                    o.authorized_keys_files.push_back(f);
                }
            }
        }
        return o;
    }

  private:
    bool line(std::string_view raw, int depth) {
        std::size_t i = 0;
        while (i < raw.size() && is_space(raw[i])) {
            ++i;
        }
        raw.remove_prefix(i);
        if (raw.empty() || raw.front() == '#') {
            return true;
        }
        std::size_t k = 0;
        while (k < raw.size() && !is_space(raw[k]) && raw[k] != '=') {
            ++k;
        }
        const std::string keyword = lowercase(raw.substr(0, k));
        std::string_view rest = raw.substr(k);
        while (!rest.empty() && is_space(rest.front())) {
            rest.remove_prefix(1);
        }
        if (!rest.empty() && rest.front() == '=') {
            rest.remove_prefix(1);
        }
        auto args = split_args(rest);
        if (keyword == "match") {
            return false;
        }
        if (keyword == "include") {
            if (m_include && depth < k_max_include_depth) {
                for (const auto& pattern : args) {
                    for (const auto& text : m_include(pattern)) {
                        if (!read(text, depth + 1)) {
                            return false;
                        }
                    }
                }
            }
            return true;
        }
        if (keyword == "port") {
            for (const auto& a : args) {
                if (auto p = util::parse_port(a); p && !m_seen_ports.contains(*p)) {
                    m_seen_ports.insert(*p);
                    m_ports.push_back(*p);
                }
            }
            return true;
        }
        if (keyword == "hostkey") {
            if (!args.empty()) {
                m_host_keys.push_back(args.front());
            }
            return true;
        }
        m_first.try_emplace(keyword, std::move(args));
        return true;
    }

    const IncludeResolver& m_include;
    std::map<std::string, std::vector<std::string>> m_first;
    std::vector<std::uint16_t> m_ports;
    std::set<std::uint16_t> m_seen_ports;
    std::vector<std::string> m_host_keys;
};

}  // namespace

SshdOptions parse_sshd_options(std::string_view text, const IncludeResolver& include) {
    OptionsReader reader(include);
    reader.read(text, 0);
    return reader.finish();
}

std::vector<std::string> default_host_key_paths() {
    return {"/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key",
            "/etc/ssh/ssh_host_ed25519_key"};
}

}  // namespace sshboot::doctor
