// libFuzzer target for passwd/shadow line editing: set_shadow_password,
// shadow_password_field, plan_new_user and parse_passwd_line must never
// crash, and the edits must keep every other line byte for byte.
//
// Input: first byte picks the user name from a small list, the rest is the
// file text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "accounts/passwd.hpp"
#include "accounts/shadow.hpp"
#include "accounts/users.hpp"

using namespace sshboot;

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// The text with every line starting "user:" removed.
std::string without_user(std::string_view text, std::string_view user) {
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        const bool last = end == std::string_view::npos;
        if (last) {
            end = text.size();
        }
        const auto line = text.substr(start, end - start);
        const bool mine = line.size() > user.size() && line.substr(0, user.size()) == user &&
                          line[user.size()] == ':';
        if (!mine && !line.empty()) {
            out.append(line);
            out += '\n';
        }
        start = end + 1;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    static const char* const k_users[] = {"root", "bob", "alice", "a", "nobody", "x-y_z"};
    const std::string user = k_users[data[0] % 6];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

    const auto before = accounts::shadow_password_field(text, user);
    auto edited = accounts::set_shadow_password(text, user, "$6$salt$hash", 19000);
    check(edited.has_value());
    const auto after = accounts::shadow_password_field(*edited, user);
    check(after.has_value() && *after == "$6$salt$hash");
    // The first line for the user changed; any later duplicates and every
    // other line are kept.
    if (!before) {
        check(edited->size() > text.size());
    }
    check(without_user(*edited, user) == without_user(text, user));
    auto again = accounts::set_shadow_password(*edited, user, "$6$salt$hash", 19000);
    check(again.has_value() && *again == *edited);

    (void)accounts::parse_passwd_line(text);
    (void)accounts::find_user(text, user);
    accounts::AccountFiles files{std::string(text), std::string(text), std::string(text),
                                 std::string(text)};
    auto plan = accounts::plan_new_user(user, files, "/home", "/bin/sh", 19000);
    if (plan) {
        auto entry = accounts::find_user(plan->files.passwd, user);
        check(entry.has_value() && entry->uid == plan->entry.uid);
        check(plan->files.passwd.compare(0, text.size(), text) == 0);
    }
    return 0;
}
