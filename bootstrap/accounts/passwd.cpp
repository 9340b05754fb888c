#include "accounts/passwd.hpp"

#include <charconv>
#include <vector>

#include "util/fs.hpp"

namespace sshboot::accounts {
namespace {

template <class T>
std::optional<T> parse_id(std::string_view text) {
    T value{};
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<PasswdEntry> parse_passwd_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        const auto colon = line.find(':', start);
        if (colon == std::string_view::npos) {
            fields.push_back(line.substr(start));
            break;
        }
        fields.push_back(line.substr(start, colon - start));
        start = colon + 1;
    }
    if (fields.size() != 7 || fields[0].empty()) {
        return std::nullopt;
    }
    auto uid = parse_id<uid_t>(fields[2]);
    auto gid = parse_id<gid_t>(fields[3]);
    if (!uid || !gid) {
        return std::nullopt;
    }
    return PasswdEntry{
        std::string(fields[0]), std::string(fields[1]), *uid, *gid, std::string(fields[4]),
        std::string(fields[5]), std::string(fields[6])};
}

std::optional<PasswdEntry> find_user(std::string_view passwd_text, std::string_view name) {
    std::size_t start = 0;
    while (start < passwd_text.size()) {
        auto end = passwd_text.find('\n', start);
        if (end == std::string_view::npos) {
            end = passwd_text.size();
        }
        const auto line = passwd_text.substr(start, end - start);
        if (line.size() > name.size() && line.substr(0, name.size()) == name &&
            line[name.size()] == ':') {
            if (auto entry = parse_passwd_line(line)) {
                return entry;
            }
        }
        start = end + 1;
    }
    return std::nullopt;
}

util::Expected<std::optional<PasswdEntry>> lookup_user(std::string_view name,
                                                       const std::string& passwd_path) {
    auto text = util::read_file(passwd_path);
    if (!text) {
        return text.error();
    }
    return find_user(*text, name);
}

}  // namespace sshboot::accounts
